import type { Article, Inbox } from "./api.ts";
import { catalog, type Locale, type MessageKey } from "./catalog.ts";
import { h, icon, linkify } from "./dom.ts";
import { MessageList } from "./messages.ts";
import { styles } from "./styles.ts";

/** What the view asks of the widget: user actions, and how to turn a file path into a safe URL. */
export type ViewEvents = {
  toggle(): void;
  close(): void;
  send(text: string): void;
  attach(file: File): void;
  typing(): void;
  /** The draft changed: the widget may look up help articles for it. */
  lookup(text: string): void;
  retry(id: string): void;
  prechat(profile: { name: string; email: string }): void;
  leaveEmail(email: string): void;
  scrolledToTop(): void;
  fileUrl(path: string): string | null;
  call(): void;
};

export type OfflineState = "ask" | "thanks" | "none";

type Vars = Record<string, string | number>;
const NOTICE_MS = 6000;

/** The widget's DOM, inside a shadow root on a host element appended to the page's body. */
export class View {
  readonly host = document.createElement("switchboard-widget");
  private locale: Locale;
  /** Translated texts, redone when the locale changes: element → attribute ("" = text) → key and values. */
  private texts = new Map<Element, Map<string, [MessageKey, Vars | undefined]>>();
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;

  private root: HTMLDivElement;
  private bubble: HTMLButtonElement;
  private badge: HTMLSpanElement;
  private panel: HTMLDivElement;
  private title: HTMLHeadingElement;
  private status: HTMLParagraphElement;
  private greeting: HTMLDivElement;
  readonly messages: MessageList;
  private typing: HTMLParagraphElement;
  private notice: HTMLParagraphElement;
  private prechat: HTMLFormElement;
  private offline: HTMLFormElement;
  private thanks: HTMLParagraphElement;
  private composer: HTMLFormElement;
  private input: HTMLTextAreaElement;
  /** The "call" button in the header and the strip under it where a browser call shows (call.ts). */
  readonly callButton: HTMLButtonElement;
  readonly callBar = h("div", { class: "callbar", "data-testid": "switchboard-call", hidden: true });
  private articles: HTMLElement;
  /** Where the satisfaction survey shows, under the chat (survey.ts). */
  readonly survey = h("section", { class: "survey", "data-testid": "switchboard-survey", hidden: true });

  constructor(
    locale: Locale,
    private readonly on: ViewEvents,
  ) {
    this.locale = locale;
    this.badge = this.tx(
      h("span", { class: "badge", "data-testid": "switchboard-unread", hidden: true }),
      "unread",
      "aria-label",
      { n: 0 },
    );
    this.bubble = this.tx(
      h(
        "button",
        {
          class: "bubble",
          "data-testid": "switchboard-bubble",
          "aria-expanded": "false",
          "aria-controls": "sb-panel",
          onclick: () => on.toggle(),
        },
        icon("chat"),
        icon("close"),
        this.badge,
      ),
      "open",
      "aria-label",
    );
    this.title = this.tx(h("h2"), "title");
    this.callButton = this.tx(
      h(
        "button",
        {
          class: "icon",
          type: "button",
          "data-testid": "switchboard-call-start",
          hidden: true,
          onclick: () => on.call(),
        },
        icon("phone"),
      ),
      "callStart",
      "aria-label",
    );
    this.tx(this.callButton, "callStart", "title");
    this.status = h("p", { class: "status" });
    this.greeting = h("div", { class: "greeting", hidden: true });
    this.messages = new MessageList(
      locale,
      this.tx(h("ol", { "aria-live": "polite" }), "messages", "aria-label"),
      this.greeting,
      (key) => this.t(key),
      on,
    );
    this.typing = h("p", { class: "typing", hidden: true });
    this.notice = h("p", { class: "notice", role: "alert", hidden: true });
    this.prechat = this.buildPrechat();
    this.thanks = h("p", { class: "notice thanks", hidden: true });
    this.offline = this.buildOffline();
    this.input = this.buildInput();
    this.articles = h("section", { class: "articles", "data-testid": "switchboard-articles", hidden: true });
    this.composer = this.buildComposer();
    this.panel = this.tx(
      h(
        "div",
        {
          class: "panel",
          id: "sb-panel",
          role: "dialog",
          "data-testid": "switchboard-panel",
          hidden: true,
          onkeydown: (e: KeyboardEvent) => e.key === "Escape" && on.close(),
        },
        this.buildHeader(),
        this.callBar,
        this.messages.scroller,
        this.typing,
        this.survey,
        this.notice,
        this.thanks,
        this.offline,
        this.prechat,
        this.articles,
        this.composer,
      ),
      "title",
      "aria-label",
    );
    this.root = h("div", { class: "sb", lang: locale }, this.bubble, this.panel);
    this.host.dataset.state = "loading";
    this.host.attachShadow({ mode: "open" }).append(h("style", {}, styles), this.root);
    document.body.append(this.host);
  }

