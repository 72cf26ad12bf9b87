/** Building blocks of the widget's DOM, shared by the chat view and the call strip. */

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | boolean | undefined | ((e: never) => void)>;

/** Creates an element. Strings become text nodes, never markup, so server data cannot inject HTML. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") el.addEventListener(name.slice(2), value as EventListener);
    else if (value === true) el.setAttribute(name, "");
    else if (value) el.setAttribute(name, value);
  }
  el.append(...children.filter((c): c is Node | string => !!c));
  return el;
}

const ICONS = {
  chat: "M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2z",
  close: "M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z",
  send: "M2 21l21-9L2 3v7l15 2-15 2z",
  phone:
    "M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.57a1 1 0 0 1-.25 1z",
  attach:
    "M16.5 6v11.5a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10.5a1 1 0 0 1-2 0V6H10v9.5a2.5 2.5 0 0 0 5 0V5a4 4 0 0 0-8 0v12.5a5.5 5.5 0 0 0 11 0V6z",
};

export function icon(name: keyof typeof ICONS): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", `i-${name}`);
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ICONS[name]);
  svg.append(path);
  return svg;
}

const URL_PATTERN = /https?:\/\/[^\s<>"]*[^\s<>"'.,;:!?)\]]/g;

/** Message text with its web addresses as links; the href is always http(s) by construction. */
export function linkify(text: string): Child[] {
  const parts: Child[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    parts.push(
      text.slice(last, match.index),
      h("a", { href: match[0], target: "_blank", rel: "noopener noreferrer" }, match[0]),
    );
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}
