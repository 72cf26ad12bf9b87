import { sql, type SQL } from "drizzle-orm";
import type { Filters, ReportPeriod } from "./period.ts";

/** The rows of the interaction facts a report reads: the workspace's, offered in the period, filtered. */
export function factsWhere(workspaceId: string, p: ReportPeriod, filters: Filters, alias = "i"): SQL {
  const col = (c: string) => sql.raw(`${alias}.${c}`);
  const parts = [
    sql`${col("workspace_id")} = ${workspaceId}`,
    sql`${col("offered_at")} >= ${p.from.toISOString()}::timestamptz`,
    sql`${col("offered_at")} < ${p.to.toISOString()}::timestamptz`,
  ];
  const lists: [keyof Filters, string, string][] = [
    ["queueId", "queue_id", "uuid"],
    ["agentId", "agent_id", "uuid"],
    ["inboxId", "inbox_id", "uuid"],
    ["teamId", "team_id", "uuid"],
    ["channel", "channel", "text"],
  ];
  for (const [name, column, type] of lists) {
    const values = filters[name];
    if (values?.length) parts.push(sql`${col(column)} = ANY(${`{${values.join(",")}}`}::${sql.raw(type)}[])`);
  }
  return sql.join(parts, sql` AND `);
}
