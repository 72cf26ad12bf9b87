import { sql } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import type { Filters, ReportPeriod } from "./period.ts";
import { factsWhere } from "./summary-facts.ts";

/** The columns of the raw export, one row per interaction (docs/reports.md names each). */
export const INTERACTION_COLUMNS = [
  "id",
  "conversation_id",
  "call_id",
  "channel",
  "inbox_id",
  "queue_id",
  "team_id",
  "agent_id",
  "offered_at",
  "answered_at",
  "ended_at",
  "outcome",
  "wait_s",
  "first_response_s",
  "next_response_sum_s",
  "next_response_count",
  "resolution_s",
  "handle_s",
  "talk_s",
  "hold_s",
  "wrap_s",
  "transfers",
  "service_level_s",
  "answered_in_sl",
  "ewt_announced_s",
  "callback",
  "callback_kept",
  "reopened",
  "first_contact_resolved",
  "csat_score",
  "sla_breached",
] as const;

export type ExportRow = Record<(typeof INTERACTION_COLUMNS)[number], unknown>;

export const EXPORT_PAGE = 1000;

/**
 * One page of the period's interactions in (offered_at, id) order, after `after`: the keyset the CSV
 * stream walks, through the (workspace, offered_at) index, never an OFFSET.
 */
export async function interactionPage(
  db: Executor,
  workspaceId: string,
  p: ReportPeriod,
  filters: Filters,
  after: ExportRow | undefined,
  limit = EXPORT_PAGE,
): Promise<ExportRow[]> {
  const cursor = after
    ? sql`AND (i.offered_at, i.id) > (${String(after.offered_at)}::timestamptz, ${String(after.id)}::uuid)`
    : sql``;
  return rowsOf<ExportRow>(
    await db.execute(sql`
      SELECT ${sql.raw(
        INTERACTION_COLUMNS.map((c) =>
          c.endsWith("_at") ? `to_char(i.${c} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ${c}` : `i.${c}`,
        ).join(", "),
      )}
      FROM interactions i
      WHERE ${factsWhere(workspaceId, p, filters)} ${cursor}
      ORDER BY i.offered_at, i.id LIMIT ${limit}`),
  );
}
