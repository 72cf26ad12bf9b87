import { and, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { slaClocks, type BusinessHours, type SlaClock, type SlaMetric, type SlaPolicy } from "../db/schema/index.ts";
import { addBusinessTime, businessTimeBetween } from "./calendar.ts";
import { targetMs } from "./policy.ts";

/** Whose clock: a conversation's or a ticket's (exactly one). */
export type ClockSubject = { workspaceId: string } & ({ conversationId: string } | { ticketId: string });

const subjectIs = (s: ClockSubject) =>
  "conversationId" in s ? eq(slaClocks.conversationId, s.conversationId) : eq(slaClocks.ticketId, s.ticketId);

/** Due and warning times of a running clock that has `leftMs` of its target to go from `from`. */
export function plan(
  c: Pick<SlaClock, "hours" | "targetMs" | "warnPercent">,
  from: Date,
  leftMs: number,
): { dueAt: Date; warnAt: Date } {
  const warnLeft = leftMs - Math.round((c.targetMs * (100 - c.warnPercent)) / 100);
  return {
    dueAt: addBusinessTime(c.hours, from, leftMs),
    warnAt: addBusinessTime(c.hours, from, Math.max(0, warnLeft)),
  };
}

/** The live clocks of a subject (running or paused), locked for the caller's transaction. */
export async function liveClocks(tx: Executor, subject: ClockSubject) {
  return tx
    .select()
    .from(slaClocks)
    .where(and(eq(slaClocks.workspaceId, subject.workspaceId), subjectIs(subject), isNull(slaClocks.stoppedAt)))
    .for("update");
}

/** Whether the subject ever had a clock of this measure (a met first response is not started again). */
export async function everStarted(tx: Executor, subject: ClockSubject, metric: SlaMetric) {
  const [row] = await tx
    .select({ id: slaClocks.id })
    .from(slaClocks)
    .where(and(eq(slaClocks.workspaceId, subject.workspaceId), subjectIs(subject), eq(slaClocks.metric, metric)))
    .limit(1);
  return !!row;
}

/**
 * Starts a measure's clock at `at` on a frozen calendar (null = calendar time). The partial unique
 * index makes a second start (another node, a repeated event) a no-op; a policy without a target
 * for the measure starts nothing.
 */
export async function startClock(
  tx: Executor,
  subject: ClockSubject,
  policy: SlaPolicy,
  metric: SlaMetric,
  hours: BusinessHours | null,
  at: Date,
  paused = false,
) {
  const target = targetMs(policy, metric);
  if (target === null) return;
  const clock = { hours, targetMs: target, warnPercent: policy.warnPercent };
  const times = paused ? { dueAt: null, warnAt: null, pausedAt: at, remainingMs: target } : plan(clock, at, target);
  await tx
    .insert(slaClocks)
    .values({
      ...clock,
      ...times,
      workspaceId: subject.workspaceId,
      conversationId: "conversationId" in subject ? subject.conversationId : null,
      ticketId: "ticketId" in subject ? subject.ticketId : null,
      policyId: policy.id,
      metric,
      startedAt: at,
    })
    .onConflictDoNothing();
}

/** Met (or cancelled): the clocks of these measures stop and become history. */
export async function stopClocks(tx: Executor, subject: ClockSubject, metrics: readonly SlaMetric[], at: Date) {
  if (!metrics.length) return;
  await tx
    .update(slaClocks)
    .set({ stoppedAt: at })
    .where(
      and(
        eq(slaClocks.workspaceId, subject.workspaceId),
        subjectIs(subject),
        isNull(slaClocks.stoppedAt),
        inArray(slaClocks.metric, [...metrics]),
      ),
    );
}

/** Waiting on the customer: each running clock keeps the business time it had left; due times go. */
export async function pauseClocks(tx: Executor, clocks: SlaClock[], at: Date) {
  for (const c of clocks) {
    if (c.pausedAt || !c.dueAt) continue;
    const left = c.dueAt > at ? businessTimeBetween(c.hours, at, c.dueAt) : 0;
    await tx
      .update(slaClocks)
      .set({ pausedAt: at, remainingMs: left, dueAt: null, warnAt: null })
      .where(and(eq(slaClocks.id, c.id), isNull(slaClocks.pausedAt)));
  }
}

/** The customer is back: paused clocks run again from what they had left. */
export async function resumeClocks(tx: Executor, clocks: SlaClock[], at: Date) {
  for (const c of clocks) {
    if (!c.pausedAt) continue;
    const times = plan(c, at, c.remainingMs ?? c.targetMs);
    await tx
      .update(slaClocks)
      .set({ ...times, pausedAt: null, remainingMs: null })
      .where(and(eq(slaClocks.id, c.id), isNotNull(slaClocks.pausedAt)));
  }
}

/**
 * The subject's policy or calendar changed (its queue was set after routing): a running clock takes
 * the new policy's target on the new calendar as if they had applied from its start; a measure the
 * new policy has no target for stops. Paused clocks keep what they had left.
 */
export async function replanClocks(
  tx: Executor,
  clocks: SlaClock[],
  policy: SlaPolicy,
  hours: BusinessHours | null,
  at: Date,
) {
  for (const c of clocks) {
    const target = targetMs(policy, c.metric);
    if (target === null) {
      await tx.update(slaClocks).set({ stoppedAt: at }).where(eq(slaClocks.id, c.id));
      continue;
    }
    const same = c.policyId === policy.id && c.targetMs === target && JSON.stringify(c.hours) === JSON.stringify(hours);
    if (same) continue;
    const next = { hours, targetMs: target, warnPercent: policy.warnPercent };
    const times = c.pausedAt ? {} : plan(next, c.startedAt, target);
    await tx
      .update(slaClocks)
      .set({ ...next, ...times, policyId: policy.id })
      .where(eq(slaClocks.id, c.id));
  }
}

/** The nearest due time of a subject's running clocks (tickets keep it in `due_at`). */
export async function nearestDueAt(tx: Executor, subject: ClockSubject): Promise<Date | null> {
  const [row] = await tx
    .select({ due: sql<string | null>`min(${slaClocks.dueAt})` })
    .from(slaClocks)
    .where(and(eq(slaClocks.workspaceId, subject.workspaceId), subjectIs(subject), isNull(slaClocks.stoppedAt)));
  return row?.due ? new Date(row.due) : null;
}
