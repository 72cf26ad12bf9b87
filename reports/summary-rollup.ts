import { sql, type SQL } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import type { Filter, Filters, GroupBy, ReportPeriod } from "./period.ts";
import { factsWhere } from "./summary-facts.ts";

/**
 * The read path over interaction_rollups (db/schema/report-rollup.ts): a report's figures summed from
 * the 30-minute intervals its period covers, the period's partial first and last intervals and the
 * "now"-dependent service-level judgement of waiting facts read from the facts. Gives the same figures
 * as the facts (reports/summary.ts); the percentiles are always read from the facts.
 */

const HALF_HOUR_MS = 1_800_000;

/** The dimension a grouping reads, and the filter that may select among its keys. */
const DIMENSIONS: Partial<Record<GroupBy, { dim: string; filter: Filter; uuid: boolean }>> = {
  channel: { dim: "channel", filter: "channel", uuid: false },
  inbox: { dim: "inbox", filter: "inboxId", uuid: true },
  queue: { dim: "queue", filter: "queueId", uuid: true },
  team: { dim: "team", filter: "teamId", uuid: true },
  agent: { dim: "agent", filter: "agentId", uuid: true },
};
const TIMES: GroupBy[] = ["day", "hour", "weekday_hour"];

/** The whole intervals of the period: [start, end), empty when it holds none. */
export function wholeIntervals(p: ReportPeriod) {
  const start = Math.ceil(p.from.getTime() / HALF_HOUR_MS) * HALF_HOUR_MS;
  const end = Math.floor(p.to.getTime() / HALF_HOUR_MS) * HALF_HOUR_MS;
  return { start: new Date(start), end: new Date(end) };
}

/**
 * Whether a report can read the rollup: no filter but on the grouped dimension itself, at least one
 * whole interval, and for time groupings a zone whose offset is a whole number of half hours all period
 * long (else an interval would straddle two local days or hours: Kathmandu's +5:45 reads the facts).
 */
export async function rollupApplies(db: Executor, p: ReportPeriod, groupBy: GroupBy | null, filters: Filters) {
  const own = groupBy ? DIMENSIONS[groupBy]?.filter : undefined;
  if (Object.entries(filters).some(([name, values]) => values?.length && name !== own)) return false;
  const { start, end } = wholeIntervals(p);
  if (start >= end) return false;
  if (!groupBy || !TIMES.includes(groupBy)) return true;
  // Every interval start, so a daylight-saving change to an odd offset is seen too.
  const [row] = rowsOf<{ ok: boolean | null }>(
    await db.execute(sql`
      SELECT bool_and(mod(extract(epoch FROM (g AT TIME ZONE ${p.tz}) - (g AT TIME ZONE 'UTC'))::bigint, 1800) = 0) AS ok
      FROM generate_series(${start.toISOString()}::timestamptz, ${end.toISOString()}::timestamptz, interval '30 minutes') g`),
  );
  return row?.ok === true;
}

/** A rollup row's group key, typed as the facts' key (reports/summary.ts grouping()). */
function rollupKey(groupBy: GroupBy | null, tz: string): SQL {
  switch (groupBy) {
    case null:
      return sql`NULL::text`;
    case "day":
      return sql`date_trunc('day', r.bucket, ${tz})`;
    case "hour":
      return sql`date_trunc('hour', r.bucket, ${tz})`;
    case "weekday_hour":
      return sql`to_char(r.bucket AT TIME ZONE ${tz}, 'ID-HH24')`;
    default:
      return DIMENSIONS[groupBy]!.uuid ? sql`nullif(r.dim_key, '')::uuid` : sql`r.dim_key`;
  }
}

