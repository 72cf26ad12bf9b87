import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/bun";
import type { WSContext } from "hono/ws";
import { isVisitorClaims } from "../../../channels/webchat/index.ts";
import type { TimelineView } from "../../../conversations/timeline.ts";
import { conversations } from "../../../db/schema/index.ts";
import { errorBody } from "../../../platform/errors.ts";
import { clientIp } from "../../server/client-ip.ts";
import type { Runtime } from "../../server/runtime.ts";
import { feedSocket, parseAfter, SocketSlots } from "../../server/socket.ts";
import { widgetCallFrame } from "./call.ts";
import { visitorContact, visitorView } from "./visitor.ts";

/** How often an open widget socket checks that its token still names a live contact (revocation). */
const VISITOR_RECHECK_MS = 30_000;

/**
 * The visitor's socket: `/widget/v1/ws?token=…[&after=seq]`, public web chat events of their contact.
 * Anonymous and cheap to open, so bounded: sockets per visitor and per client IP (429 beyond), and a
 * replay reads only the visitor's own conversations' events, at most `WIDGET_REPLAY_LIMIT` of them
 * (beyond, `resync`: the widget reloads its history by HTTP).
 */
export function widgetSocket(rt: Runtime) {
  const app = new Hono();
  const db = rt.core.db;
  const limits = rt.config.widgetSockets;
  const perVisitor = new SocketSlots(limits.perVisitor);
  const perIp = new SocketSlots(limits.perIp);
  app.get("/ws", async (c, next) => {
    const claims = rt.keyring.verifyToken<unknown>(c.req.query("token") ?? "");
    if (!isVisitorClaims(claims)) return c.json(errorBody("unauthorized", "Invalid visitor token"), 401);
    if (!(await visitorContact(db, claims)))
      return c.json(errorBody("unauthorized", "This chat session has ended; start a new one"), 401);
    const after = parseAfter(c.req.query("after"));
    if (after === "invalid")
      return c.json(errorBody("invalid", "after must be a non-negative integer seq", "after"), 400);
    const ip = clientIp(rt.config.trustProxy, c);
    if (!perIp.take(ip))
      return c.json(errorBody("rate_limited", `At most ${limits.perIp} chat sockets per address`), 429);
    if (!perVisitor.take(claims.c)) {
      perIp.release(ip);
      return c.json(errorBody("rate_limited", `At most ${limits.perVisitor} chat sockets per visitor`), 429);
    }
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      perIp.release(ip);
      perVisitor.release(claims.c);
    };
    // A socket must not outlive its token: a merge retires it at once (the event), a revocation by an
    // agent within a check interval. 4401 tells the widget to start a fresh session, not to reconnect.
    let socket: WSContext | undefined;
    let recheck: ReturnType<typeof setInterval> | undefined;
    const ended = () => socket?.close(4401, "Session ended");
    const stillValid = () =>
      void visitorContact(db, claims).then(
        (still) => still || ended(),
        () => {},
      );
    const upgraded = await upgradeWebSocket(() =>
      feedSocket(rt, {
        workspaceId: claims.w,
        after,
        replayConversations: async () =>
          (
            await db
              .select({ id: conversations.id })
              .from(conversations)
              .where(and(eq(conversations.workspaceId, claims.w), eq(conversations.contactId, claims.c)))
          ).map((r) => r.id),
        replayLimit: limits.replayLimit,
        filter: (e) => {
          if (e.type === "contact.merged" && e.payload.mergedId === claims.c) ended();
          return e.public && e.payload.scope?.contactId === claims.c;
        },
        frame: (e) => {
          if (e.type.startsWith("call.")) return widgetCallFrame(e);
          if (e.type === "csat.requested")
            return JSON.stringify({
              seq: e.seq,
              type: e.type,
              conversationId: e.conversationId,
              scale: e.payload.scale,
              question: e.payload.question,
            });
          if (e.type === "typing")
            return JSON.stringify({
              seq: e.seq,
              type: e.type,
              conversationId: e.conversationId,
              typing: e.payload.typing,
              sender: { name: (e.payload.sender as { name?: string }).name ?? null },
            });
          const item = e.payload.item as TimelineView | undefined;
          if (!item || item.channel !== "webchat") return undefined;
          return JSON.stringify({
            seq: e.seq,
            type: e.type,
            conversationId: e.conversationId,
            item: visitorView(item),
          });
        },
        hello: {},
        onOpen: (ws) => {
          socket = ws;
          recheck = setInterval(stillValid, VISITOR_RECHECK_MS);
          rt.metrics.sockets.widgets++;
          rt.browserCalls.opened({ kind: "visitor", workspaceId: claims.w, contactId: claims.c });
        },
        onClose: () => {
          clearInterval(recheck);
          release();
          rt.metrics.sockets.widgets--;
          rt.browserCalls.closed({ kind: "visitor", workspaceId: claims.w, contactId: claims.c });
        },
      }),
    )(c, next);
    // Not a WebSocket handshake: no socket will close to give the slots back.
    if (!upgraded) release();
    return upgraded;
  });
  return app;
}
