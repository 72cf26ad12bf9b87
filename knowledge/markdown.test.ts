import { expect, it } from "bun:test";
import { plainText, renderMarkdown, safeUrl, sanitizeHtml } from "./markdown.ts";

it("renders Markdown with tables, code and links", () => {
  const html = renderMarkdown(
    "# Refunds\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n`code` [policy](https://shop.example/refund?a=1&b=2)",
  );
  expect(html).toContain("<h1>Refunds</h1>");
  expect(html).toContain("<td>1</td>");
  expect(html).toContain("<code>code</code>");
  expect(html).toContain('<a href="https://shop.example/refund?a=1&amp;b=2" rel="nofollow noopener">policy</a>');
});

it("shows raw HTML and scripts in a body as text, never as markup", () => {
  const html = renderMarkdown(
    '<script>alert(1)</script>\n\nHi <img src=x onerror="alert(2)"> <a href="javascript:alert(3)">x</a>',
  );
  expect(html).not.toMatch(/<script|<img|<a /i);
  expect(plainText(html)).toContain("<script>alert(1)</script>");
});

it("drops javascript: and data: URLs from links and images, even disguised", () => {
  expect(renderMarkdown("[x](javascript:alert(1)) [y](JaVa\tScRiPt:alert(1)) ![z](data:text/html,1)")).not.toMatch(
    /href|src/,
  );
  expect(safeUrl("/help/x")).toBe("/help/x");
  expect(safeUrl("mailto:help@example.com")).toBe("mailto:help@example.com");
  expect(safeUrl("//evil.example/x")).toBeUndefined();
});

/** Markdown a reviewer (or an attacker) would try: each must leave no URL but allowed ones, and no markup. */
const CORPUS = [
  "[x](&#106;avascript:alert(1))",
  "[x](&#x6A;avascript:alert(1))",
  "[x](&#0000106;avascript:alert(1))",
  "[x](javascript&colon;alert(1))",
  "[x](JaVaScRiPt:alert(1))",
  "[x](java\tscript:alert(1))",
  "[x](java&#9;script:alert(1))",
  "[x](java&#10;script:alert(1))",
  "[x](&#32;javascript:alert(1))",
  "[x](\u0001javascript:alert(1))",
  "[x](<java\nscript:alert(1)>)",
  "[x](<javascript:alert(1)>)",
  "<javascript:alert(1)>",
  "[x][evil]\n\n[evil]: javascript:alert(1)",
  '[x][evil]\n\n[evil]: &#106;avascript:alert(1) "t"',
  "[x](vbscript:msgbox(1))",
  "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
  "![x](&#106;avascript:alert(1))",
  "[x](/\\evil.example) [y](//evil.example) [z](\\\\evil.example)",
  '[x](https://ok "javascript:alert(1)") [y](https://ok \'" onmouseover="alert(1)\')',
  "<svg onload=alert(1)>",
  "<img src=x onerror=alert(1)>",
  '<a href="javascript:alert(1)">x</a>',
  "<details open ontoggle=alert(1)>",
  '<iframe src="javascript:alert(1)"></iframe>',
];

it("leaves no javascript:, vbscript: or data: URL and no markup from a hostile corpus", () => {
  for (const source of CORPUS) {
    const { markup, urls } = parsed(renderMarkdown(source));
    // As the browser reads the attribute: entities decoded, then blanks and control characters ignored.
    const bare = urls.map((url) =>
      url
        .replace(/&amp;/g, "&")
        .replace(/[\u0000-\u0020]/g, "")
        .toLowerCase(),
    );
    expect({ source, refused: bare.filter((url) => /^(javascript|vbscript|data):|^[/\\]{2}|&#/.test(url)) }).toEqual({
      source,
      refused: [],
    });
    expect({
      source,
      markup: markup.filter((m) => !/^(p|a|img|a@(href|title|rel)|img@(src|alt|title))$/.test(m)),
    }).toEqual({ source, markup: [] });
  }
});

/** As an HTML parser sees `html`: every element and attribute name (`a`, `a@href`), and the raw URLs. */
function parsed(html: string) {
  const markup: string[] = [];
  const urls: string[] = [];
  new HTMLRewriter()
    .on("*", {
      element(el) {
        markup.push(el.tagName);
        for (const [name, value] of el.attributes) {
          markup.push(`${el.tagName}@${name}`);
          if (name === "href" || name === "src") urls.push(value);
        }
      },
    })
    .transform(html);
  return { markup, urls };
}

it("checks the URL as the browser reads it: after decoding entities, ignoring tabs and newlines", () => {
  const html = sanitizeHtml(
    '<a href="&#x6A;avascript&#x3A;alert(1)">a</a><a href="java&#x09;script:alert(1)">b</a><a href="&#0000106avascript:x">c</a>' +
      '<a href="javascript&colon;x">d</a><img src="&#100;ata:image/svg+xml,x"><a href="/\\evil.example">e</a>',
  );
  expect(html).toBe("<a>a</a><a>b</a><a>c</a><a>d</a><img /><a>e</a>");
  for (const url of [
    "java\tscript:x",
    " JAVASCRIPT:x",
    "\u0000javascript:x",
    "vbscript:x",
    "data:text/html,x",
    "foo:x",
    "/\\x",
  ])
    expect(safeUrl(url)).toBeUndefined();
  for (const url of [
    "https://a.example/x?y=1",
    "HTTP://a.example",
    "mailto:a@b.example",
    "tel:+8610123",
    "#top",
    "?q=1",
    "../x",
    "x/y:z",
  ])
    expect(safeUrl(url)).toBe(url);
});

it("keeps allowed links, images and task lists, with entities meaning what CommonMark says", () => {
  expect(renderMarkdown('[a](https://x.example/?a=1&amp;b=2 "A &amp; B")')).toBe(
    '<p><a href="https://x.example/?a=1&amp;b=2" title="A &amp; B" rel="nofollow noopener">a</a></p>\n',
  );
  expect(renderMarkdown("![cat](javascript:x) after")).toBe('<p><img alt="cat" /> after</p>\n');
  expect(renderMarkdown("- [x] done")).toContain('<input checked disabled type="checkbox" />');
});

it("keeps only allow-listed tags and attributes", () => {
  expect(
    sanitizeHtml(
      '<p onclick="x" class="y">a</p><iframe src="https://x"></iframe><a href="https://ok" onmouseover="x">b</a>',
    ),
  ).toBe('<p>a</p><a href="https://ok">b</a>');
});

it("never fails on malformed Markdown", () => {
  for (const source of [
    "**unclosed",
    "[link](",
    "| a |\n|--",
    "```\nno end",
    "<div><p>",
    "\u0000\uffff",
    "#".repeat(10_000),
  ]) {
    expect(typeof renderMarkdown(source)).toBe("string");
  }
});
