import { Marked, type Tokens } from "marked";
import sanitize from "sanitize-html";

/**
 * Markdown → HTML that is safe to serve as the help center's own page. Raw HTML in the source is
 * shown as text (never interpreted); then one sanitizer pass over the whole output keeps only the tags
 * and attributes listed here and checks every href and src *as the browser will read it*: after the
 * HTML parser has decoded entities (`&#106;avascript:`), with the control characters and whitespace a
 * browser ignores inside a scheme removed. A URL checked before a later decoding is a URL not checked.
 */
const ALLOWED: Record<string, string[]> = {
  p: [],
  br: [],
  hr: [],
  h1: ["id"],
  h2: ["id"],
  h3: ["id"],
  h4: ["id"],
  h5: ["id"],
  h6: ["id"],
  strong: [],
  em: [],
  del: [],
  code: ["class"],
  pre: [],
  blockquote: [],
  ul: [],
  ol: ["start"],
  li: [],
  input: ["type", "checked", "disabled"],
  a: ["href", "title", "rel"],
  img: ["src", "alt", "title"],
  table: [],
  thead: [],
  tbody: [],
  tr: [],
  th: ["align"],
  td: ["align"],
};

/** Schemes a link or image may use; a URL without a scheme (relative, `#anchor`, `?query`) is fine too. */
const SCHEMES = ["http", "https", "mailto", "tel"];

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The URL if a browser would follow it to an allowed scheme or a same-site address, else undefined.
 * `url` is the final value (entities already decoded). Browsers drop tabs and newlines anywhere in a
 * URL and control characters and spaces at its ends ("java\tscript:"), and read a backslash as a
 * slash (`/\\evil.example` is another host).
 */
export function safeUrl(url: string): string | undefined {
  const trimmed = url.trim();
  const squashed = trimmed
    .replace(/[\u0000-\u0020\u007f]/g, "")
    .replace(/\\/g, "/")
    .toLowerCase();
  const scheme = /^([a-z][a-z0-9+.-]*):/.exec(squashed)?.[1];
  if (scheme) return SCHEMES.includes(scheme) ? trimmed : undefined;
  // Not a scheme as written, but a colon before any / ? # would still make it one to some parser.
  if (/^[^/?#]*:/.test(squashed)) return undefined;
  if (squashed.startsWith("//")) return undefined;
  return trimmed;
}

/**
 * Attribute text for the renderer: quotes and brackets escaped, `&` left alone, so an entity in a
 * Markdown link means what CommonMark says it means; the sanitizer below decodes it and checks the
 * result.
 */
const attribute = (s: string) => s.replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

const marked = new Marked({ gfm: true, async: false });
marked.use({
  renderer: {
    html(token: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(token.text);
    },
    link(token: Tokens.Link) {
      const text = this.parser.parseInline(token.tokens);
      const title = token.title ? ` title="${attribute(token.title)}"` : "";
      return `<a href="${attribute(token.href)}"${title} rel="nofollow noopener">${text}</a>`;
    },
    image(token: Tokens.Image) {
      const title = token.title ? ` title="${attribute(token.title)}"` : "";
      return `<img src="${attribute(token.href)}" alt="${attribute(token.text)}"${title}>`;
    },
  },
});

/**
 * A link whose URL is refused keeps its text and no address; an image whose URL is refused keeps only
 * its alt text, which the browser shows in its place. (Renaming the tag instead trips sanitize-html
 * into emitting a stray closing tag after the next void element.)
 */
const checked =
  (attr: "href" | "src") =>
  (tagName: string, attribs: sanitize.Attributes): sanitize.Tag => {
    const url = attribs[attr] === undefined ? undefined : safeUrl(attribs[attr]);
    if (url !== undefined) return { tagName, attribs: { ...attribs, [attr]: url } };
    const kept: sanitize.Attributes = tagName === "img" && attribs.alt ? { alt: attribs.alt } : {};
    return { tagName, attribs: kept };
  };

const OPTIONS: sanitize.IOptions = {
  allowedTags: Object.keys(ALLOWED),
  allowedAttributes: ALLOWED,
  allowedClasses: { code: ["language-*"] },
  // sanitize-html checks schemes too (after its own decoding): a second look at the same final value.
  allowedSchemes: SCHEMES,
  allowedSchemesAppliedToAttributes: ["href", "src"],
  allowProtocolRelative: false,
  disallowedTagsMode: "discard",
  transformTags: { a: checked("href"), img: checked("src") },
  // Task-list checkboxes are the only input Markdown makes.
  exclusiveFilter: (frame) => frame.tag === "input" && frame.attribs.type !== "checkbox",
};

/** Keeps allow-listed tags and attributes only; every href and src is checked as the browser will read it. */
export function sanitizeHtml(html: string): string {
  return sanitize(html, OPTIONS);
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
