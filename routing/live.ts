import { and, eq, inArray, sql } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import { isOpen } from "./hours.ts";
import { agentStates, queues, workItems, type SkillRequirement } from "../db/schema/index.ts";
import { channelClass, DEFAULT_CAPACITY } from "./acd.ts";
import { skillLevelsOf } from "./agent.ts";
import { DEFAULT_AHT_S, estimateWait, MIN_HANDLED_FOR_AHT } from "./estimate.ts";

type ItemTimes = {
  state: string;
  enqueuedAt: Date;
  answeredAt: Date | null;
  endedAt: Date | null;
  estimatedWaitSeconds?: number | null;
};

/** The sums a queue's figures are made from; the database computes the same ones (loadTotals). */
export type QueueTotals = {
  waiting: number;
  longestWaitS: number;
  offered: number;
  answered: number;
  abandoned: number;
  handled: number;
  withinTarget: number;
  overdue: number;
  answerWaitSumS: number;
  handleSumS: number;
  estimated: number;
  estimateErrorSumS: number;
};

/** The definition of the totals, over a queue's rows (today's work and what still waits). */
export function totalsOf(items: ItemTimes[], serviceLevelSeconds: number, now: Date): QueueTotals {
  const waitOf = (i: ItemTimes) => ((i.answeredAt ?? now).getTime() - i.enqueuedAt.getTime()) / 1000;
  const waiting = items.filter((i) => i.state === "waiting" || i.state === "reserved");
  const answered = items.filter((i) => i.answeredAt);
  const handled = answered.filter((i) => i.endedAt);
  const estimated = answered.filter((i) => i.estimatedWaitSeconds != null);
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return {
    waiting: waiting.length,
    longestWaitS: waiting.length ? Math.max(...waiting.map(waitOf)) : 0,
    offered: items.length,
    answered: answered.length,
    abandoned: items.filter((i) => i.state === "abandoned").length,
    handled: handled.length,
    withinTarget: answered.filter((i) => waitOf(i) <= serviceLevelSeconds).length,
    // Still waiting past the target already counts against the service level.
    overdue: waiting.filter((i) => waitOf(i) > serviceLevelSeconds).length,
    answerWaitSumS: sum(answered.map(waitOf)),
    handleSumS: sum(handled.map((i) => (i.endedAt!.getTime() - i.answeredAt!.getTime()) / 1000)),
    estimated: estimated.length,
    estimateErrorSumS: sum(estimated.map((i) => Math.abs(waitOf(i) - i.estimatedWaitSeconds!))),
  };
}

/** What a wallboard shows, from the totals. */
export function figuresFrom(t: QueueTotals) {
  const judged = t.answered + t.abandoned + t.overdue;
  return {
    waiting: t.waiting,
    longestWaitS: t.longestWaitS,
    offered: t.offered,
    answered: t.answered,
    abandoned: t.abandoned,
    handled: t.handled,
    serviceLevel: judged ? t.withinTarget / judged : null,
    asaS: t.answered ? t.answerWaitSumS / t.answered : null,
    ahtS: t.handled ? t.handleSumS / t.handled : null,
    // How far the waits announced were from the waits that followed (mean absolute error).
    estimateErrorS: t.estimated ? t.estimateErrorSumS / t.estimated : null,
  };
}

export function queueFigures(items: ItemTimes[], serviceLevelSeconds: number, now: Date) {
  return figuresFrom(totalsOf(items, serviceLevelSeconds, now));
}

/**
 * The same totals summed by the database, per queue: the live view runs every few seconds and must
 * not pull a busy day's work items into the node to count them.
 */
