import { sql } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import { queues, workItems } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";

export const MAX_HISTORY_POINTS = 500;

/** The sample times of a chart: `now` and every `step` seconds back, as far as `minutes` reaches. */
export function historyTimes(now: Date, minutes: number, stepS: number) {
  const count = Math.floor((minutes * 60) / stepS) + 1;
  if (count > MAX_HISTORY_POINTS)
    throw new Invalid(
      `${minutes} minutes every ${stepS} s is ${count} points; at most ${MAX_HISTORY_POINTS}: take a longer step`,
      "step",
    );
  return Array.from({ length: count }, (_, i) => new Date(now.getTime() - (count - 1 - i) * stepS * 1000));
}

/**
 * How many work items waited in each queue at each sample time, for a wallboard chart. An item waits
 * from `enqueued_at` until it is answered or ends (abandoned, closed); an offer that nobody has
 * accepted yet still waits. One query: the sample times are a generate_series, every queue of the
 * workspace gets a number at every time (0 included) so the chart's series are whole.
 *
 * The rows keep no history of their own: an overflow move changes the item's queue in place, so its
 * earlier wait counts for the queue it is in now, and an answered item handed to another agent
 * (its answer time cleared) shows as waiting since it was first queued.
 */
export async function queueHistory(
  db: Executor,
  workspaceId: string,
  options: { minutes: number; step: number; now?: Date },
) {
  const now = options.now ?? new Date();
  const times = historyTimes(now, options.minutes, options.step);
  const first = times[0]!.toISOString();
  const at = sql`(${now.toISOString()}::timestamptz - make_interval(secs => (${times.length - 1}::int - t.i) * ${options.step}::int))`;
  const rows = rowsOf<{ i: number; queueId: string; waiting: number }>(
    await db.execute(sql`
      WITH t AS (SELECT generate_series(0, ${times.length - 1}::int) AS i),
      w AS (
        SELECT queue_id, enqueued_at, answered_at, ended_at FROM ${workItems}
        WHERE workspace_id = ${workspaceId}
          AND enqueued_at <= ${now.toISOString()}::timestamptz
          AND (answered_at IS NULL OR answered_at > ${first}::timestamptz)
          AND (ended_at IS NULL OR ended_at > ${first}::timestamptz)
      )
      SELECT t.i::int AS i, q.id AS "queueId", count(w.queue_id)::int AS waiting
      FROM t CROSS JOIN ${queues} q
      LEFT JOIN w ON w.queue_id = q.id
        AND w.enqueued_at <= ${at}
        AND (w.answered_at IS NULL OR w.answered_at > ${at})
        AND (w.ended_at IS NULL OR w.ended_at > ${at})
      WHERE q.workspace_id = ${workspaceId}
      GROUP BY t.i, q.id`),
  );
  const points = times.map((t) => ({ at: t.toISOString(), waiting: {} as Record<string, number> }));
  for (const r of rows) points[Number(r.i)]!.waiting[String(r.queueId)] = Number(r.waiting);
  return { step: options.step, points };
}
