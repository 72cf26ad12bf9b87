import { describe, expect, test } from "bun:test";
import { buildWidget } from "./build.ts";
import { catalog } from "./catalog.ts";

describe("widget bundle", () => {
  test("builds to at most 30 KB gzipped, with no HTML built from strings", async () => {
    const js = await buildWidget();
    expect(Bun.gzipSync(js).length).toBeLessThanOrEqual(30 * 1024);
    // Server data is only ever set as text; any of these would be a path to injecting markup.
    expect(js).not.toMatch(/innerHTML\s*=|outerHTML\s*=|insertAdjacentHTML|document\.write/);
  });

  test("every locale has the same message keys", () => {
    const [first, ...rest] = Object.values(catalog).map((messages) => Object.keys(messages).sort());
    for (const keys of rest) expect(keys).toEqual(first ?? []);
  });
});