  setState(state: "ready" | "error") {
    this.host.dataset.state = state;
  }

  setLocale(locale: Locale) {
    this.locale = locale;
    this.root.lang = locale;
    for (const [el, attrs] of this.texts) for (const [attr, [key, vars]] of attrs) this.apply(el, attr, key, vars);
    this.messages.setLocale(locale);
  }

  setInbox(inbox: Inbox) {
    this.texts.delete(this.title);
    this.title.textContent = inbox.name;
    this.tx(this.panel, "dialog", "aria-label", { name: inbox.name });
    this.tx(this.status, inbox.agentsOnline ? "online" : "offline");
    this.status.classList.toggle("on", inbox.agentsOnline);
    this.greeting.hidden = !inbox.greeting;
    this.greeting.replaceChildren(h("div", { class: "text" }, ...linkify(inbox.greeting ?? "")));
    if (inbox.color && CSS.supports("color", inbox.color)) this.root.style.setProperty("--sb-accent", inbox.color);
  }

  setOpen(open: boolean) {
    this.panel.hidden = !open;
    this.root.classList.toggle("open", open);
    this.bubble.setAttribute("aria-expanded", String(open));
    this.tx(this.bubble, open ? "close" : "open", "aria-label");
    if (open) {
      this.messages.scrollToEnd();
      (this.prechat.hidden ? this.input : this.prechat.querySelector("input"))?.focus();
    } else if (this.host.shadowRoot?.activeElement) {
      this.bubble.focus();
    }
  }

  setUnread(count: number) {
    this.badge.hidden = count === 0;
    this.badge.textContent = count > 99 ? "99+" : String(count);
    this.tx(this.badge, "unread", "aria-label", { n: count });
  }

  /** Help articles that may answer the draft; an empty list hides the box. */
  showArticles(items: Article[]) {
    this.articles.hidden = items.length === 0;
    this.articles.replaceChildren(
      h("p", { class: "articles-title" }, this.t("articles")),
      h(
        "ul",
        {},
        ...items.map((a) =>
          h(
            "li",
            {},
            a.url
              ? h(
                  "a",
                  { href: a.url, target: "_blank", rel: "noopener noreferrer", "data-testid": "switchboard-article" },
                  a.title,
                )
              : h("strong", {}, a.title),
            h("span", {}, a.snippet),
          ),
        ),
      ),
    );
  }

  setTyping(typing: boolean, name?: string | null) {
    this.typing.hidden = !typing;
    if (typing) this.tx(this.typing, "typing", "", { name: name || this.t("agent") });
  }

  /** Shows a short notice (upload progress, errors); `null` hides it. */
  showNotice(key: MessageKey | null, vars?: Vars, sticky = false) {
    clearTimeout(this.noticeTimer);
    this.notice.hidden = !key;
    if (!key) return;
    this.tx(this.notice, key, "", vars);
    if (!sticky) this.noticeTimer = setTimeout(() => (this.notice.hidden = true), NOTICE_MS);
  }

  showPrechat(show: boolean) {
    this.prechat.hidden = !show;
    this.composer.hidden = show;
  }