export async function loadTotals(
  db: Executor,
  workspaceId: string,
  since: Date,
  now: Date,
): Promise<Map<string, QueueTotals>> {
  const at = sql`${now.toISOString()}::timestamptz`;
  const wait = sql`extract(epoch from (coalesce(w.answered_at, ${at}) - w.enqueued_at))`;
  const live = sql`w.state IN ('waiting', 'reserved')`;
  const rows = rowsOf<Record<string, string | number | null>>(
    await db.execute(sql`
      SELECT w.queue_id AS "queueId",
        count(*) FILTER (WHERE ${live}) AS waiting,
        coalesce(max(${wait}) FILTER (WHERE ${live}), 0) AS "longestWaitS",
        count(*) AS offered,
        count(w.answered_at) AS answered,
        count(*) FILTER (WHERE w.state = 'abandoned') AS abandoned,
        count(*) FILTER (WHERE w.answered_at IS NOT NULL AND w.ended_at IS NOT NULL) AS handled,
        count(*) FILTER (WHERE w.answered_at IS NOT NULL AND ${wait} <= q.service_level_seconds) AS "withinTarget",
        count(*) FILTER (WHERE ${live} AND ${wait} > q.service_level_seconds) AS overdue,
        coalesce(sum(${wait}) FILTER (WHERE w.answered_at IS NOT NULL), 0) AS "answerWaitSumS",
        coalesce(sum(extract(epoch from (w.ended_at - w.answered_at))) FILTER (WHERE w.answered_at IS NOT NULL AND w.ended_at IS NOT NULL), 0) AS "handleSumS",
        count(*) FILTER (WHERE w.answered_at IS NOT NULL AND w.estimated_wait_seconds IS NOT NULL) AS estimated,
        coalesce(sum(abs(${wait} - w.estimated_wait_seconds)) FILTER (WHERE w.answered_at IS NOT NULL AND w.estimated_wait_seconds IS NOT NULL), 0) AS "estimateErrorSumS"
      FROM ${workItems} w JOIN ${queues} q ON q.id = w.queue_id
      WHERE w.workspace_id = ${workspaceId} AND (w.enqueued_at >= ${since.toISOString()}::timestamptz OR ${live})
      GROUP BY w.queue_id`),
  );
  return new Map(
    rows.map((r) => [
      String(r.queueId),
      Object.fromEntries(
        Object.entries(r)
          .filter(([k]) => k !== "queueId")
          .map(([k, v]) => [k, Number(v ?? 0)]),
      ) as QueueTotals,
    ]),
  );
}

const EMPTY: QueueTotals = {
  waiting: 0,
  longestWaitS: 0,
  offered: 0,
  answered: 0,
  abandoned: 0,
  handled: 0,
  withinTarget: 0,
  overdue: 0,
  answerWaitSumS: 0,
  handleSumS: 0,
  estimated: 0,
  estimateErrorSumS: 0,
};

function meetsSkills(levels: Record<string, number>, required: SkillRequirement[]) {
  return required.every((r) => (levels[r.skill] ?? 0) >= r.minLevel);
}

/** Every queue of the workspace with its live figures and the agents available to it. */
export async function liveQueues(db: Executor, workspaceId: string, now = new Date()) {
  const startOfDay = new Date(now);
  startOfDay.setHours(0, 0, 0, 0);
  const [qs, totals, routable] = await Promise.all([
    db.select().from(queues).where(eq(queues.workspaceId, workspaceId)),
    loadTotals(db, workspaceId, startOfDay, now),
    db
      .select({ userId: agentStates.userId, presence: agentStates.presence, capacity: agentStates.capacity })
      .from(agentStates)
      .where(and(eq(agentStates.workspaceId, workspaceId), inArray(agentStates.presence, ["available", "busy"]))),
  ]);
  const levelsOf = await skillLevelsOf(
    db,
    routable.map((a) => a.userId),
  );
  return qs
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((q) => {
      const figures = figuresFrom(totals.get(q.id) ?? EMPTY);
      const able = routable.filter((a) => meetsSkills(levelsOf.get(a.userId)!, q.requiredSkills));
      // Seats for the queue's (first) channel among signed-in agents who could take its work.
      const cls = channelClass(q.channels[0] ?? "webchat");
      const seats = able.reduce((n, a) => n + { ...DEFAULT_CAPACITY, ...a.capacity }[cls], 0);
      return {
        id: q.id,
        name: q.name,
        serviceLevelSeconds: q.serviceLevelSeconds,
        ...figures,
        agentsAvailable: able.filter((a) => a.presence === "available").length,
        // What a customer arriving now would be told.
        estimatedWaitS: estimateWait({
          position: figures.waiting + 1,
          ahtSeconds: figures.handled >= MIN_HANDLED_FOR_AHT ? figures.ahtS! : DEFAULT_AHT_S,
          seats,
        }),
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
export function alertsFor(
  figures: { waiting: number; longestWaitS: number },
  maxWaitSeconds: number | null,
): QueueAlert[] {
  const alerts: QueueAlert[] = [];
  if (figures.waiting > ALERT_WAITING)
    alerts.push({ kind: "waiting", value: figures.waiting, threshold: ALERT_WAITING });
  const limit = maxWaitSeconds ?? ALERT_LONGEST_WAIT_S;
  if (figures.longestWaitS > limit)
    alerts.push({ kind: "longest_wait", value: Math.round(figures.longestWaitS), threshold: limit });
  return alerts;
}
