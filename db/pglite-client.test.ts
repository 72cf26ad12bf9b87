import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { drizzleReadyPglite } from "./pglite-client.ts";

/**
 * PGlite's queries through prepared statements (pglite-client.ts): the same rows and errors as
 * PGlite's own path, each distinct statement prepared once, at most the cache's size kept open.
 * Runs on PGlite whatever the driver of the suite: this is PGlite's client.
 */
describe("PGlite prepared statements", () => {
  let raw: PGlite;
  let db: PGlite;
  const prepared = async () =>
    (await raw.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_prepared_statements")).rows[0]!.n;

  beforeAll(async () => {
    raw = new PGlite();
    await raw.waitReady;
    db = drizzleReadyPglite(raw, 5);
    await raw.exec(`
      CREATE TYPE mood AS ENUM ('calm', 'busy');
      CREATE TABLE item (id int PRIMARY KEY, name text, data jsonb, tags text[], at timestamptz, m mood, flag boolean);
    `);
  });
  afterAll(() => raw.close());

  it("gives the rows PGlite's own path gives, for every kind of parameter", async () => {
    const insert =
      "INSERT INTO item (id, name, data, tags, at, m, flag) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *";
    const at = new Date("2026-11-26T10:00:00Z");
    const mine = await db.query(insert, [1, "李雷", { a: [1, "二"] }, ["x", 'y "q"'], at, "busy", true]);
    const theirs = await raw.query(insert, [2, "李雷", { a: [1, "二"] }, ["x", 'y "q"'], at, "busy", true]);
    expect({ ...mine.rows[0]!, id: 0 }).toEqual({ ...theirs.rows[0]!, id: 0 });
    expect(mine.rows[0]).toMatchObject({
      name: "李雷",
      data: { a: [1, "二"] },
      tags: ["x", 'y "q"'],
      m: "busy",
      flag: true,
    });
    const nulls = await db.query<{ name: string | null }>("SELECT $1::text AS name", [null]);
    expect(nulls.rows).toEqual([{ name: null }]);
    const arrays = await db.query("SELECT id, name FROM item WHERE id = ANY($1::int[]) ORDER BY id", [[1, 2]], {
      rowMode: "array",
    });
    expect(arrays.rows).toEqual([
      [1, "李雷"],
      [2, "李雷"],
    ]);
    expect((await db.query("UPDATE item SET flag = $1 WHERE id > $2", [false, 0])).affectedRows).toBe(2);
  });

  it("prepares a statement once and runs it many times", async () => {
    const before = await prepared();
    for (let n = 0; n < 20; n++)
      expect((await db.query<{ id: number }>("SELECT id FROM item WHERE id = $1", [1])).rows).toEqual([{ id: 1 }]);
    expect(await prepared()).toBe(before + 1);
  });

  it("keeps at most the cache's size of statements open, closing the least recently used", async () => {
    for (let n = 0; n < 12; n++) await db.query(`SELECT $1::int + ${n} AS v`, [n]);
    // Evicted statements are closed with the next statement sent.
    await db.query("SELECT $1::int AS v", [0]);
    expect(await prepared()).toBeLessThanOrEqual(6);
    expect((await db.query<{ v: number }>("SELECT $1::int + 3 AS v", [4])).rows).toEqual([{ v: 7 }]);
  });

  it("reports errors as PGlite does and carries on", async () => {
    const duplicate = await db.query("INSERT INTO item (id) VALUES ($1)", [1]).catch((err: unknown) => err);
    expect(duplicate).toMatchObject({ code: "23505", query: "INSERT INTO item (id) VALUES ($1)" });
    const syntax = await db.query("SELEC id FROM item WHERE id = $1", [1]).catch((err: unknown) => err);
    expect(syntax).toMatchObject({ code: "42601" });
    expect((await db.query("SELECT id FROM item WHERE id = $1", [2])).rows).toEqual([{ id: 2 }]);
  });

  it("rolls a transaction back after a failed statement in it, and commits one that succeeds", async () => {
    const failed = await db
      .transaction(async (tx) => {
        await tx.query("INSERT INTO item (id, name) VALUES ($1, $2)", [10, "kept?"]);
        await tx.query("INSERT INTO item (id) VALUES ($1)", [1]);
      })
      .catch((err: unknown) => err);
    expect(failed).toMatchObject({ code: "23505" });
    expect((await db.query("SELECT id FROM item WHERE id = $1", [10])).rows).toEqual([]);
    await db.transaction(async (tx) => {
      await tx.query("INSERT INTO item (id, name) VALUES ($1, $2)", [11, "kept"]);
    });
    expect((await db.query("SELECT name FROM item WHERE id = $1", [11])).rows).toEqual([{ name: "kept" }]);
  });

  it("prepares a statement again when its table has changed", async () => {
    const text = "SELECT * FROM item WHERE id = $1";
    expect(Object.keys((await db.query<Record<string, unknown>>(text, [11])).rows[0]!)).not.toContain("extra");
    await raw.exec("ALTER TABLE item ADD COLUMN extra text DEFAULT 'x'");
    expect((await db.query<Record<string, unknown>>(text, [11])).rows[0]).toMatchObject({ id: 11, extra: "x" });
  });
});
