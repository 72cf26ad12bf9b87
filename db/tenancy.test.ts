import { describe, expect, it } from "bun:test";
import { sql } from "drizzle-orm";
import { testDatabase } from "../test/db.ts";

describe("tenancy in the schema", () => {
  it("gives every table but workspaces itself a workspace_id, so every row belongs to a workspace", async () => {
    const { database } = await testDatabase();
    const result = await database.db.execute(sql`
      SELECT table_name FROM information_schema.tables t
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE'
        AND NOT EXISTS (
          SELECT 1 FROM information_schema.columns c
          WHERE c.table_schema = 'public' AND c.table_name = t.table_name AND c.column_name = 'workspace_id'
        )
      ORDER BY 1`);
    const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { table_name: string }[];
    expect(rows.map((r) => r.table_name)).toEqual(["workspaces"]);
  });
});
