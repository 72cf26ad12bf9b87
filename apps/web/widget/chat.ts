import { Api, ApiError, backoff, sleep, type Attachment, type Frame, type Item, type Session } from "./api.ts";
import { ArticleLookup } from "./articles.ts";
import { toLocale, type Locale } from "./catalog.ts";
import { WidgetCall } from "./call.ts";
import { Feed } from "./feed.ts";
import { QueuePlace } from "./queue-place.ts";
import { Survey } from "./survey.ts";
import { TypingSignal } from "./typing.ts";
import { View } from "./view.ts";

export type Config = { inboxKey: string; apiBase: string; locale: string | undefined };
export type User = { id: string; name?: string; email?: string; hash?: string };
type Profile = { name?: string; email?: string };
/** A message the visitor sent; its clientId stays the same across retries. */
type Draft = { clientId: string; text?: string; attachments: Attachment[] };
export type EventName = "ready" | "message" | "open" | "close" | "unread";
export type Listener = (arg?: unknown) => void;

/** An agent's "typing" fades on its own in case the "stopped" signal never comes. */
const AGENT_TYPING_MS = 7000;
/** The server's limit; checked here too so a visitor is not made to wait for a doomed upload. */
const MAX_UPLOAD_BYTES = 10 * 1024 * 1024;

/** When the widget became usable; the page-load benchmark (bench/widget.ts) reads it. */
const globals = window as Window & { __switchboardReadyAt?: number };

/** One visitor's chat: the session, the conversation on screen, and what the visitor sends. */
export class Widget {
  private readonly api: Api;
  private readonly view: View;
  private readonly feed: Feed;
  private readonly call: WidgetCall;
  private readonly visitorTyping: TypingSignal;
  private readonly articles: ArticleLookup;
  private readonly queuePlace: QueuePlace;
  private readonly survey: Survey;
  private readonly storageKey: string;
  private readonly listeners = new Map<EventName, Set<Listener>>();
  private locale: Locale;
  private user: User | undefined;
  private profile: Profile = {};
  private leftEmail = "";
  private session: Session | null = null;
  /** The visitor token whose conversation is on screen. */
  private shownToken: string | null = null;
  /** Highest seq the socket has brought, in order: where a reconnect resumes. */
  private lastSeq = 0;
  private olderCursor: string | null = null;
  private loadingOlder = false;
  private started = false;
  private ready = false;
  private isOpen = false;
  private unread = 0;
  /** Session (re)creations run one after another, so a setUser() during start-up cannot interleave. */
  private sessions: Promise<void> = Promise.resolve();
  private agentTyping: ReturnType<typeof setTimeout> | undefined;
  private failed = new Map<string, Draft>();

  constructor(private readonly config: Config) {
    this.api = new Api(config.apiBase);
    this.storageKey = `switchboard:${config.inboxKey}`;
    this.locale = toLocale(config.locale ?? navigator.language);
    this.feed = new Feed(
      () => this.api.socketUrl(this.lastSeq),
      (frame) => this.receive(frame),
      // The token was retired (its contact merged away, or revoked): a fresh session, not a reconnect.
      () => void this.refresh().catch(ignore),
    );
    this.view = new View(this.locale, {
      toggle: () => this.toggle(),
      close: () => this.close(),
      send: (text) => void this.send(draft({ text })),
      attach: (file) => void this.attach(file),
      typing: () => this.typing(),
      lookup: (text) => this.articles.lookup(text),
      retry: (id) => this.retry(id),
      prechat: (profile) => void this.submitProfile(profile),
      leaveEmail: (email) => void this.leaveEmail(email),
      scrolledToTop: () => void this.loadOlder(),
      fileUrl: (path) => this.api.fileUrl(path),
      call: () => void this.call.start(),
    });
    this.call = new WidgetCall(this.api, this.view, () => this.open());
    this.visitorTyping = new TypingSignal((typing) => this.api.typing(typing));
    this.articles = new ArticleLookup(this.api, (items) => this.view.showArticles(items));
    this.queuePlace = new QueuePlace(this.api, this.view);
    this.survey = new Survey(this.api, this.view);
  }

