import { sql, type SQL } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import type { Filters, GroupBy, ReportPeriod } from "./period.ts";
import { factsWhere } from "./summary-facts.ts";
import { rollupApplies, rollupFigures } from "./summary-rollup.ts";

/**
 * What each grouping groups by (`key`: cheap per fact, a timestamp for time groupings), how a group's key
 * is written (`label`, applied to the few aggregated rows, not to every fact; times in the report's
 * zone), and for ids the table their names come from.
 */
function grouping(groupBy: GroupBy, tz: string): { key: SQL; label?: (key: SQL) => SQL; names?: string } {
  switch (groupBy) {
    case "day":
      // date_trunc in the zone itself: a DST day's 23 or 25 hours and a half-hour zone's hours come out right.
      return {
        key: sql`date_trunc('day', i.offered_at, ${tz})`,
        label: (k) => sql`to_char(${k} AT TIME ZONE ${tz}, 'YYYY-MM-DD')`,
      };
    case "hour":
      return {
        key: sql`date_trunc('hour', i.offered_at, ${tz})`,
        label: (k) => sql`to_char(${k} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`,
      };
    case "weekday_hour":
      return { key: sql`to_char(i.offered_at AT TIME ZONE ${tz}, 'ID-HH24')` };
    case "channel":
      return { key: sql`i.channel` };
    case "inbox":
      return { key: sql`i.inbox_id`, names: "inboxes" };
    case "queue":
      return { key: sql`i.queue_id`, names: "queues" };
    case "team":
      return { key: sql`i.team_id`, names: "teams" };
    case "agent":
      return { key: sql`i.agent_id`, names: "users" };
  }
}

/**
 * The aggregates of one report row but the percentiles; docs/reports.md defines each. All of them
 * combine from parts, so PostgreSQL can aggregate in parallel workers by hashing; averages of sums
 * (next response) divide the sums. The rollup stores the same parts (migration 0022's
 * interaction_rollups_refresh, summary-rollup.ts FACT_PARTS): a figure changed here changes there too,
 * and reports/rollup.e2e.test.ts compares the two paths figure by figure.
 */
function figures(now: Date) {
  const at = sql`${now.toISOString()}::timestamptz`;
  return sql`
    count(*)::int AS offered,
    count(i.answered_at)::int AS answered,
    count(*) FILTER (WHERE i.outcome = 'abandoned')::int AS abandoned,
    count(*) FILTER (WHERE i.outcome = 'waiting')::int AS waiting,
    avg(i.wait_s) FILTER (WHERE i.outcome = 'abandoned') AS "abandonS",
    avg(i.first_response_s) AS "frAvg",
    sum(i.next_response_sum_s) / nullif(sum(i.next_response_count), 0) AS "nextResponseS",
    avg(i.resolution_s) AS "resolutionAvg",
    avg(i.wait_s) FILTER (WHERE i.answered_at IS NOT NULL) AS "asaS",
    avg(i.handle_s) AS "ahtS",
    count(*) FILTER (WHERE i.answered_in_sl)::int AS "withinSl",
    count(*) FILTER (WHERE i.outcome IN ('answered', 'abandoned') AND i.service_level_s IS NOT NULL
      OR i.outcome = 'waiting' AND extract(epoch from ${at} - i.offered_at) > i.service_level_s)::int AS "judgedSl",
    coalesce(sum(i.transfers), 0)::int AS transfers,
    count(*) FILTER (WHERE i.transfers > 0 AND i.answered_at IS NOT NULL)::int AS transferred,
    count(*) FILTER (WHERE i.first_contact_resolved)::int AS "fcrYes",
    count(i.first_contact_resolved)::int AS "fcrJudged",
    count(*) FILTER (WHERE i.callback)::int AS callbacks,
    count(*) FILTER (WHERE i.callback_kept)::int AS "callbacksKept",
    count(i.ewt_announced_s) FILTER (WHERE i.answered_at IS NOT NULL)::int AS "ewtAnnounced",
    avg(i.ewt_announced_s) FILTER (WHERE i.answered_at IS NOT NULL) AS "ewtAvgS",
    avg(abs(i.wait_s - i.ewt_announced_s)) FILTER (WHERE i.answered_at IS NOT NULL) AS "ewtErrorS",
    count(*) FILTER (WHERE i.sla_breached)::int AS "slaBreaches",
    count(*) FILTER (WHERE i.reopened)::int AS reopened,
    avg(i.csat_score) AS "csatAvg",
    count(i.csat_score)::int AS "csatResponses"`;
}