/** The parts of facts as the rollup stores them (migration 0022's interaction_rollups_refresh). */
const FACT_PARTS = sql`
  count(*) AS offered, count(i.answered_at) AS answered, count(*) FILTER (WHERE i.outcome = 'abandoned') AS abandoned,
  count(*) FILTER (WHERE i.outcome = 'waiting') AS waiting,
  sum(i.wait_s) FILTER (WHERE i.outcome = 'abandoned') AS abandon_sum,
  count(i.wait_s) FILTER (WHERE i.outcome = 'abandoned') AS abandon_n,
  sum(i.first_response_s) AS fr_sum, count(i.first_response_s) AS fr_n,
  sum(i.next_response_sum_s) AS next_sum, sum(i.next_response_count) AS next_n,
  sum(i.resolution_s) AS resolution_sum, count(i.resolution_s) AS resolution_n,
  sum(i.wait_s) FILTER (WHERE i.answered_at IS NOT NULL) AS asa_sum,
  count(i.wait_s) FILTER (WHERE i.answered_at IS NOT NULL) AS asa_n,
  sum(i.handle_s) AS handle_sum, count(i.handle_s) AS handle_n,
  count(*) FILTER (WHERE i.answered_in_sl) AS within_sl,
  count(*) FILTER (WHERE i.outcome IN ('answered', 'abandoned') AND i.service_level_s IS NOT NULL) AS judged_sl,
  coalesce(sum(i.transfers), 0) AS transfers,
  count(*) FILTER (WHERE i.transfers > 0 AND i.answered_at IS NOT NULL) AS transferred,
  count(*) FILTER (WHERE i.first_contact_resolved) AS fcr_yes, count(i.first_contact_resolved) AS fcr_judged,
  count(*) FILTER (WHERE i.callback) AS callbacks, count(*) FILTER (WHERE i.callback_kept) AS callbacks_kept,
  count(i.ewt_announced_s) FILTER (WHERE i.answered_at IS NOT NULL) AS ewt_n,
  sum(i.ewt_announced_s) FILTER (WHERE i.answered_at IS NOT NULL) AS ewt_sum,
  sum(abs(i.wait_s - i.ewt_announced_s)) FILTER (WHERE i.answered_at IS NOT NULL) AS ewt_error_sum,
  count(abs(i.wait_s - i.ewt_announced_s)) FILTER (WHERE i.answered_at IS NOT NULL) AS ewt_error_n,
  count(*) FILTER (WHERE i.sla_breached) AS sla_breaches, count(*) FILTER (WHERE i.reopened) AS reopened,
  sum(i.csat_score) AS csat_sum, count(i.csat_score) AS csat_n`;

const PART_COLUMNS = [
  "offered",
  "answered",
  "abandoned",
  "waiting",
  "abandon_sum",
  "abandon_n",
  "fr_sum",
  "fr_n",
  "next_sum",
  "next_n",
  "resolution_sum",
  "resolution_n",
  "asa_sum",
  "asa_n",
  "handle_sum",
  "handle_n",
  "within_sl",
  "judged_sl",
  "transfers",
  "transferred",
  "fcr_yes",
  "fcr_judged",
  "callbacks",
  "callbacks_kept",
  "ewt_n",
  "ewt_sum",
  "ewt_error_sum",
  "ewt_error_n",
  "sla_breaches",
  "reopened",
  "csat_sum",
  "csat_n",
];

/**
 * The figures of figures() in reports/summary.ts from summed parts. Each average divides a sum by its
 * count as avg() does (float8 by count; the integer columns' as numeric), so the values are the facts'.
 */
function partFigures() {
  const avg = (s: string, n: string) => sql.raw(`sum(p.${s}) / nullif(sum(p.${n}), 0)`);
  const avgNumeric = (s: string, n: string) => sql.raw(`sum(p.${s})::numeric / nullif(sum(p.${n}), 0)::numeric`);
  const count = (c: string) => sql.raw(`coalesce(sum(p.${c}), 0)::int`);
  return sql`
    ${count("offered")} AS offered, ${count("answered")} AS answered, ${count("abandoned")} AS abandoned,
    ${count("waiting")} AS waiting, ${avg("abandon_sum", "abandon_n")} AS "abandonS",
    ${avg("fr_sum", "fr_n")} AS "frAvg", ${avg("next_sum", "next_n")} AS "nextResponseS",
    ${avg("resolution_sum", "resolution_n")} AS "resolutionAvg", ${avg("asa_sum", "asa_n")} AS "asaS",
    ${avg("handle_sum", "handle_n")} AS "ahtS", ${count("within_sl")} AS "withinSl",
    (${count("judged_sl")} + ${count("judged_waiting")})::int AS "judgedSl", ${count("transfers")} AS transfers,
    ${count("transferred")} AS transferred, ${count("fcr_yes")} AS "fcrYes", ${count("fcr_judged")} AS "fcrJudged",
    ${count("callbacks")} AS callbacks, ${count("callbacks_kept")} AS "callbacksKept",
    ${count("ewt_n")} AS "ewtAnnounced", ${avgNumeric("ewt_sum", "ewt_n")} AS "ewtAvgS",
    ${avg("ewt_error_sum", "ewt_error_n")} AS "ewtErrorS", ${count("sla_breaches")} AS "slaBreaches",
    ${count("reopened")} AS reopened, ${avgNumeric("csat_sum", "csat_n")} AS "csatAvg",
    ${count("csat_n")} AS "csatResponses"`;
}

