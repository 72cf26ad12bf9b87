import { and, eq, gte, inArray, or } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { isOpen } from "./hours.ts";
import { agentStates, queues, workItems, type SkillRequirement } from "../db/schema/index.ts";
import { channelClass, DEFAULT_CAPACITY } from "./acd.ts";
import { skillLevelsOf } from "./agent.ts";
import { DEFAULT_AHT_S, estimateWait, MIN_HANDLED_FOR_AHT } from "./estimate.ts";

type ItemTimes = { state: string; enqueuedAt: Date; answeredAt: Date | null; endedAt: Date | null; estimatedWaitSeconds?: number | null };

/**
 * A queue's figures for the supervisor's live view, from its work items since `since` (today) and
 * those still waiting. Pure: the caller loads the rows.
 */
export function queueFigures(items: ItemTimes[], serviceLevelSeconds: number, now: Date) {
  const waiting = items.filter((i) => i.state === "waiting" || i.state === "reserved");
  const answered = items.filter((i) => i.answeredAt);
  const abandoned = items.filter((i) => i.state === "abandoned");
  const waitOf = (i: ItemTimes) => ((i.answeredAt ?? now).getTime() - i.enqueuedAt.getTime()) / 1000;
  const withinTarget = answered.filter((i) => waitOf(i) <= serviceLevelSeconds).length;
  // Still waiting past the target already counts against the service level.
  const overdue = waiting.filter((i) => waitOf(i) > serviceLevelSeconds).length;
  const judged = answered.length + abandoned.length + overdue;
  const handled = answered.filter((i) => i.endedAt);
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const estimated = answered.filter((i) => i.estimatedWaitSeconds != null);
  return {
    waiting: waiting.length,
    longestWaitS: waiting.length ? Math.max(...waiting.map(waitOf)) : 0,
    offered: items.length,
    answered: answered.length,
    abandoned: abandoned.length,
    handled: handled.length,
    serviceLevel: judged ? withinTarget / judged : null,
    asaS: mean(answered.map(waitOf)),
    ahtS: mean(handled.map((i) => (i.endedAt!.getTime() - i.answeredAt!.getTime()) / 1000)),
    // How far the waits announced were from the waits that followed (mean absolute error).
    estimateErrorS: mean(estimated.map((i) => Math.abs(waitOf(i) - i.estimatedWaitSeconds!))),
  };
}

function meetsSkills(levels: Record<string, number>, required: SkillRequirement[]) {
  return required.every((r) => (levels[r.skill] ?? 0) >= r.minLevel);
}

/** Every queue of the workspace with its live figures and the agents available to it. */
export async function liveQueues(db: Executor, workspaceId: string, now = new Date()) {
  const startOfDay = new Date(now);
  startOfDay.setHours(0, 0, 0, 0);
  const [qs, items, routable] = await Promise.all([
    db.select().from(queues).where(eq(queues.workspaceId, workspaceId)),
    db
      .select({
        queueId: workItems.queueId,
        state: workItems.state,
        enqueuedAt: workItems.enqueuedAt,
        answeredAt: workItems.answeredAt,
        endedAt: workItems.endedAt,
        estimatedWaitSeconds: workItems.estimatedWaitSeconds,
      })
      .from(workItems)
      .where(and(eq(workItems.workspaceId, workspaceId), or(gte(workItems.enqueuedAt, startOfDay), inArray(workItems.state, ["waiting", "reserved"])))),
    db
      .select({ userId: agentStates.userId, presence: agentStates.presence, capacity: agentStates.capacity })
      .from(agentStates)
      .where(and(eq(agentStates.workspaceId, workspaceId), inArray(agentStates.presence, ["available", "busy"]))),
  ]);
  const levelsOf = await skillLevelsOf(db, routable.map((a) => a.userId));
  return qs
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((q) => {
      const figures = queueFigures(items.filter((i) => i.queueId === q.id), q.serviceLevelSeconds, now);
      const able = routable.filter((a) => meetsSkills(levelsOf.get(a.userId)!, q.requiredSkills));
      // Seats for the queue's (first) channel among signed-in agents who could take its work.
      const cls = channelClass(q.channels[0] ?? "webchat");
      const seats = able.reduce((n, a) => n + ({ ...DEFAULT_CAPACITY, ...a.capacity })[cls], 0);
      return {
        id: q.id,
        name: q.name,
        serviceLevelSeconds: q.serviceLevelSeconds,
        ...figures,
        agentsAvailable: able.filter((a) => a.presence === "available").length,
        // What a customer arriving now would be told.
        estimatedWaitS: estimateWait({ position: figures.waiting + 1, ahtSeconds: figures.handled >= MIN_HANDLED_FOR_AHT ? figures.ahtS! : DEFAULT_AHT_S, seats }),
        open: isOpen(q.businessHours, now),
        maxWaitSeconds: q.maxWaitSeconds,
      };
    })
    .map(({ maxWaitSeconds, ...q }) => ({ ...q, alerts: alertsFor(q, maxWaitSeconds) }));
}

/** The default thresholds a supervisor is alerted at: a queue longer than this, or waiting too long. */
export const ALERT_WAITING = 10;
export const ALERT_LONGEST_WAIT_S = 60;

export type QueueAlert = { kind: "waiting" | "longest_wait"; value: number; threshold: number };

/** Alerts for one queue's figures; a queue's own max wait replaces the default wait threshold. */
export function alertsFor(figures: { waiting: number; longestWaitS: number }, maxWaitSeconds: number | null): QueueAlert[] {
  const alerts: QueueAlert[] = [];
  if (figures.waiting > ALERT_WAITING) alerts.push({ kind: "waiting", value: figures.waiting, threshold: ALERT_WAITING });
  const limit = maxWaitSeconds ?? ALERT_LONGEST_WAIT_S;
  if (figures.longestWaitS > limit) alerts.push({ kind: "longest_wait", value: Math.round(figures.longestWaitS), threshold: limit });
  return alerts;
}
