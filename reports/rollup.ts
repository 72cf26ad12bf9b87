import { sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";

/**
 * The rollup of the report facts (interaction_rollups; db/schema/report-rollup.ts) is kept by statement
 * triggers on `interactions` (migration 0022): every insert, update or delete of facts — derivation
 * (reports/interaction.ts), seeding, erasure and retention (privacy/, by cascade) — recomputes the
 * 30-minute intervals of the rows it touched, old and new, with interaction_rollups_refresh. These
 * are for what bypasses them: a workspace's intervals rebuilt from its facts (the benchmark times it;
 * a repair after restoring facts by COPY with triggers off).
 */

/** Recomputes the given 30-minute intervals of a workspace from its facts (idempotent). */
export async function refreshRollups(db: Executor, workspaceId: string, buckets: Date[]) {
  if (!buckets.length) return;
  await db.execute(sql`
    SELECT interaction_rollups_refresh(
      array_fill(${workspaceId}::uuid, ARRAY[${buckets.length}::int]),
      ${`{${buckets.map((b) => b.toISOString()).join(",")}}`}::timestamptz[])`);
}

/** Recomputes every interval of a workspace that has facts, and drops the rows of intervals that have none. */
export async function rebuildRollups(db: Executor, workspaceId: string) {
  await db.transaction(async (tx) => {
    await tx.execute(sql`DELETE FROM interaction_rollups WHERE workspace_id = ${workspaceId}`);
    await tx.execute(sql`
      SELECT interaction_rollups_refresh(array_agg(t.w), array_agg(t.b)) FROM (
        SELECT DISTINCT workspace_id AS w, date_bin('30 minutes', offered_at, timestamptz '2000-01-01 00:00+00') AS b
        FROM interactions WHERE workspace_id = ${workspaceId}) t
      HAVING count(*) > 0`);
  });
}
