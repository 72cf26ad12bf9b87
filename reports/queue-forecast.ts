import { and, eq, sql } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import { queues, workspaceSettings } from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { forecastWeek, heldOutError, SLOT_MS, WEEK_SLOTS, type SlotSeries } from "./forecast.ts";
import { instantOf, wallClock, wallSlot } from "./local-time.ts";
import { agentsNeeded, meanPatience, type StaffingTarget } from "./staffing.ts";

/**
 * A queue's forecast from its `interactions` history: the weeks before `from` in the workspace's time
 * zone, smoothed slot by slot (forecast.ts), each interval staffed (staffing.ts), with the actual
 * arrivals beside every interval already past.
 */

/** Weeks of history read: enough for the smoothing to settle, short enough to follow a changing center. */
export const HISTORY_WEEKS = 8;
const WEEK_MS = WEEK_SLOTS * SLOT_MS;

export type ForecastRequest = {
  queueId: string;
  weeks: number;
  from?: Date;
  /** Fraction to answer within the queue's threshold; default 0.8. */
  serviceLevel?: number;
  shrinkage?: number;
  now?: Date;
};

type SlotRow = {
  slot: number;
  arrivals: number;
  handle_sum: number;
  handled: number;
  wait_sum: number;
  abandoned: number;
};

/** Counts per wall-clock half-hour (slot = wall-time epoch / 1800 s) in [from, to). */
async function slotCounts(db: Executor, workspaceId: string, queueId: string, timeZone: string, from: Date, to: Date) {
  const rows = rowsOf<Record<keyof SlotRow, unknown>>(
    await db.execute(sql`
      SELECT floor(extract(epoch FROM (offered_at AT TIME ZONE ${timeZone})) / 1800)::int8 AS slot,
             count(*)::int8 AS arrivals,
             coalesce(sum(handle_s) FILTER (WHERE outcome = 'answered'), 0)::float8 AS handle_sum,
             count(handle_s) FILTER (WHERE outcome = 'answered')::int8 AS handled,
             coalesce(sum(wait_s) FILTER (WHERE outcome IN ('answered', 'abandoned')), 0)::float8 AS wait_sum,
             count(*) FILTER (WHERE outcome = 'abandoned')::int8 AS abandoned
        FROM interactions
       WHERE workspace_id = ${workspaceId} AND queue_id = ${queueId}
         AND offered_at >= ${from.toISOString()}::timestamptz AND offered_at < ${to.toISOString()}::timestamptz
       GROUP BY 1`),
  );
  return rows.map(
    (r): SlotRow => ({
      slot: Number(r.slot),
      arrivals: Number(r.arrivals),
      handle_sum: Number(r.handle_sum),
      handled: Number(r.handled),
      wait_sum: Number(r.wait_sum),
      abandoned: Number(r.abandoned),
    }),
  );
}

export async function timeZoneOf(db: Executor, workspaceId: string): Promise<string> {
  const [row] = await db
    .select({ timeZone: workspaceSettings.timeZone })
    .from(workspaceSettings)
    .where(eq(workspaceSettings.workspaceId, workspaceId));
  return row?.timeZone ?? "UTC";
}

