import { sql, type SQL } from "drizzle-orm";
import { rowsOf, type Db } from "../db/connect.ts";

/**
 * The plan Postgres picks for a query when it may not scan whole tables: a test that finds an index
 * in it shows the index can serve the query, however many rows pile up (small test tables would
 * otherwise be scanned whatever the indexes).
 */
export function indexPlan(db: Db, query: SQL) {
  return db.transaction(async (tx) => {
    await tx.execute(sql`SET LOCAL enable_seqscan = off`);
    return rowsOf<{ "QUERY PLAN": string }>(await tx.execute(sql`EXPLAIN ${query}`))
      .map((r) => r["QUERY PLAN"])
      .join("\n");
  });
}
