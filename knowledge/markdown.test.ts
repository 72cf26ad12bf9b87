import { expect, it } from "bun:test";
import { plainText, renderMarkdown, safeUrl, sanitizeHtml } from "./markdown.ts";

it("renders Markdown with tables, code and links", () => {
  const html = renderMarkdown("# Refunds\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n`code` [policy](https://shop.example/refund?a=1&b=2)");
  expect(html).toContain("<h1>Refunds</h1>");
  expect(html).toContain("<td>1</td>");
  expect(html).toContain("<code>code</code>");
  expect(html).toContain('<a href="https://shop.example/refund?a=1&#38;b=2" rel="nofollow noopener">policy</a>');
});

it("shows raw HTML and scripts in a body as text, never as markup", () => {
  const html = renderMarkdown('<script>alert(1)</script>\n\nHi <img src=x onerror="alert(2)"> <a href="javascript:alert(3)">x</a>');
  expect(html).not.toMatch(/<script|<img|<a /i);
  expect(plainText(html)).toContain("<script>alert(1)</script>");
});

it("drops javascript: and data: URLs from links and images, even disguised", () => {
  expect(renderMarkdown("[x](javascript:alert(1)) [y](JaVa\tScRiPt:alert(1)) ![z](data:text/html,1)")).not.toMatch(/href|src/);
  expect(safeUrl("/help/x")).toBe("/help/x");
  expect(safeUrl("mailto:help@example.com")).toBe("mailto:help@example.com");
  expect(safeUrl("//evil.example/x")).toBeUndefined();
});

it("keeps only allow-listed tags and attributes", () => {
  expect(sanitizeHtml('<p onclick="x" class="y">a</p><iframe src="https://x"></iframe><a href="https://ok" onmouseover="x">b</a>')).toBe(
    '<p>a</p><a href="https://ok">b</a>',
  );
});

it("never fails on malformed Markdown", () => {
  for (const source of ["**unclosed", "[link](", "| a |\n|--", "```\nno end", "<div><p>", "\u0000\uffff", "#".repeat(10_000)]) {
    expect(typeof renderMarkdown(source)).toBe("string");
  }
});