  setOffline(state: OfflineState, email = "") {
    this.offline.hidden = state !== "ask";
    this.thanks.hidden = state !== "thanks";
    if (state === "thanks") this.tx(this.thanks, "thanks", "", { email });
  }

  private buildHeader() {
    return h(
      "header",
      {},
      h("div", {}, this.title, this.status),
      this.callButton,
      this.tx(
        h("button", { class: "icon", type: "button", onclick: () => this.on.close() }, icon("close")),
        "close",
        "aria-label",
      ),
    );
  }

  private buildInput() {
    const input = this.tx(
      h("textarea", { rows: "1", "data-testid": "switchboard-input" }),
      "placeholder",
      "placeholder",
    );
    this.tx(input, "placeholder", "aria-label");
    input.addEventListener("keydown", (e) => {
      // While an IME is composing (Chinese input), Enter picks a candidate; Safari reports that as keyCode 229.
      if (e.key !== "Enter" || e.shiftKey || e.isComposing || e.keyCode === 229) return;
      e.preventDefault();
      this.submit();
    });
    input.addEventListener("input", () => {
      this.autosize();
      if (input.value) this.on.typing();
      this.on.lookup(input.value);
    });
    return input;
  }

  private buildComposer() {
    const file = h("input", { type: "file", hidden: true });
    file.addEventListener("change", () => {
      const chosen = file.files?.[0];
      file.value = "";
      if (chosen) this.on.attach(chosen);
    });
    return h(
      "form",
      {
        class: "composer",
        onsubmit: (e: SubmitEvent) => {
          e.preventDefault();
          this.submit();
        },
      },
      this.tx(
        h("button", { class: "icon", type: "button", onclick: () => file.click() }, icon("attach")),
        "attach",
        "aria-label",
      ),
      file,
      this.input,
      this.tx(h("button", { class: "icon", "data-testid": "switchboard-send" }, icon("send")), "send", "aria-label"),
    );
  }

  private buildPrechat() {
    const name = this.field("text", "name", "name");
    const email = this.field("email", "email", "email");
    return this.card(
      () => this.on.prechat({ name: name.value.trim(), email: email.value.trim() }),
      this.tx(h("p"), "prechatIntro"),
      name,
      email,
      this.tx(h("button", { class: "primary" }), "start"),
    );
  }

  private buildOffline() {
    const email = this.field("email", "email", "email");
    return this.card(
      () => this.on.leaveEmail(email.value.trim()),
      this.tx(h("p"), "offlineIntro"),
      h("div", { class: "row" }, email, this.tx(h("button", { class: "primary" }), "leaveEmail")),
    );
  }

  /** A hidden form card that hands its values to `submit` instead of navigating. */
  private card(submit: () => void, ...children: Node[]) {
    const onsubmit = (e: SubmitEvent) => {
      e.preventDefault();
      submit();
    };
    return h("form", { class: "card", hidden: true, onsubmit }, ...children);
  }

  private field(type: string, key: MessageKey, autocomplete: string) {
    const input = this.tx(h("input", { type, name: key, autocomplete, required: true }), key, "placeholder");
    return this.tx(input, key, "aria-label");
  }

  private submit() {
    const text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.autosize();
    this.on.send(text);
  }

  private autosize() {
    this.input.style.height = "auto";
    this.input.style.height = `${this.input.scrollHeight}px`;
  }

  t(key: MessageKey, vars?: Vars): string {
    return catalog[this.locale][key].replace(/\{(\w+)\}/g, (_, name: string) => String(vars?.[name] ?? ""));
  }

  /** Sets a translated text or attribute and remembers it for the next locale change. */
  private tx<E extends Element>(el: E, key: MessageKey, attr = "", vars?: Vars): E {
    let attrs = this.texts.get(el);
    if (!attrs) this.texts.set(el, (attrs = new Map()));
    attrs.set(attr, [key, vars]);
    this.apply(el, attr, key, vars);
    return el;
  }

  private apply(el: Element, attr: string, key: MessageKey, vars?: Vars) {
    if (attr) el.setAttribute(attr, this.t(key, vars));
    else el.textContent = this.t(key, vars);
  }
}
