import { and, asc, inArray, isNull, lte, sql } from "drizzle-orm";
import type { Tx } from "../db/connect.ts";
import { conversations, slaClocks, tickets } from "../db/schema/index.ts";
import { takeSeqs, type EventLog } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { PollLoop } from "../platform/poll-loop.ts";

export const SWEEP_BATCH = 500;

type Fired = { id: string; workspaceId: string; conversationId: string | null; ticketId: string | null } & {
  policyId: string | null;
  metric: string;
  dueAt: Date | null;
};

/**
 * The statements of one pass: claim up to `batch` clocks past their warning time (or due time) through
 * the partial indexes, mark them with UPDATE … RETURNING. `FOR UPDATE SKIP LOCKED` lets every node
 * sweep at once: a clock is claimed by one transaction, and marked, so it fires once.
 */
export function warningClaim(tx: Tx, now: Date, batch: number) {
  const due = tx
    .select({ id: slaClocks.id })
    .from(slaClocks)
    .where(
      and(
        isNull(slaClocks.stoppedAt),
        isNull(slaClocks.warnedAt),
        isNull(slaClocks.breachedAt),
        lte(slaClocks.warnAt, now),
      ),
    )
    .orderBy(asc(slaClocks.warnAt))
    .limit(batch)
    .for("update", { skipLocked: true });
  return tx
    .update(slaClocks)
    .set({ warnedAt: now })
    .where(and(inArray(slaClocks.id, due), isNull(slaClocks.warnedAt)))
    .returning(returned);
}

export function breachClaim(tx: Tx, now: Date, batch: number) {
  const due = tx
    .select({ id: slaClocks.id })
    .from(slaClocks)
    .where(and(isNull(slaClocks.stoppedAt), isNull(slaClocks.breachedAt), lte(slaClocks.dueAt, now)))
    .orderBy(asc(slaClocks.dueAt))
    .limit(batch)
    .for("update", { skipLocked: true });
  return tx
    .update(slaClocks)
    .set({ breachedAt: now, warnedAt: sql`COALESCE(${slaClocks.warnedAt}, ${now.toISOString()}::timestamptz)` })
    .where(and(inArray(slaClocks.id, due), isNull(slaClocks.breachedAt)))
    .returning(returned);
}

const returned = {
  id: slaClocks.id,
  workspaceId: slaClocks.workspaceId,
  conversationId: slaClocks.conversationId,
  ticketId: slaClocks.ticketId,
  policyId: slaClocks.policyId,
  metric: slaClocks.metric,
  dueAt: slaClocks.dueAt,
};

/** One event per fired clock, with the scope of its conversation or ticket (who may see it). */
async function announce(tx: Tx, log: EventLog, type: "sla.warning" | "sla.breached", fired: Fired[]) {
  if (!fired.length) return;
  const conversationIds = fired.flatMap((f) => (f.conversationId ? [f.conversationId] : []));
  const ticketIds = fired.flatMap((f) => (f.ticketId ? [f.ticketId] : []));
  const scopes = new Map<string, { assigneeId: string | null; teamId: string | null }>();
  const pick = {
    id: sql<string>`id`,
    assigneeId: sql<string | null>`assignee_id`,
    teamId: sql<string | null>`team_id`,
  };
  if (conversationIds.length)
    for (const r of await tx.select(pick).from(conversations).where(inArray(conversations.id, conversationIds)))
      scopes.set(r.id, { assigneeId: r.assigneeId, teamId: r.teamId });
  if (ticketIds.length)
    for (const r of await tx.select(pick).from(tickets).where(inArray(tickets.id, ticketIds)))
      scopes.set(r.id, { assigneeId: r.assigneeId, teamId: r.teamId });
  // One counter update per workspace for the whole batch, not one per event: a sweep fires hundreds.
  const seqs = new Map<string, number>();
  for (const ws of new Set(fired.map((f) => f.workspaceId)))
    seqs.set(ws, await takeSeqs(tx, ws, fired.filter((f) => f.workspaceId === ws).length));
  for (const f of fired) {
    const seq = seqs.get(f.workspaceId)!;
    seqs.set(f.workspaceId, seq + 1);
    await log.append(f.workspaceId, {
      seq,
      type,
      conversationId: f.conversationId,
      payload: {
        metric: f.metric,
        dueAt: f.dueAt?.toISOString() ?? null,
        policyId: f.policyId,
        ticketId: f.ticketId,
        scope: scopes.get((f.conversationId ?? f.ticketId)!) ?? { assigneeId: null, teamId: null },
      },
    });
  }
}

/** One pass: warnings, then breaches; returns the larger count (a full batch means: go again). */
export async function sweepOnce(core: Core, now = new Date(), batch = SWEEP_BATCH) {
  const warned = await withEvents(core, async (tx, log) => {
    const fired = await warningClaim(tx, now, batch);
    await announce(tx, log, "sla.warning", fired);
    return fired.length;
  });
  const breached = await withEvents(core, async (tx, log) => {
    const fired = await breachClaim(tx, now, batch);
    await announce(tx, log, "sla.breached", fired);
    return fired.length;
  });
  return Math.max(warned, breached);
}

/** The SLA sweep of a node: every SLA_SWEEP_MS, at once again while a pass fills its batch. */
export function slaSweep(core: Core, pollMs: number) {
  return new PollLoop("sla sweep", () => sweepOnce(core), { batch: SWEEP_BATCH, pollMs, idleUntilStarted: true });
}