export async function queueForecast(db: Executor, workspaceId: string, req: ForecastRequest) {
  const [queue] = await db
    .select({ id: queues.id, name: queues.name, serviceLevelSeconds: queues.serviceLevelSeconds })
    .from(queues)
    .where(and(eq(queues.workspaceId, workspaceId), eq(queues.id, req.queueId)));
  if (!queue) throw new NotFound("Queue", "queueId");
  const timeZone = await timeZoneOf(db, workspaceId);
  const now = (req.now ?? new Date()).getTime();
  // Default: from the next local midnight.
  const fromWall = req.from
    ? wallSlot(req.from.getTime(), timeZone)
    : wallSlot(now, timeZone) - (wallSlot(now, timeZone) % 86_400_000) + 86_400_000;
  const historyWall = fromWall - HISTORY_WEEKS * WEEK_MS;
  const endWall = fromWall + req.weeks * WEEK_MS;
  // A day either side in instants covers any offset; rows are then placed by their wall slot.
  const rows = await slotCounts(
    db,
    workspaceId,
    queue.id,
    timeZone,
    new Date(instantOf(historyWall, timeZone) - 86_400_000),
    new Date(Math.min(instantOf(endWall, timeZone), now) + 86_400_000),
  );

  const total = HISTORY_WEEKS * WEEK_SLOTS;
  const history: SlotSeries = {
    arrivals: new Array(total).fill(0),
    handleSum: new Array(total).fill(0),
    handled: new Array(total).fill(0),
  };
  const actual = new Array<number>(req.weeks * WEEK_SLOTS).fill(0);
  let waitSum = 0;
  let abandoned = 0;
  let firstSlot = total;
  for (const r of rows) {
    const i = (r.slot * SLOT_MS - historyWall) / SLOT_MS;
    if (i >= 0 && i < total) {
      history.arrivals[i] = r.arrivals;
      history.handleSum[i] = r.handle_sum;
      history.handled[i] = r.handled;
      waitSum += r.wait_sum;
      abandoned += r.abandoned;
      firstSlot = Math.min(firstSlot, i);
    } else if (i >= total && i < total + actual.length) {
      actual[i - total] = r.arrivals;
    }
  }
  // Half-hours of the window that have not ended yet (a forecast from tomorrow) are unknown, not quiet.
  const nowWall = wallClock(now, timeZone);
  for (let i = 0; i < total; i++) {
    if (historyWall + (i + 1) * SLOT_MS <= nowWall) continue;
    history.arrivals[i] = NaN;
    history.handleSum[i] = NaN;
    history.handled[i] = NaN;
  }
  // A queue younger than the window: start at its first whole week with arrivals, not on empty weeks.
  const skip = Math.floor(firstSlot / WEEK_SLOTS) * WEEK_SLOTS;
  const used: SlotSeries = {
    arrivals: history.arrivals.slice(skip),
    handleSum: history.handleSum.slice(skip),
    handled: history.handled.slice(skip),
  };
  const week = forecastWeek(used);
  const target: StaffingTarget = {
    serviceLevel: req.serviceLevel ?? 0.8,
    targetSeconds: queue.serviceLevelSeconds,
    patienceSeconds: meanPatience(waitSum, abandoned),
    shrinkage: req.shrinkage ?? 0,
  };
  const intervals = actual.flatMap((past, i) => {
    const k = i % WEEK_SLOTS;
    const wall = fromWall + i * SLOT_MS;
    const start = instantOf(wall, timeZone);
    // A half-hour the clocks skip (spring forward) does not happen: no interval for it.
    if (wallClock(start, timeZone) !== wall) return [];
    const arrivals = week.arrivals[k]!;
    const ahtS = week.ahtS[k]!;
    return [
      {
        start: new Date(start).toISOString(),
        arrivals: round(arrivals, 2),
        ahtS: ahtS === null ? null : round(ahtS, 1),
        agents: agentsNeeded(arrivals, ahtS, SLOT_MS / 1000, target),
        // Only intervals that have ended carry what really arrived.
        ...(start + SLOT_MS <= now ? { actual: past } : {}),
      },
    ];
  });
  return {
    queue: { id: queue.id, name: queue.name },
    timeZone,
    from: intervals[0]!.start,
    to: new Date(instantOf(endWall, timeZone)).toISOString(),
    method: {
      name: "seasonal exponential smoothing",
      alpha: week.alpha,
      historyWeeks: used.arrivals.length / WEEK_SLOTS,
    },
    staffing: {
      model: target.patienceSeconds === null ? "erlang_c" : "erlang_a",
      serviceLevel: target.serviceLevel,
      targetSeconds: target.targetSeconds,
      patienceS: target.patienceSeconds === null ? null : round(target.patienceSeconds, 1),
      shrinkage: target.shrinkage,
    },
    error: heldOutError(used),
    intervals,
  };
}

function round(x: number, digits: number) {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
