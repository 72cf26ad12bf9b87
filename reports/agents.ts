import { sql } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import type { Filters, ReportPeriod } from "./period.ts";
import { factsWhere } from "./summary-facts.ts";

/** Presences whose time counts as handling work: holding work (busy) and the after-work (wrap-up). */
const HANDLING = ["busy", "wrap_up"];
/** Staffed time: ready for work or handling it. */
const STAFFED = ["available", "busy", "wrap_up"];

type StateTime = { presence: string; reason: string | null; seconds: number };

/** Occupancy, utilisation and time per state from an agent's state times (docs/reports.md defines them). */
export function agentRatios(states: StateTime[]) {
  const sum = (pick: (s: StateTime) => boolean) => states.filter(pick).reduce((n, s) => n + s.seconds, 0);
  const handling = sum((s) => HANDLING.includes(s.presence));
  const staffed = sum((s) => STAFFED.includes(s.presence));
  const loggedIn = sum((s) => s.presence !== "offline");
  return {
    handlingS: handling,
    staffedS: staffed,
    loggedInS: loggedIn,
    occupancy: staffed ? handling / staffed : null,
    utilisation: loggedIn ? handling / loggedIn : null,
  };
}

/**
 * `GET /reports/agents`: per agent of the workspace, the time in each presence (and reason) within the
 * period (spans clipped to it; a span still open counts up to now), occupancy and utilisation, and the
 * figures of the interactions they answered that were offered in the period.
 */
export async function agentTable(
  db: Executor,
  workspaceId: string,
  p: ReportPeriod,
  filters: Filters = {},
  now = new Date(),
) {
  const from = sql`${p.from.toISOString()}::timestamptz`;
  // `now` to the next millisecond: the database stamps spans in microseconds, so a span begun within the
  // request's own millisecond would otherwise start after the period's end and not be listed.
  const end = sql`least(${p.to.toISOString()}::timestamptz, ${new Date(now.getTime() + 1).toISOString()}::timestamptz)`;
  const agentFilter = filters.agentId?.length
    ? sql`AND s.user_id = ANY(${`{${filters.agentId.join(",")}}`}::uuid[])`
    : sql``;
  const [spans, facts] = await Promise.all([
    db.execute(sql`
      SELECT s.user_id AS "agentId", s.presence::text AS presence, s.reason,
        sum(extract(epoch from least(coalesce(s.ended_at, ${end}), ${end}) - greatest(s.started_at, ${from}))) AS seconds
      FROM agent_state_spans s
      WHERE s.workspace_id = ${workspaceId} AND s.started_at < ${end}
        AND (s.ended_at IS NULL OR s.ended_at > ${from}) ${agentFilter}
      GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`),
    db.execute(sql`
      SELECT i.agent_id AS "agentId", count(*)::int AS answered, avg(i.wait_s) AS "asaS", avg(i.handle_s) AS "ahtS",
        avg(i.first_response_s) AS "firstResponseS", count(*) FILTER (WHERE i.transfers > 0)::int AS transferred,
        count(*) FILTER (WHERE i.first_contact_resolved)::int AS "fcrYes", count(i.first_contact_resolved)::int AS "fcrJudged",
        avg(i.csat_score) AS "csatAvg", count(i.csat_score)::int AS "csatResponses"
      FROM interactions i
      WHERE ${factsWhere(workspaceId, p, filters)} AND i.answered_at IS NOT NULL AND i.agent_id IS NOT NULL
      GROUP BY 1`),
  ]);
  const stateRows = rowsOf<{ agentId: string; presence: string; reason: string | null; seconds: string | number }>(
    spans,
  );
  const factRows = new Map(rowsOf<Record<string, string | number | null>>(facts).map((r) => [String(r.agentId), r]));
  const ids = [...new Set([...stateRows.map((r) => r.agentId), ...factRows.keys()])];
  const names = ids.length
    ? new Map(
        rowsOf<{ id: string; name: string }>(
          await db.execute(sql`SELECT id, name FROM users WHERE workspace_id = ${workspaceId}
            AND id = ANY(${`{${ids.join(",")}}`}::uuid[])`),
        ).map((u) => [u.id, u.name]),
      )
    : new Map<string, string>();
  const num = (v: string | number | null | undefined) => (v == null ? null : Number(v));
  return ids
    .map((id) => {
      const states = stateRows
        .filter((r) => r.agentId === id)
        .map((r) => ({ presence: r.presence, reason: r.reason, seconds: Number(r.seconds) }))
        .filter((s) => s.seconds > 0);
      const f = factRows.get(id);
      const answered = Number(f?.answered ?? 0);
      const fcrJudged = Number(f?.fcrJudged ?? 0);
      return {
        key: id,
        name: names.get(id) ?? null,
        states,
        ...agentRatios(states),
        answered,
        asaS: num(f?.asaS),
        ahtS: num(f?.ahtS),
        firstResponseS: num(f?.firstResponseS),
        transferRate: answered ? Number(f?.transferred ?? 0) / answered : null,
        fcrRate: fcrJudged ? Number(f?.fcrYes ?? 0) / fcrJudged : null,
        csat: { avg: num(f?.csatAvg), responses: Number(f?.csatResponses ?? 0) },
      };
    })
    .sort((a, b) => (a.name ?? "").localeCompare(b.name ?? "") || a.key.localeCompare(b.key));
}
