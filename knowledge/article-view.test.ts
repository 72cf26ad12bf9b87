import { describe, expect, it } from "bun:test";
import type { Article } from "../db/schema/index.ts";
import { articleView } from "./article.ts";

describe("an article as the API shows it", () => {
  it("serves a stored row from before the URL check without its script: no javascript: link, no event handler", () => {
    const legacy = {
      id: crypto.randomUUID(),
      title: "Refunds",
      body: "[x](&#106;avascript:alert(1))",
      bodyHtml: '<p><a href="javascript:alert(1)">x</a><img src="x" onerror="alert(2)"><b>kept</b></p>',
      searchVector: "'refund':1",
    } as unknown as Article;
    const view = articleView(legacy);
    expect(view.bodyHtml).not.toMatch(/javascript:/i);
    expect(view.bodyHtml).not.toMatch(/onerror/i);
    expect(view.bodyHtml).toContain("kept");
    expect("searchVector" in view).toBe(false);
  });
});
