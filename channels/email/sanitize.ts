import sanitizeHtml from "sanitize-html";

/**
 * Email HTML made safe on the server, before anything stores or shows it: no scripts, styles, event
 * handlers, forms, frames or javascript: links; remote images are dropped (they track opens), and
 * inline images (`cid:`) are pointed at our stored attachments.
 */
export function sanitizeEmailHtml(html: string, inline: Record<string, string> = {}): string {
  return sanitizeHtml(html, {
    allowedTags: [
      "a",
      "b",
      "i",
      "u",
      "s",
      "em",
      "strong",
      "small",
      "sub",
      "sup",
      "p",
      "br",
      "hr",
      "div",
      "span",
      "blockquote",
      "pre",
      "code",
      "ul",
      "ol",
      "li",
      "dl",
      "dt",
      "dd",
      "h1",
      "h2",
      "h3",
      "h4",
      "h5",
      "h6",
      "table",
      "thead",
      "tbody",
      "tfoot",
      "tr",
      "th",
      "td",
      "caption",
      "img",
      "font",
      "center",
    ],
    allowedAttributes: {
      a: ["href", "title"],
      img: ["src", "alt", "width", "height"],
      td: ["colspan", "rowspan", "align", "valign"],
      th: ["colspan", "rowspan", "align", "valign"],
      table: ["border", "cellpadding", "cellspacing", "width"],
      font: ["color"],
      "*": ["dir", "lang"],
    },
    allowedSchemes: ["http", "https", "mailto", "tel"],
    allowedSchemesByTag: { img: ["cid"] },
    allowProtocolRelative: false,
    disallowedTagsMode: "discard",
    transformTags: {
      a: (tagName, attribs) => ({
        tagName,
        attribs: { ...attribs, rel: "noopener noreferrer nofollow", target: "_blank" },
      }),
      img: (tagName, attribs) => {
        const src = attribs.src ?? "";
        const cid = /^cid:(.+)$/i.exec(src)?.[1]?.replace(/^<|>$/g, "");
        const stored = cid ? inline[cid] : undefined;
        // Unknown cid or a remote image: keep the alt text only.
        if (!stored) return { tagName: "span", attribs: {}, text: attribs.alt ?? "" };
        return { tagName, attribs: { ...attribs, src: stored } };
      },
    },
  } as sanitizeHtml.IOptions);
}

/** Plain text of an HTML body, for mail that has no text part. */
export function htmlToText(html: string): string {
  const withBreaks = html.replace(/<(br|\/p|\/div|\/li|\/tr|\/h[1-6])\b[^>]*>/gi, "\n");
  const text = sanitizeHtml(withBreaks, { allowedTags: [], allowedAttributes: {} });
  return text
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
