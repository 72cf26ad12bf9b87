import { describe, expect, it } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { testDatabase } from "../test/db.ts";
import type { Executor } from "./connect.ts";
import { preparedQuery } from "./prepared-query.ts";
import { workspaces } from "./schema/index.ts";

/** Fixed-shape reads built once per database (prepared-query.ts), on the suite's driver. */
describe("queries built once", () => {
  it("builds the query once per database and binds each run's values", async () => {
    const { database } = await testDatabase();
    const { db } = database;
    let built = 0;
    const named = preparedQuery("workspace_name_test", (d: Executor) => {
      built++;
      return d
        .select({ name: workspaces.name })
        .from(workspaces)
        .where(eq(workspaces.id, sql.placeholder("id")));
    });
    const [a, b] = await db
      .insert(workspaces)
      .values([{ name: "Prepared A" }, { name: "预备 B" }])
      .returning();
    expect(await named(db, { id: a!.id })).toEqual([{ name: "Prepared A" }]);
    expect(await named(db, { id: b!.id })).toEqual([{ name: "预备 B" }]);
    expect(await named(db, { id: crypto.randomUUID() })).toEqual([]);
    expect(built).toBe(1);
  });

  it("runs inside a transaction on the transaction: it sees the transaction's own writes, and they roll back", async () => {
    const { database } = await testDatabase();
    const { db } = database;
    const named = preparedQuery("workspace_name_tx_test", (d: Executor) =>
      d
        .select({ name: workspaces.name })
        .from(workspaces)
        .where(eq(workspaces.id, sql.placeholder("id"))),
    );
    const id = crypto.randomUUID();
    // Prepared on the database first: the transaction must still not use that (another session's) statement.
    expect(await named(db, { id })).toEqual([]);
    const rollback = new Error("roll back");
    const seen = await db
      .transaction(async (tx) => {
        await tx.insert(workspaces).values({ id, name: "Only in the transaction" });
        const inside = await named(tx, { id });
        throw Object.assign(rollback, { inside });
      })
      .catch((err: unknown) =>
        err === rollback ? (rollback as Error & { inside: unknown }).inside : Promise.reject(err),
      );
    expect(seen).toEqual([{ name: "Only in the transaction" }]);
    expect(await named(db, { id })).toEqual([]);
  });
});
