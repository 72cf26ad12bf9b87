import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/bun";
import type { WSContext } from "hono/ws";
import { canSeeEvent } from "../../conversations/actor.ts";
import type { DomainEvent } from "../../conversations/event.ts";
import { users } from "../../db/schema/index.ts";
import { errorBody } from "../../platform/errors.ts";
import type { Runtime } from "../runtime.ts";
import { feedSocket, parseAfter } from "../socket.ts";
import { authenticate, tokenFrom } from "./auth.ts";

/** A frame as agents get it: `{seq, type, conversationId, ...payload}` without the routing scope. */
export function agentFrame(e: DomainEvent) {
  const { scope: _scope, previousScope: _previous, ...rest } = e.payload;
  return JSON.stringify({ seq: e.seq, type: e.type, conversationId: e.conversationId, ...rest });
}

const HEARTBEAT_MS = 30_000;

function isDisabled(e: DomainEvent, userId: string) {
  const agent = e.payload.agent as { id?: string; disabled?: boolean } | undefined;
  return agent?.id === userId && agent.disabled === true;
}

/**
 * Agents' realtime socket: `/api/v1/realtime?token=…[&after=<seq>]`, filtered to what the agent may
 * see. Keeps `users.last_seen_at` fresh while open, so every node knows the agent is online.
 */
export function agentRealtime(rt: Runtime) {
  const app = new Hono();
  const db = rt.core.db;
  app.get("/realtime", async (c, next) => {
    const token = tokenFrom(c.req);
    const actor = token ? await authenticate(db, token) : undefined;
    if (!actor) return c.json(errorBody("unauthorized", "Authentication required"), 401);
    const after = parseAfter(c.req.query("after"));
    if (after === "invalid") return c.json(errorBody("invalid", "after must be a non-negative integer seq", "after"), 400);
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    let socket: WSContext | undefined;
    const touch = () => void db.update(users).set({ lastSeenAt: new Date() }).where(eq(users.id, actor.userId)).catch(() => {});
    return upgradeWebSocket(() =>
      feedSocket(rt, {
        workspaceId: actor.workspaceId,
        after,
        filter: (e) => {
          // Disabling an account ends its sessions; a socket opened before must not outlive them. The
          // session is checked again because a replayed event may predate a re-enable.
          if (e.type === "agent.updated" && isDisabled(e, actor.userId)) {
            void authenticate(db, token!).then((still) => still || socket?.close(4401, "Account disabled"), () => {});
            return false;
          }
          return canSeeEvent(actor, e);
        },
        frame: agentFrame,
        hello: { user: { id: actor.userId, role: actor.role } },
        onOpen(ws) {
          socket = ws;
          rt.metrics.sockets.agents++;
          rt.browserCalls.opened({ kind: "agent", actor });
          touch();
          heartbeat = setInterval(touch, HEARTBEAT_MS);
        },
        onClose() {
          rt.metrics.sockets.agents--;
          rt.browserCalls.closed({ kind: "agent", actor });
          clearInterval(heartbeat);
        },
      }),
    )(c, next);
  });
  return app;
}