/** The names figures() gives its columns, selected again around the aggregate. */
const FIGURES = [
  "offered",
  "answered",
  "abandoned",
  "waiting",
  "abandonS",
  "frAvg",
  "nextResponseS",
  "resolutionAvg",
  "asaS",
  "ahtS",
  "withinSl",
  "judgedSl",
  "transfers",
  "transferred",
  "fcrYes",
  "fcrJudged",
  "callbacks",
  "callbacksKept",
  "ewtAnnounced",
  "ewtAvgS",
  "ewtErrorS",
  "slaBreaches",
  "reopened",
  "csatAvg",
  "csatResponses",
];

type Raw = Record<string, string | number | null>;
const num = (v: string | number | null | undefined) => (v == null ? null : Number(v));
const int = (v: string | number | null | undefined) => Number(v ?? 0);
const ratio = (a: number, b: number) => (b ? a / b : null);

/** One report row as the public contract shapes it (figures without data are null). */
export function reportRow(r: Raw) {
  const answered = int(r.answered);
  return {
    key: r.key == null ? null : String(r.key),
    ...(r.name !== undefined ? { name: r.name == null ? null : String(r.name) } : {}),
    offered: int(r.offered),
    answered,
    abandoned: int(r.abandoned),
    waiting: int(r.waiting),
    abandonS: num(r.abandonS),
    firstResponseS: { avg: num(r.frAvg), p50: num(r.frP50), p90: num(r.frP90) },
    nextResponseS: num(r.nextResponseS),
    resolutionS: { avg: num(r.resolutionAvg) },
    asaS: num(r.asaS),
    ahtS: num(r.ahtS),
    serviceLevel: ratio(int(r.withinSl), int(r.judgedSl)),
    transfers: int(r.transfers),
    transferRate: ratio(int(r.transferred), answered),
    fcrRate: ratio(int(r.fcrYes), int(r.fcrJudged)),
    callbacks: int(r.callbacks),
    callbacksKept: int(r.callbacksKept),
    ewt: { announced: int(r.ewtAnnounced), avgAnnouncedS: num(r.ewtAvgS), avgErrorS: num(r.ewtErrorS) },
    slaBreaches: int(r.slaBreaches),
    reopened: int(r.reopened),
    csat: { avg: num(r.csatAvg), responses: int(r.csatResponses) },
  };
}
export type ReportRow = ReturnType<typeof reportRow>;

const NAMED: GroupBy[] = ["inbox", "queue", "team", "agent"];

/**
 * The statements of a report: its figures per group plus the total (grouping sets: one pass), and the
 * exact percentiles (percentile_cont) over only the facts with a first response, a narrow sort apart
 * from the wide aggregate. Exported so the benchmark can print their plans. `source: "rollup"` reads the
 * figures from interaction_rollups (the caller checks rollupApplies() first); percentiles always the facts.
 */
export function summaryQueries(
  workspaceId: string,
  p: ReportPeriod,
  groupBy: GroupBy | null,
  filters: Filters = {},
  now = new Date(),
  source: "facts" | "rollup" = "facts",
) {
  const g: ReturnType<typeof grouping> = groupBy ? grouping(groupBy, p.tz) : { key: sql`NULL::text` };
  // The key computed once in a subquery: GROUPING() must name the very expression grouped by.
  const facts = sql`(SELECT ${g.key} AS key, i.* FROM interactions i WHERE ${factsWhere(workspaceId, p, filters)}) i`;
  const sets = groupBy ? sql`GROUPING SETS ((i.key), ())` : sql`()`;
  const total = groupBy ? sql`grouping(i.key)` : sql`1`;
  // The period's total alone groups by nothing: its key is no column.
  const key = groupBy ? sql`i.key` : sql`NULL::text AS key`;
  const label = g.label ? g.label(sql`f.key`) : sql`f.key::text`;
  const names = g.names ? sql.raw(g.names) : undefined;
  return {
    figures:
      source === "rollup"
        ? rollupFigures(workspaceId, p, groupBy, filters, now, g.key, label, g.names, FIGURES)
        : sql`
      SELECT ${label} AS key, f.total, ${sql.raw(FIGURES.map((c) => `f."${c}"`).join(", "))},
        ${names ? sql`n.name` : sql`NULL`} AS name FROM (
        SELECT ${key}, ${total} AS total, ${figures(now)} FROM ${facts} GROUP BY ${sets}
      ) f ${names ? sql`LEFT JOIN ${names} n ON n.id = f.key` : sql``}
      ORDER BY f.total, f.key NULLS LAST`,
    percentiles: sql`
      SELECT ${label} AS key, f.total, f."frP50", f."frP90" FROM (
        SELECT ${key}, ${total} AS total,
          percentile_cont(0.5) WITHIN GROUP (ORDER BY i.first_response_s) AS "frP50",
          percentile_cont(0.9) WITHIN GROUP (ORDER BY i.first_response_s) AS "frP90"
        FROM ${facts} WHERE i.first_response_s IS NOT NULL GROUP BY ${sets}
      ) f`,
  };
}

