import { eq } from "drizzle-orm";
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/bun";
import type { WSContext } from "hono/ws";
import { canSeeEvent, type Actor } from "../../conversations/actor.ts";
import type { DomainEvent } from "../../conversations/event.ts";
import { users } from "../../db/schema/index.ts";
import { errorBody } from "../../platform/errors.ts";
import { log } from "../../platform/log.ts";
import type { Runtime } from "../server/runtime.ts";
import { feedSocket, parseAfter } from "../server/socket.ts";
import { authenticate, tokenFrom } from "./auth.ts";
import { maskFrame } from "./masking.ts";

/** A frame as agents get it: `{seq, type, conversationId, ...payload}` without the routing scope. */
export function agentFrame(e: DomainEvent) {
  const { scope: _scope, previousScope: _previous, ...rest } = e.payload;
  return JSON.stringify({ seq: e.seq, type: e.type, conversationId: e.conversationId, ...rest });
}

const HEARTBEAT_MS = 30_000;

/** Whom an account or team event concerns. */
const agentOf = (e: DomainEvent) =>
  e.payload.agent as { id?: string; role?: Actor["role"]; disabled?: boolean } | undefined;
const teamOf = (e: DomainEvent) => e.payload.team as { id?: string; memberIds?: string[] } | undefined;

/**
 * What an open socket may see follows its session, on every node: the events that change it (this
 * user's `agent.updated`, any `team.updated`, this user's `session.ended`) are stored events, so every
 * node's feed brings them in seq order. Role and teams are taken from the event at once, so the next
 * event is already filtered by them; the session is then checked again in the database, and the
 * socket closes when its token no longer signs in (logout, disabling, expiry). The heartbeat checks
 * too, for anything no event announced.
 */
class SocketSession {
  /** Bumped by every change and every check: only the newest check may overwrite the actor. */
  private generation = 0;
  socket: WSContext | undefined;

  constructor(
    private readonly db: Runtime["core"]["db"],
    private readonly token: string,
    readonly actor: Actor,
  ) {}

  /** The visibility filter, after applying what the event says about this user. */
  filter(e: DomainEvent) {
    const me = this.actor.userId;
    if (e.type === "agent.updated" && agentOf(e)?.id === me) {
      const agent = agentOf(e)!;
      if (agent.role) this.actor.role = agent.role;
      this.recheck();
      // A disabled account's own event is not shown: the socket is about to close.
      if (agent.disabled) return false;
    } else if (e.type === "team.updated" && teamOf(e)?.id) {
      const team = teamOf(e)!;
      const member = team.memberIds?.includes(me) ?? false;
      if (member !== this.actor.teamIds.includes(team.id!)) {
        this.actor.teamIds = member
          ? [...this.actor.teamIds, team.id!]
          : this.actor.teamIds.filter((t) => t !== team.id);
        this.recheck();
      }
    } else if (e.type === "session.ended" && (e.payload.onlyFor as { userId?: string } | undefined)?.userId === me) {
      this.recheck();
    }
    return canSeeEvent(this.actor, e);
  }

  /** Signs the token in again: closes the socket if that fails, else takes the role and teams it has now. */
  recheck() {
    const generation = ++this.generation;
    authenticate(this.db, this.token).then(
      (fresh) => {
        if (!fresh) return this.socket?.close(4401, "Session ended");
        if (generation !== this.generation) return;
        this.actor.role = fresh.role;
        this.actor.teamIds = fresh.teamIds;
        this.actor.name = fresh.name;
      },
      (err: unknown) => log.warn("realtime: session check failed", { err }),
    );
  }
}

/**
 * Agents' realtime socket: `/api/v1/realtime?token=…[&after=<seq>]`, filtered to what the agent may
 * see now (SocketSession). Keeps `users.last_seen_at` fresh while open, so every node knows the agent
 * is online.
 */
export function agentRealtime(rt: Runtime) {
  const app = new Hono();
  const db = rt.core.db;
  app.get("/realtime", async (c, next) => {
    const token = tokenFrom(c.req);
    const actor = token ? await authenticate(db, token) : undefined;
    if (!actor || !token) return c.json(errorBody("unauthorized", "Authentication required"), 401);
    const after = parseAfter(c.req.query("after"));
    if (after === "invalid")
      return c.json(errorBody("invalid", "after must be a non-negative integer seq", "after"), 400);
    let heartbeat: ReturnType<typeof setInterval> | undefined;
    const session = new SocketSession(db, token, actor);
    const touch = () =>
      void db
        .update(users)
        .set({ lastSeenAt: new Date() })
        .where(eq(users.id, actor.userId))
        .catch(() => {});
    return upgradeWebSocket(() =>
      feedSocket(rt, {
        workspaceId: actor.workspaceId,
        after,
        filter: (e) => session.filter(e),
        // Masked by the agent's role at the time of each frame, as the API masks its answers.
        frame: (e) => maskFrame(session.actor, agentFrame(e)),
        hello: { user: { id: actor.userId, role: actor.role } },
        onOpen(ws) {
          session.socket = ws;
          rt.metrics.sockets.agents++;
          rt.browserCalls.opened({ kind: "agent", actor });
          touch();
          // A change between the sign-in check above and the subscription is caught here.
          session.recheck();
          heartbeat = setInterval(() => {
            touch();
            session.recheck();
          }, HEARTBEAT_MS);
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
