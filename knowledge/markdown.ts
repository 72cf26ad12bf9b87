import { Marked, type Tokens } from "marked";

/**
 * Markdown → HTML that is safe to serve as the help center's own page. Raw HTML in the source is
 * shown as text (never interpreted), links and images keep only http(s), mailto and relative URLs,
 * and an allow-list pass over the output drops any tag or attribute not listed here — a second line
 * of defence should the renderer ever emit something unexpected.
 */
const ALLOWED: Record<string, string[]> = {
  p: [], br: [], hr: [], h1: ["id"], h2: ["id"], h3: ["id"], h4: ["id"], h5: ["id"], h6: ["id"],
  strong: [], em: [], del: [], code: ["class"], pre: [], blockquote: [],
  ul: [], ol: ["start"], li: [], input: ["type", "checked", "disabled"],
  a: ["href", "title", "rel"], img: ["src", "alt", "title"],
  table: [], thead: [], tbody: [], tr: [], th: ["align"], td: ["align"],
};

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** http(s), mailto, in-page and relative URLs; anything with another scheme (javascript:, data:) is dropped. */
export function safeUrl(url: string): string | undefined {
  const trimmed = url.trim();
  // Browsers ignore control characters and whitespace inside a scheme ("java\tscript:").
  const squashed = trimmed.replace(/[\u0000-\u0020]/g, "").toLowerCase();
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(squashed)?.[1];
  if (scheme && !["http", "https", "mailto"].includes(scheme)) return undefined;
  if (squashed.startsWith("//")) return undefined;
  return trimmed;
}

const marked = new Marked({ gfm: true, async: false });
marked.use({
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(token.text);
    },
    link(token: Tokens.Link) {
      const text = this.parser.parseInline(token.tokens);
      const href = safeUrl(token.href);
      if (!href) return text;
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : "";
      return `<a href="${escapeHtml(href)}"${title} rel="nofollow noopener">${text}</a>`;
    },
    image(token: Tokens.Image) {
      const src = safeUrl(token.href);
      if (!src) return escapeHtml(token.text);
      const title = token.title ? ` title="${escapeHtml(token.title)}"` : "";
      return `<img src="${escapeHtml(src)}" alt="${escapeHtml(token.text)}"${title}>`;
    },
  },
});

const TAG = /<(\/?)([a-zA-Z][a-zA-Z0-9]*)([^>]*)>/g;
const ATTR = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

/** Keeps allow-listed tags and attributes only; URLs in href/src are checked again. */
export function sanitizeHtml(html: string): string {
  return html.replace(TAG, (_, close: string, rawName: string, rest: string) => {
    const name = rawName.toLowerCase();
    const allowed = ALLOWED[name];
    if (!allowed) return "";
    if (close) return `</${name}>`;
    const attrs: string[] = [];
    for (const m of rest.matchAll(ATTR)) {
      const attr = m[1]!.toLowerCase();
      if (!allowed.includes(attr)) continue;
      let value = m[2] ?? m[3] ?? m[4] ?? "";
      if (attr === "href" || attr === "src") {
        const safe = safeUrl(value.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&"));
        if (!safe) continue;
        value = safe;
      }
      if (name === "input" && attr === "type" && value !== "checkbox") return "";
      attrs.push(m[2] === undefined && m[3] === undefined && m[4] === undefined ? attr : `${attr}="${escapeHtml(value.replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&").replace(/&quot;/g, '"'))}"`);
    }
    return `<${name}${attrs.length ? " " + attrs.join(" ") : ""}>`;
  });
}

/** Rendered, sanitized HTML of an article body. Never throws: Markdown has no invalid input. */
export function renderMarkdown(source: string): string {
  return sanitizeHtml(marked.parse(source) as string);
}

/** The body as plain text (snippets, the bot's chat answers, indexing). */
export function plainText(html: string): string {
  return html
    .replace(/<(br|\/p|\/li|\/h[1-6]|\/tr|\/pre|\/blockquote)>/gi, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&#(\d+);/g, (_m, n: string) => String.fromCharCode(Number(n)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/[ \t]+/g, " ")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