/** PostgreSQL's default 4 MB would sort a month of facts on disk; a report's statement may use this much. */
const REPORT_WORK_MEM = "64MB";

/** One statement in a transaction of its own with the memory to sort in (the two run side by side). */
async function reportStatement(db: Executor, statement: SQL) {
  return db.transaction(async (tx) => {
    await tx.execute(sql.raw(`SET LOCAL work_mem = '${REPORT_WORK_MEM}'`));
    return rowsOf<Raw>(await tx.execute(statement));
  });
}

/** Where a report's figures come from: the rollup when it can give them (summary-rollup.ts), else the facts. */
export type ReportSource = "auto" | "facts";

/**
 * A report's rows (in key order; the no-key row, e.g. unanswered by agent, last), its total, and which
 * source its figures were read from. `source: "facts"` forces the facts (tests compare both paths).
 */
export async function report(
  db: Executor,
  workspaceId: string,
  p: ReportPeriod,
  groupBy: GroupBy | null,
  filters: Filters = {},
  now = new Date(),
  source: ReportSource = "auto",
): Promise<{ rows: ReportRow[]; total: ReportRow; source: "facts" | "rollup" }> {
  const read = source === "auto" && (await rollupApplies(db, p, groupBy, filters)) ? "rollup" : "facts";
  const q = summaryQueries(workspaceId, p, groupBy, filters, now, read);
  // Inside a caller's transaction (the scheduled e-mail's) both run on its one connection, in turn.
  const [figureRows, percentileRows] =
    "rollback" in db
      ? [rowsOf<Raw>(await db.execute(q.figures)), rowsOf<Raw>(await db.execute(q.percentiles))]
      : await Promise.all([reportStatement(db, q.figures), reportStatement(db, q.percentiles)]);
  const at = (r: Raw) => `${Number(r.total)}:${r.key == null ? "" : String(r.key)}`;
  const percentiles = new Map(percentileRows.map((r) => [at(r), r]));
  const named = !!groupBy && NAMED.includes(groupBy);
  const shaped = figureRows.map((r) => {
    const row = reportRow({ ...r, ...pick(percentiles.get(at(r))) });
    if (!named || Number(r.total) === 1) delete (row as { name?: unknown }).name;
    return { total: Number(r.total) === 1, row };
  });
  const total = shaped.find((x) => x.total)?.row ?? reportRow({ key: null, frP50: null, frP90: null });
  if (total.key !== undefined) total.key = "total";
  return { rows: shaped.filter((x) => !x.total).map((x) => x.row), total, source: read };
}

const pick = (r: Raw | undefined) => ({ frP50: r?.frP50 ?? null, frP90: r?.frP90 ?? null });

/** `GET /reports/summary`: one row per group, in key order (no-key rows, e.g. unanswered by agent, last). */
export async function summary(
  db: Executor,
  workspaceId: string,
  p: ReportPeriod,
  groupBy: GroupBy,
  filters: Filters = {},
  now = new Date(),
): Promise<ReportRow[]> {
  return (await report(db, workspaceId, p, groupBy, filters, now)).rows;
}

/** The period's totals over every group: the summary's footer and the e-mailed report's headline. */
export async function totals(
  db: Executor,
  workspaceId: string,
  p: ReportPeriod,
  filters: Filters = {},
  now = new Date(),
) {
  return (await report(db, workspaceId, p, null, filters, now)).total;
}

/** The workspace's time zone (workspace_settings), UTC when it has none: what a report's `tz` defaults to. */
export async function workspaceTimeZone(db: Executor, workspaceId: string) {
  const [row] = rowsOf<{ tz: string }>(
    await db.execute(sql`SELECT time_zone AS tz FROM workspace_settings WHERE workspace_id = ${workspaceId}`),
  );
  return row?.tz ?? "UTC";
}