  /** Connects, retrying network and server errors; a refused inbox key hides the widget for good. */
  async start() {
    this.started = true;
    this.api.token = readStorage(this.storageKey);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.refresh();
      } catch (err) {
        if (err instanceof ApiError && err.status < 500 && err.status !== 429) {
          console.error(`[switchboard] ${err.message}`);
          return this.view.setState("error");
        }
        await sleep(backoff(attempt));
      }
    }
  }

  open() {
    if (this.isOpen) return;
    this.isOpen = true;
    this.view.setOpen(true);
    this.setUnread(0);
    this.emit("open");
  }

  close() {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.visitorTyping.stop();
    this.view.setOpen(false);
    this.emit("close");
  }

  toggle() {
    if (this.isOpen) this.close();
    else this.open();
  }

  /** Identifies the visitor as a user of the host site; `hash` is HMAC-SHA256(id) made by the host's server. */
  async setUser(user: User) {
    // Host pages tend to call this on every page view; the same user again changes nothing.
    if (!user?.id || (user.id === this.user?.id && user.hash === this.user.hash)) return;
    this.user = user;
    if (this.started) await this.refresh().catch((err: unknown) => console.error("[switchboard] setUser failed", err));
  }

  setLocale(tag: string) {
    this.locale = toLocale(tag);
    this.view.setLocale(this.locale);
    this.call.render();
  }

  on(event: EventName, fn: Listener) {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    // Listeners added after start-up still hear about it.
    if (event === "ready" && this.ready) fn();
  }

  off(event: EventName, fn: Listener) {
    this.listeners.get(event)?.delete(fn);
  }

  private emit(event: EventName, arg?: unknown) {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        fn(arg);
      } catch (err) {
        // A host page's bug must not break the chat; still surface it where the host looks.
        reportError(err);
      }
    }
  }

  private refresh() {
    this.sessions = this.sessions.catch(() => {}).then(() => this.connect());
    return this.sessions;
  }

  /** Creates or resumes the session; a new visitor token means another conversation to show. */
  private async connect() {
    const session = await this.createSession();
    this.session = session;
    this.api.token = session.visitorToken;
    writeStorage(this.storageKey, session.visitorToken);
    this.view.setInbox(session.inbox);
    this.updateForms();
    if (session.visitorToken !== this.shownToken) {
      await this.showConversation();
      this.shownToken = session.visitorToken;
    }
    if (this.ready) return;
    this.ready = true;
    this.view.setState("ready");
    globals.__switchboardReadyAt = performance.now();
    this.emit("ready");
  }

  private async createSession(): Promise<Session> {
    for (;;) {
      try {
        return await this.api.session({
          inboxKey: this.config.inboxKey,
          locale: this.locale,
          visitorToken: this.api.token ?? undefined,
          userId: this.user?.id,
          userHash: this.user?.hash,
          name: this.profile.name || this.user?.name,
          email: this.profile.email || this.user?.email,
        });
      } catch (err) {
        if (!(err instanceof ApiError) || err.status >= 500 || err.status === 429) throw err;
        // A rejected identity or a stale token is no reason to show nothing: carry on anonymously.
        if (this.user) {
          console.warn(`[switchboard] user not verified: ${err.message}`);
          this.user = undefined;
        } else if (this.api.token) {
          this.api.token = null;
        } else {
          throw err;
        }
      }
    }
  }

  /** Shows the current visitor's latest messages and follows new ones from there. */
  private async showConversation() {
    this.feed.stop();
    this.view.messages.clear();
    this.lastSeq = 0;
    this.olderCursor = null;
    if (this.session?.conversationId) {
      const page = await this.api.history();
      this.olderCursor = page.nextCursor;
      for (const item of page.items) this.add(item, false);
      // Everything up to the newest item was committed when the page was read.
      this.lastSeq = Math.max(0, ...page.items.map((i) => i.seq));
    }
    this.feed.connect();
    this.survey.reset();
    void this.survey.check();
  }

  private async loadOlder() {
    if (!this.olderCursor || this.loadingOlder) return;
    this.loadingOlder = true;
    try {
      const page = await this.api.history(this.olderCursor);
      this.olderCursor = page.nextCursor;
      this.view.messages.keepScroll(() => page.items.forEach((item) => this.add(item, false)));
    } catch {
      // Scrolling to the top again retries.
    } finally {
      this.loadingOlder = false;
    }
  }

  private receive(frame: Frame) {
    // Every frame's seq is a safe resume point (hello: where the replay starts, the head when nothing
    // was seen yet; others: the seq last delivered), so a reconnect resumes after the highest one.
    // `resync` names the seq to continue after, even below one remembered from elsewhere.
    if (typeof frame.seq === "number")
      this.lastSeq = frame.type === "resync" ? frame.seq : Math.max(this.lastSeq, frame.seq);
    if (frame.type === "hello") {
      void this.call.refresh();
      return;
    }
    if (frame.type.startsWith("call.")) return this.call.receive(frame);
    if (frame.conversationId && this.session) this.session.conversationId = frame.conversationId;
    if (frame.type === "resync") void this.resync();
    else if (frame.type === "typing") this.showAgentTyping(!!frame.typing, frame.sender?.name);
    else if (frame.type === "csat.requested" && frame.conversationId && frame.scale && frame.question)
      this.survey.show({ conversationId: frame.conversationId, scale: frame.scale, question: frame.question });
    else if (frame.type === "item.created" && frame.item) this.add(frame.item, true);
    else if (frame.type === "item.updated" && frame.item && this.view.messages.has(frame.item.id))
      this.view.messages.put(frame.item);
  }

  /** More was missed than the server replays: re-read the latest page (the socket itself stays live). */
  private async resync() {
    try {
      const page = await this.api.history();
      for (const item of page.items) {
        if (this.view.messages.has(item.id)) this.view.messages.put(item);
        else this.add(item, true);
      }
    } catch {
      // The next reconnect replays from lastSeq and may resync again.
    }
  }

  /** Shows a new message once: the visitor's own come back over the socket as well as from the POST. */
  private add(item: Item, live: boolean) {
    if (item.type !== "message" || this.view.messages.has(item.id)) return;
    // The socket can bring the visitor's own message before the POST answers: it replaces the
    // pending copy, matched by the clientId the widget chose.
    if (item.clientId) this.view.messages.remove(`local-${item.clientId}`);
    this.view.messages.put(item);
    if (!live) return;
    this.emit("message", item);
    if (item.direction !== "out") return;
    if (item.sender.type === "agent") this.queuePlace.agentAnswered();
    this.showAgentTyping(false);
    if (!this.isOpen) this.setUnread(this.unread + 1);
  }

  private setUnread(count: number) {
    if (count === this.unread) return;
    this.unread = count;
    this.view.setUnread(count);
    this.emit("unread", count);
  }

  private showAgentTyping(typing: boolean, name?: string | null) {
    clearTimeout(this.agentTyping);
    this.view.setTyping(typing, name);
    if (typing) this.agentTyping = setTimeout(() => this.view.setTyping(false), AGENT_TYPING_MS);
  }

  /** Shows the message at once as pending, then swaps in the server's item (or marks it failed). */
  private async send(draft: Draft) {
    const id = `local-${draft.clientId}`;
    this.articles.lookup("");
    this.view.messages.put(this.localItem(id, draft, "pending"));
    this.visitorTyping.stop();
    // A message written while the session is still being created waits for it.
    await this.sessions.catch(ignore);
    try {
      const { item, conversationId } = await this.api.send({
        clientId: draft.clientId,
        text: draft.text,
        attachments: draft.attachments.length ? draft.attachments.map((a) => a.id) : undefined,
      });
      this.view.messages.remove(id);
      if (this.session) this.session.conversationId = conversationId;
      this.add(item, true);
      this.updateForms();
      void this.queuePlace.watch();
    } catch (err) {
      this.failed.set(id, draft);
      this.view.messages.put(this.localItem(id, draft, "failed"));
      // The session ended (its contact was merged into another, or its tokens revoked): start a new
      // one, where retrying the draft sends it. Starting over clears the view, so the draft is put back.
      if (err instanceof ApiError && err.status === 401)
        await this.refresh().then(() => this.view.messages.put(this.localItem(id, draft, "failed")), ignore);
    }
  }

  private retry(id: string) {
    const draft = this.failed.get(id);
    if (!draft) return;
    this.failed.delete(id);
    this.view.messages.remove(id);
    void this.send(draft);
  }

  private localItem(id: string, draft: Draft, status: "pending" | "failed"): Item {
    return {
      id,
      seq: Infinity,
      conversationId: this.session?.conversationId ?? "",
      type: "message",
      direction: "in",
      text: draft.text ?? null,
      sender: { type: "contact", name: null },
      status,
      attachments: draft.attachments,
      createdAt: new Date().toISOString(),
    };
  }

  private async attach(file: File) {
    if (file.size > MAX_UPLOAD_BYTES) return this.view.showNotice("tooLarge");
    this.view.showNotice("uploading", { name: file.name }, true);
    let attachment: Attachment;
    try {
      attachment = await this.api.upload(file);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      return this.view.showNotice(status === 413 ? "tooLarge" : status === 415 ? "badType" : "error");
    }
    this.view.showNotice(null);
    await this.send(draft({ attachments: [attachment] }));
  }

  private typing() {
    // Before the first message there is no conversation, so no agent to tell.
    if (!this.session?.conversationId) return;
    this.visitorTyping.typed();
  }

  private async submitProfile(profile: Required<Profile>) {
    this.profile = profile;
    try {
      await this.refresh();
    } catch {
      this.view.showNotice("error");
    }
  }

  private async leaveEmail(email: string) {
    try {
      await this.api.leaveEmail({ email, name: this.profile.name || this.user?.name });
      this.leftEmail = email;
      this.updateForms();
    } catch {
      this.view.showNotice("error");
    }
  }

  /** The pre-chat form comes before a first message; "leave your email" while no agent is online. */
  private updateForms() {
    const session = this.session;
    if (!session) return;
    const known = Boolean(this.user || this.profile.email);
    const prechat = session.inbox.preChatForm && !session.conversationId && !known;
    this.view.showPrechat(prechat);
    this.call.setAvailable(!!session.conversationId, session.inbox.calls === "phone" ? "phone" : "browser");
    // The pre-chat form asks for the email already; one form at a time.
    const askEmail = !session.inbox.agentsOnline && !known && !prechat;
    this.view.setOffline(this.leftEmail ? "thanks" : askEmail ? "ask" : "none", this.leftEmail);
  }
}

function draft(content: { text?: string; attachments?: Attachment[] }): Draft {
  // crypto.randomUUID() needs a secure context, and host pages may still be plain http.
  const clientId = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
  return { clientId, text: content.text, attachments: content.attachments ?? [] };
}

/** For best-effort calls, whose failure a later reconnect or retry makes good. */
function ignore() {}

function readStorage(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    // Storage can be blocked (sandboxed frames, privacy settings): the visitor is then new on every load.
    return null;
  }
}

function writeStorage(key: string, value: string) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // See readStorage.
  }
}