/**
 * The figures statement of a report read from the rollup (same columns as summaryQueries' figures):
 * the whole intervals' rows, the partial edge intervals' facts, and the waiting facts past their
 * service level at `now`, summed per group and for the total in one pass.
 */
export function rollupFigures(
  workspaceId: string,
  p: ReportPeriod,
  groupBy: GroupBy | null,
  filters: Filters,
  now: Date,
  factKey: SQL,
  label: SQL,
  names: string | undefined,
  columns: string[],
) {
  const { start, end } = wholeIntervals(p);
  const d = groupBy ? DIMENSIONS[groupBy] : undefined;
  const keys = d ? filters[d.filter] : undefined;
  const cols = sql.raw(PART_COLUMNS.map((c) => `r.${c}`).join(", "));
  const rollup = sql`
    SELECT ${rollupKey(groupBy, p.tz)} AS key, ${cols}, 0 AS judged_waiting FROM interaction_rollups r
    WHERE r.workspace_id = ${workspaceId} AND r.dim = ${d?.dim ?? "all"}
      ${d ? sql`` : sql`AND r.dim_key = ''`}
      ${keys?.length ? sql`AND r.dim_key = ANY(${`{${keys.join(",")}}`}::${sql.raw(d!.uuid ? "uuid[]::text[]" : "text[]")})` : sql``}
      AND r.bucket >= ${start.toISOString()}::timestamptz AND r.bucket < ${end.toISOString()}::timestamptz`;
  const edge = (from: Date, to: Date) => sql`
    SELECT i.key, ${FACT_PARTS}, 0 AS judged_waiting
    FROM (SELECT ${factKey} AS key, i.* FROM interactions i WHERE ${factsWhere(workspaceId, { from, to, tz: p.tz }, filters)}) i
    GROUP BY i.key`;
  const zeros = sql.raw(PART_COLUMNS.map((c) => `0 AS ${c}`).join(", "));
  // Judged against the service level only once waiting longer than it: depends on `now`, so never stored.
  const waiting = sql`
    SELECT i.key, ${zeros}, count(*) AS judged_waiting
    FROM (SELECT ${factKey} AS key, i.* FROM interactions i WHERE ${factsWhere(workspaceId, p, filters)}
      AND i.outcome = 'waiting' AND extract(epoch from ${now.toISOString()}::timestamptz - i.offered_at) > i.service_level_s) i
    GROUP BY i.key`;
  const parts = [rollup, waiting];
  if (p.from < start) parts.push(edge(p.from, start));
  if (end < p.to) parts.push(edge(end, p.to));
  const sets = groupBy ? sql`GROUPING SETS ((p.key), ())` : sql`()`;
  const total = groupBy ? sql`grouping(p.key)` : sql`1`;
  const key = groupBy ? sql`p.key` : sql`NULL::text AS key`;
  return sql`
    SELECT ${label} AS key, f.total, ${sql.raw(columns.map((c) => `f."${c}"`).join(", "))},
      ${names ? sql`n.name` : sql`NULL`} AS name FROM (
      SELECT ${key}, ${total} AS total, ${partFigures()}
      FROM (${sql.join(parts, sql` UNION ALL `)}) p GROUP BY ${sets}
    ) f ${names ? sql`LEFT JOIN ${sql.raw(names)} n ON n.id = f.key` : sql``}
    ORDER BY f.total, f.key NULLS LAST`;
}
