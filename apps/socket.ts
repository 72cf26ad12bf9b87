import type { WSContext, WSEvents } from "hono/ws";
import type { DomainEvent } from "../conversations/event.ts";
import { log } from "../platform/log.ts";
import type { Runtime } from "./runtime.ts";

export type FeedSocketOptions = {
  workspaceId: string;
  after: number | undefined;
  filter(e: DomainEvent): boolean;
  /** The frame a client gets for an event; undefined drops it. */
  frame(e: DomainEvent): string | undefined;
  hello: Record<string, unknown>;
  onOpen?(ws: WSContext): void;
  onClose?(): void;
  onMessage?(data: string, ws: WSContext): void;
};

/**
 * One WebSocket on the event feed: `hello` (with the newest seq) first, then what was missed after
 * `after`, then live events — each exactly once, in seq order (feed.ts).
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
            start: (seq) => ws.send(JSON.stringify({ seq, type: "hello", conversationId: null, ...o.hello })),
          },
          o.after,
        );
        unsubscribe = sub.unsubscribe;
        // The socket closed while the replay was running: nothing is left to deliver to.
        if (closed) unsubscribe();
        // More was missed than one replay holds: the client should reload its views.
        else if (sub.truncated) ws.send(JSON.stringify({ seq: sub.seq, type: "resync", conversationId: null }));
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
