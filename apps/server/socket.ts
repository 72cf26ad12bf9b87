import type { WSContext, WSEvents } from "hono/ws";
import type { DomainEvent } from "../../conversations/event.ts";
import { log } from "../../platform/log.ts";
import type { Runtime } from "./runtime.ts";

export type FeedSocketOptions = {
  workspaceId: string;
  after: number | undefined;
  filter(e: DomainEvent): boolean;
  /** The frame a client gets for an event; undefined drops it. */
  frame(e: DomainEvent): string | undefined;
  hello: Record<string, unknown>;
  /** The conversations a replay may read (a visitor's); without it, the workspace's events. */
  replayConversations?(): Promise<string[]>;
  /** At most this many events in one replay, else `resync`. */
  replayLimit?: number;
  onOpen?(ws: WSContext): void;
  onClose?(): void;
  onMessage?(data: string, ws: WSContext): void;
};

/**
 * One WebSocket on the event feed: `hello` first, then what was missed after `after` (or `resync`
 * when that is too much), then live events — each exactly once, in seq order (feed.ts). Every frame's
 * `seq` is a safe resume point: `hello.seq` is where the replay starts (the `after` given, else the
 * head) and `hello.head` the newest seq; frames that are not events carry the seq last delivered.
 */
export function feedSocket(rt: Runtime, o: FeedSocketOptions): WSEvents {
  let unsubscribe: (() => void) | undefined;
  let closed = false;
  return {
    async onOpen(_evt, ws) {
      o.onOpen?.(ws);
      try {
        const sub = await rt.feed.subscribe(
          o.workspaceId,
          {
            filter: o.filter,
            deliver: (e) => {
              const f = o.frame(e);
              if (f !== undefined) ws.send(f);
            },
            start: (seq, head) =>
              ws.send(JSON.stringify({ seq, head, type: "hello", conversationId: null, ...o.hello })),
            // More was missed than one replay holds: the client reloads its views, then resumes after `seq`.
            resync: (seq) => ws.send(JSON.stringify({ seq, type: "resync", conversationId: null })),
            replayConversations: o.replayConversations,
            replayLimit: o.replayLimit,
          },
          o.after,
        );
        unsubscribe = sub.unsubscribe;
        // The socket closed while the replay was running: nothing is left to deliver to.
        if (closed) unsubscribe();
      } catch (err) {
        log.error("realtime: subscribe failed", { err });
        ws.close(1011, "subscribe failed");
      }
    },
    onMessage(evt, ws) {
      if (typeof evt.data !== "string") return;
      if (evt.data === "ping") ws.send("pong");
      else o.onMessage?.(evt.data, ws);
    },
    onClose() {
      closed = true;
      unsubscribe?.();
      o.onClose?.();
    },
  };
}

/** `after` from the query: absent, or a non-negative integer seq. */
export function parseAfter(raw: string | undefined): number | undefined | "invalid" {
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 0 ? n : "invalid";
}

/**
 * Sockets open at once per key (a visitor, a client IP) on this node. A slot is taken before the
 * upgrade, so a burst of handshakes cannot all pass the check, and given back when the socket closes.
 */
export class SocketSlots {
  private open = new Map<string, number>();

  constructor(private readonly limit: number) {}

  take(key: string) {
    const n = this.open.get(key) ?? 0;
    if (n >= this.limit) return false;
    this.open.set(key, n + 1);
    return true;
  }

  release(key: string) {
    const n = (this.open.get(key) ?? 1) - 1;
    if (n > 0) this.open.set(key, n);
    else this.open.delete(key);
  }
}
