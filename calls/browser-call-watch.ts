import { and, eq, gt, inArray, lt, or } from "drizzle-orm";
import { endStatus, liveCallsOf, tellVisitor, type BrowserCallView, type CallParty } from "./browser-call.ts";
import { changeCallWithin, isFinal } from "./call.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { agentStates, calls, conversations, queues, users, workspaces, type Call } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import { setPresence, startWrapUp, WRAP_UP_SECONDS } from "../routing/presence.ts";

/** How often ringing and connecting browser calls are checked for their timeouts. */
const SWEEP_MS = 5_000;
/** Unanswered this long → no_answer. */
export const RING_TIMEOUT_MS = 30_000;
/** Answered but media never came up this long → failed. */
export const CONNECT_TIMEOUT_MS = 30_000;

/**
 * Ends browser calls whose browser went away. A closed tab closes its socket: when a party has no
 * socket left on this node for `graceMs` (long enough to ride out a reconnect), their live calls
 * end. Normally the closing page has already said so (a keep-alive hang-up on `pagehide`) and the
 * other browser sees its peer connection drop; this catches a crashed tab or a lost network. Also
 * runs the ring and connect timeouts (`expireCalls`), and keeps the
 * agent's presence with the call as phone calls do: busy while talking, wrap-up after.
 */
export class BrowserCallWatch {
  graceMs = 10_000;
  private sockets = new Map<string, number>();
  private pending = new Map<string, ReturnType<typeof setTimeout>>();
  private sweep: ReturnType<typeof setInterval>;
  private unsubscribe: () => void;

  constructor(private readonly core: Core) {
    this.sweep = setInterval(() => {
      expireCalls(core).catch((err: unknown) => log.error("browser calls: expiry sweep failed", { err }));
    }, SWEEP_MS);
    this.sweep.unref?.();
    // Every change of a browser call is told to its visitor as `call.state`; the agent's presence
    // follows the same news. Every node hears it: setPresence leaves an unchanged presence alone.
    this.unsubscribe = core.bus.subscribe((m) => {
      if (!("type" in m) || m.type !== "call.state") return;
      void this.followPresence(m.workspaceId, m.payload.call as BrowserCallView).catch((err: unknown) =>
        log.error("browser calls: presence update failed", { err }),
      );
    });
  }

  private async followPresence(workspaceId: string, call: BrowserCallView) {
    if (!call.agentId) return;
    const [state] = await this.core.db
      .select({ presence: agentStates.presence })
      .from(agentStates)
      .where(eq(agentStates.userId, call.agentId));
    // Talking: busy, as an accepted phone call makes them (an agent who set themselves away stays so).
    if (call.status === "connected") {
      if (state?.presence === "available")
        await setPresence(this.core, workspaceId, call.agentId, { presence: "busy" });
      return;
    }
    // A call that was talked ends in wrap-up: the conversation's queue's time, else the voice default.
    if (
      call.status !== "completed" ||
      !call.answeredAt ||
      (state?.presence !== "busy" && state?.presence !== "available")
    )
      return;
    const [q] = await this.core.db
      .select({ wrapUpSeconds: queues.wrapUpSeconds })
      .from(conversations)
      .innerJoin(queues, eq(queues.id, conversations.queueId))
      .where(eq(conversations.id, call.conversationId));
    await startWrapUp(this.core, workspaceId, call.agentId, q?.wrapUpSeconds ?? WRAP_UP_SECONDS.voice);
  }

  opened(party: CallParty) {
    const key = keyOf(party);
    this.sockets.set(key, (this.sockets.get(key) ?? 0) + 1);
    clearTimeout(this.pending.get(key));
    this.pending.delete(key);
  }

  closed(party: CallParty) {
    const key = keyOf(party);
    const left = (this.sockets.get(key) ?? 1) - 1;
    if (left > 0) return void this.sockets.set(key, left);
    this.sockets.delete(key);
    const closedAt = new Date();
    clearTimeout(this.pending.get(key));
    const timer = setTimeout(() => {
      this.pending.delete(key);
      if (this.sockets.has(key)) return;
      void this.endIfGone(party, closedAt).catch((err: unknown) =>
        log.error("browser calls: ending a departed party's calls failed", { err }),
      );
    }, this.graceMs);
    timer.unref?.();
    this.pending.set(key, timer);
  }

  private async endIfGone(party: CallParty, closedAt: Date) {
    // An agent's socket on any node keeps users.last_seen_at fresh: back on another node, stay.
    if (party.kind === "agent") {
      const [back] = await this.core.db
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.id, party.actor.userId), gt(users.lastSeenAt, closedAt)));
      if (back) return;
    }
    await endCallsOf(this.core, party);
  }

  close() {
    this.unsubscribe();
    clearInterval(this.sweep);
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
  }
}

const keyOf = (p: CallParty) => (p.kind === "visitor" ? `v:${p.workspaceId}:${p.contactId}` : `a:${p.actor.userId}`);

/**
 * Housekeeping, on every node (row locks and sticky final statuses make that safe): calls that rang
 * unanswered for RING_TIMEOUT_MS become no_answer; answered calls whose media never came up within
 * CONNECT_TIMEOUT_MS become failed.
 */
export async function expireCalls(core: Core, now = new Date()) {
  const stale = await core.db
    .select({ id: calls.id })
    .from(calls)
    .where(
      and(
        // Per workspace, so the (workspace_id, status) index finds the few live calls among all calls ever made.
        inArray(calls.workspaceId, core.db.select({ id: workspaces.id }).from(workspaces)),
        inArray(calls.status, ["ringing", "connecting"]),
        eq(calls.provider, "webrtc"),
        or(
          and(eq(calls.status, "ringing"), lt(calls.startedAt, new Date(now.getTime() - RING_TIMEOUT_MS))),
          and(eq(calls.status, "connecting"), lt(calls.updatedAt, new Date(now.getTime() - CONNECT_TIMEOUT_MS))),
        ),
      ),
    );
  const ended: Call[] = [];
  for (const { id } of stale) {
    const { before, after } = await withEvents(core, (tx, events) =>
      changeCallWithin(
        tx,
        events,
        id,
        (call) =>
          call.status === "ringing"
            ? { status: "no_answer" }
            : call.status === "connecting"
              ? { status: "failed" }
              : null,
        now,
      ),
    );
    if (after.status !== before.status) {
      ended.push(after);
      await tellVisitor(core, after);
    }
  }
  return ended;
}

/**
 * A side's browser went away (its socket closed and did not come back): its live calls end — talk
 * that had started completes, anything before that fails or goes unanswered.
 */
export async function endCallsOf(core: Core, party: CallParty) {
  const live = await liveCallsOf(core.db, party);
  const ended: Call[] = [];
  for (const call of live) {
    // A ringing inbound call waits for any agent; one agent closing a tab does not end it.
    if (party.kind === "agent" && call.status === "ringing" && call.direction === "in") continue;
    const { before, after } = await withEvents(core, (tx, events) =>
      changeCallWithin(tx, events, call.id, (c) => {
        if (isFinal(c.status)) return null;
        if (c.status === "connected" || c.status === "on_hold") return { status: "completed" };
        return { status: c.status === "ringing" ? endStatus(c, party.kind, "hangup") : "failed" };
      }),
    );
    if (after.status !== before.status) {
      ended.push(after);
      await tellVisitor(core, after);
    }
  }
  return ended;
}
