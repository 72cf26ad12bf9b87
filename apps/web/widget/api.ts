/** The widget's side of the /widget/v1 API. */
import type { IceServerConfig, PeerSignal } from "../rtc/peer.ts";

export type Attachment = { id: string; name: string; contentType: string; size: number; url: string };

export type Item = {
  id: string;
  seq: number;
  conversationId: string;
  type: string;
  direction: "in" | "out";
  text: string | null;
  sender: { type: string; name: string | null };
  /** Server delivery status, or the widget's own "pending" / "failed" for a message still being sent. */
  status: string;
  attachments: Attachment[];
  createdAt: string;
  /** On the visitor's own messages: the id the widget chose when sending. */
  clientId?: string | null;
};

export type Inbox = {
  name: string;
  preChatForm: boolean;
  agentsOnline: boolean;
  greeting: string | null;
  color: string | null;
  /** Where the call button goes (apps/gateway/webchat/widget.ts); older servers say nothing: browser. */
  calls?: "browser" | "phone";
};

export type Session = {
  visitorToken: string;
  conversationId: string | null;
  contact: { id: string; name: string | null };
  inbox: Inbox;
};

export type SessionRequest = {
  inboxKey: string;
  locale: string;
  visitorToken?: string;
  userId?: string;
  userHash?: string;
  name?: string;
  email?: string;
};

export type Article = { id: string; title: string; snippet: string; url: string | null };

export type Page = { items: Item[]; nextCursor: string | null };

/** A frame from /widget/v1/ws. */
export type Frame = {
  seq: number;
  type: string;
  conversationId: string | null;
  item?: Item;
  typing?: boolean;
  sender?: { name: string | null };
  /** call.state */
  call?: CallView;
  /** call.signal */
  callId?: string;
  signal?: PeerSignal;
  /** csat.requested */
  scale?: SurveyRequest["scale"];
  question?: string;
};

/** A satisfaction survey waiting for the visitor's answer (csat.requested, GET /widget/v1/csat). */
export type SurveyRequest = { conversationId: string; scale: "stars" | "thumbs"; question: string };

/** A browser call as the server tells the widget about it (calls/browser-call.ts). */
export type CallView = {
  id: string;
  conversationId: string;
  direction: "in" | "out";
  status: string;
  agentName: string | null;
  answeredAt: string | null;
};

export type CallAnswer = { call: CallView; iceServers: IceServerConfig[] };

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const RATE_LIMIT_RETRIES = 3;

export class Api {
  token: string | null = null;

  constructor(readonly base: string) {}

  session(body: SessionRequest) {
    return this.request<Session>("POST", "/widget/v1/sessions", body);
  }

  history(before?: string) {
    return this.request<Page>("GET", `/widget/v1/messages${before ? `?before=${encodeURIComponent(before)}` : ""}`);
  }

  /** `clientId` makes a retried POST store the message once. */
  send(body: { clientId: string; text?: string; attachments?: string[] }) {
    return this.request<{ item: Item; conversationId: string }>("POST", "/widget/v1/messages", body);
  }

  upload(file: File) {
    const form = new FormData();
    form.append("file", file);
    return this.request<Attachment>("POST", "/widget/v1/attachments", form);
  }

  typing(typing: boolean) {
    return this.request<void>("POST", "/widget/v1/typing", { typing });
  }

  /** Where the visitor stands while their chat waits for an agent. */
  queue() {
    return this.request<{ queued: boolean; position: number | null; estimatedWaitS: number | null }>(
      "GET",
      "/widget/v1/queue",
    );
  }

  /** The survey of the visitor's latest conversation, while it waits for an answer. */
  csat() {
    return this.request<SurveyRequest | null>("GET", "/widget/v1/csat");
  }

  rate(body: { rating: number; comment?: string }) {
    return this.request<void>("POST", "/widget/v1/csat", body);
  }

  /** Public help articles for what the visitor is typing. */
  articles(q: string) {
    return this.request<{ items: Article[] }>("GET", `/widget/v1/articles?q=${encodeURIComponent(q)}`, undefined, 0);
  }

  leaveEmail(body: { email: string; name?: string }) {
    return this.request<void>("POST", "/widget/v1/contact", body);
  }

  /** Browser calls (call.ts): `/widget/v1/calls…`. */
  calls<T>(method: "GET" | "POST", path: string, body?: object) {
    return this.request<T>(method, `/widget/v1/calls${path}`, body);
  }

  /** A hang-up that still goes out while the page unloads (closing the tab ends the call at once). */
  hangUpOnUnload(callId: string) {
    fetch(`${this.base}/widget/v1/calls/${callId}/hangup`, {
      method: "POST",
      keepalive: true,
      headers: { Authorization: `Bearer ${this.token ?? ""}`, "Content-Type": "application/json" },
      body: "{}",
    }).catch(() => {});
  }

  socketUrl(after: number) {
    const url = new URL(`${this.base}/widget/v1/ws`);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("token", this.token ?? "");
    if (after) url.searchParams.set("after", String(after));
    return url.href;
  }

  /**
   * A server-given file URL ("/files/…" is relative to the API base); anything but http(s) is refused.
   * Our own files get the visitor token as `?token=`, since an <img> or a link cannot send a header.
   */
  fileUrl(path: string): string | null {
    let url: URL;
    try {
      url = new URL(path.startsWith("/") ? this.base + path : path);
    } catch {
      return null;
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") return null;
    if (url.href.startsWith(`${this.base}/`) && this.token && !url.searchParams.has("token"))
      url.searchParams.set("token", this.token);
    return url.href;
  }

  private async request<T>(method: string, path: string, body?: object, retries = RATE_LIMIT_RETRIES): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    const isForm = body instanceof FormData;
    if (body && !isForm) headers["Content-Type"] = "application/json";
    const res = await fetch(this.base + path, {
      method,
      headers,
      body: isForm ? body : body && JSON.stringify(body),
    });
    if (res.status === 429 && retries > 0) {
      await sleep(retryAfter(res.headers.get("Retry-After")));
      return this.request(method, path, body, retries - 1);
    }
    if (!res.ok) throw await toError(res);
    // 204s and some 200s (leave your email) have no body.
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
}

async function toError(res: Response): Promise<ApiError> {
  const body = (await res.json().catch(() => null)) as { error?: { code?: string; message?: string } } | null;
  return new ApiError(res.status, body?.error?.code ?? "http_error", body?.error?.message ?? res.statusText);
}

/** Retry-After is either seconds or an HTTP date; capped so a bad header cannot stall the widget. */
function retryAfter(header: string | null): number {
  const seconds = Number(header);
  const ms = header && Number.isFinite(seconds) ? seconds * 1000 : header ? Date.parse(header) - Date.now() : NaN;
  return Math.min(Math.max(Number.isFinite(ms) ? ms : 1000, 0), 30_000);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Exponential backoff with jitter, so a server restart is not met by every widget at once. */
export function backoff(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
}
