import type { Attachment, Item } from "./api.ts";
import type { Locale, MessageKey } from "./catalog.ts";
import { h, linkify } from "./dom.ts";

/** How close to the end of the message list counts as "reading the latest", in pixels. */
const STICK_DISTANCE = 80;

/** What the list asks of the widget: a retry of a failed message, older messages, safe file URLs. */
type ListEvents = { retry(id: string): void; scrolledToTop(): void; fileUrl(path: string): string | null };

/** The conversation's messages in seq order, kept at the latest while the visitor is reading there. */
export class MessageList {
  readonly scroller: HTMLDivElement;
  private rows = new Map<string, { item: Item; el: HTMLLIElement }>();
  /** [today, other days]; made on first use, since creating one costs tens of ms on a cold page. */
  private formats: Intl.DateTimeFormat[] | undefined;

  constructor(
    private locale: Locale,
    private readonly list: HTMLOListElement,
    greeting: HTMLElement,
    private readonly t: (key: MessageKey) => string,
    private readonly on: ListEvents,
  ) {
    this.scroller = h(
      "div",
      { class: "scroll", onscroll: () => this.scroller.scrollTop < STICK_DISTANCE && on.scrolledToTop() },
      greeting,
      list,
    );
  }

  setLocale(locale: Locale) {
    this.locale = locale;
    this.formats = undefined;
    for (const { item } of this.rows.values()) this.put(item);
  }

  has(id: string) {
    return this.rows.has(id);
  }

  /** Adds a message in seq order, or redraws it in place if it is already shown. */
  put(item: Item) {
    const row = this.rows.get(item.id);
    const stick = this.atEnd();
    const el = this.renderItem(item);
    this.rows.set(item.id, { item, el });
    if (row) {
      row.el.replaceWith(el);
      return;
    }
    // New messages nearly always go last, so look for the row to follow from the end.
    let anchor = this.list.lastElementChild as HTMLElement | null;
    while (anchor && Number(anchor.dataset.seq) > item.seq)
      anchor = anchor.previousElementSibling as HTMLElement | null;
    if (anchor) anchor.after(el);
    else this.list.prepend(el);
    if (stick || item.direction === "in") this.scrollToEnd();
  }

  remove(id: string) {
    this.rows.get(id)?.el.remove();
    this.rows.delete(id);
  }

  clear() {
    this.rows.clear();
    this.list.replaceChildren();
  }

  /** Runs `change` (adding older messages above) without moving what the visitor is looking at. */
  keepScroll(change: () => void) {
    const fromEnd = this.scroller.scrollHeight - this.scroller.scrollTop;
    change();
    this.scroller.scrollTop = this.scroller.scrollHeight - fromEnd;
  }

  scrollToEnd() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  private renderItem(item: Item): HTMLLIElement {
    const out = item.direction === "out";
    const failed = item.status === "failed";
    return h(
      "li",
      {
        class: `msg ${out ? "out" : "in"} ${failed || item.status === "pending" ? item.status : ""}`,
        "data-testid": "switchboard-message",
        "data-direction": item.direction,
        "data-seq": String(item.seq),
      },
      out && h("span", { class: "who" }, item.sender.name || this.t("agent")),
      item.text && h("div", { class: "text" }, ...linkify(item.text)),
      item.attachments.length > 0 && h("div", { class: "files" }, ...item.attachments.map((a) => this.renderFile(a))),
      failed
        ? h("button", { class: "retry", type: "button", onclick: () => this.on.retry(item.id) }, this.t("failed"))
        : h("time", { datetime: item.createdAt }, this.formatTime(item.createdAt)),
    );
  }

  private renderFile(file: Attachment) {
    const href = this.on.fileUrl(file.url);
    if (!href) return h("span", {}, file.name);
    const image = file.contentType.startsWith("image/");
    return h(
      "a",
      { href, target: "_blank", rel: "noopener noreferrer" },
      image ? h("img", { src: href, alt: file.name, loading: "lazy" }) : file.name,
    );
  }

  private atEnd() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < STICK_DISTANCE;
  }

  /** Today's messages show the time only; older ones the date too. */
  private formatTime(iso: string): string {
    const time: Intl.DateTimeFormatOptions = { hour: "numeric", minute: "2-digit" };
    this.formats ??= [
      new Intl.DateTimeFormat(this.locale, time),
      new Intl.DateTimeFormat(this.locale, { ...time, month: "short", day: "numeric" }),
    ];
    const date = new Date(iso);
    const today = date.toDateString() === new Date().toDateString();
    return this.formats[today ? 0 : 1]?.format(date) ?? "";
  }
}
