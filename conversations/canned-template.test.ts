import { describe, expect, it } from "bun:test";
import { renderTemplate, SHORTCUT_PATTERN } from "./canned-template.ts";

describe("renderTemplate", () => {
  it("fills placeholders with or without spaces inside the braces, dotted names included", () => {
    expect(renderTemplate("Hi {{ name }}, this is {{agent.name}}.", { name: "Li Lei", "agent.name": "Ann" })).toBe(
      "Hi Li Lei, this is Ann.",
    );
    expect(
      renderTemplate("您好，{{contact.name}}！您的订单{{  order  }}已发货。", {
        "contact.name": "王伟",
        order: "#1024",
      }),
    ).toBe("您好，王伟！您的订单#1024已发货。");
  });

  it("leaves nothing where a value is missing, null or undefined", () => {
    expect(renderTemplate("Hi {{ name }}!", {})).toBe("Hi !");
    expect(renderTemplate("Hi {{name}}{{ title }}!", { name: null, title: undefined })).toBe("Hi !");
  });

  it("keeps every other character as written, including lone braces and what only looks like a placeholder", () => {
    const text = "Price: {5} or {{ not a name }} or {{}} or { {name} } — $& $1 \\n";
    expect(renderTemplate(text, { name: "x" })).toBe(text);
    expect(renderTemplate("no placeholders at all", { name: "x" })).toBe("no placeholders at all");
  });

  it("inserts values literally, never as replacement patterns or nested placeholders", () => {
    expect(renderTemplate("{{a}}", { a: "$& $1 {{b}}", b: "B" })).toBe("$& $1 {{b}}");
  });

  it("does not read names off Object's prototype", () => {
    expect(renderTemplate("[{{constructor}}][{{ toString }}][{{__proto__}}]", {})).toBe("[][][]");
  });
});

describe("shortcut pattern", () => {
  it("takes letters and digits of any script, _ and -, 1 to 50 of them", () => {
    for (const ok of ["refund", "退款", "退款-2", "order_status", "x", "a".repeat(50), "Ünïcode"])
      expect(SHORTCUT_PATTERN.test(ok)).toBe(true);
    for (const bad of ["", "a".repeat(51), "with space", "slash/", "/refund", "emoji😀"])
      expect(SHORTCUT_PATTERN.test(bad)).toBe(false);
  });
});
