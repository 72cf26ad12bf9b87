import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { onPostgres, testDatabase } from "../test/db.ts";
import { connect, rowsOf, type Database } from "./connect.ts";
import { preparedPostgres, StatementTexts, transaction } from "./postgres-client.ts";
import { workspaces } from "./schema/index.ts";

describe("which statement texts are prepared", () => {
  it("prepares a text from its second run on, and a text without room never", () => {
    const texts = new StatementTexts(2);
    expect([texts.prepare("a"), texts.prepare("a"), texts.prepare("a")]).toEqual([false, true, true]);
    texts.prepare("b");
    expect(texts.prepare("b")).toBe(true);
    texts.prepare("c");
    expect(texts.prepare("c")).toBe(false);
    expect(texts.prepare("a")).toBe(true);
  });

  it("starts afresh each period, so a connection holds a bounded number of statements", () => {
    let now = 0;
    const texts = new StatementTexts(1, 1000, () => now);
    texts.prepare("a");
    texts.prepare("a");
    texts.prepare("b");
    expect(texts.prepare("b")).toBe(false);
    now = 1000;
    texts.prepare("b");
    expect(texts.prepare("b")).toBe(true);
    expect(texts.prepare("a")).toBe(false);
  });
});

/**
 * A client that records what is sent, in order. Like postgres.js, a statement is sent when executed
 * or first awaited; BEGIN is answered only once something has been sent behind it.
 */
function recordingClient() {
  const sent: string[] = [];
  let answerBegin: (() => void) | undefined;
  const statement = (text: string) => {
    let isSent = false;
    const send = () => {
      if (isSent) return;
      isSent = true;
      sent.push(text);
      if (text !== "BEGIN") answerBegin?.();
    };
    const answered = new Promise<unknown[]>((resolve) => {
      if (text === "BEGIN") answerBegin = () => resolve([]);
      else resolve([]);
    });
    const query = {
      execute: () => (send(), query),
      then: (onFulfilled?: (rows: unknown[]) => unknown, onRejected?: (err: unknown) => unknown) => (
        send(), answered.then(onFulfilled, onRejected)
      ),
      catch: (onRejected: (err: unknown) => unknown) => answered.catch(onRejected),
    };
    return query;
  };
  const connection = { unsafe: statement, release: () => void sent.push("(released)") };
  return { sent, pg: { reserve: async () => connection } as unknown as postgres.Sql };
}

describe("a transaction's BEGIN", () => {
  it("goes out with the first statement: the work starts before BEGIN is answered, COMMIT after it", async () => {
    const { sent, pg } = recordingClient();
    let beganBeforeWork: string[] = [];
    const result = await transaction(pg, "", async (tx) => {
      beganBeforeWork = [...sent];
      await (tx as postgres.Sql).unsafe("UPDATE t SET n = 1");
      return 7;
    });
    expect(result).toBe(7);
    expect(beganBeforeWork).toEqual(["BEGIN"]);
    expect(sent).toEqual(["BEGIN", "UPDATE t SET n = 1", "COMMIT", "(released)"]);
  });

  it("rolls back when the work fails, and hands the connection back", async () => {
    const { sent, pg } = recordingClient();
    const failed = await transaction(pg, "", async () => {
      throw new Error("no");
    }).catch((err: unknown) => err);
    expect(failed).toMatchObject({ message: "no" });
    expect(sent).toEqual(["BEGIN", "ROLLBACK", "(released)"]);
  });
});

/**
 * PostgreSQL's statements through prepared statements (postgres-client.ts): the same rows and errors
 * as unnamed statements, each statement sent again prepared once per connection, and transactions
 * and savepoints as postgres.js's own. Runs on PostgreSQL only (the suite's PostgreSQL pass).
 */
describe.skipIf(!onPostgres)("PostgreSQL prepared statements", () => {
  let url: string;
  let raw: postgres.Sql;
  let pg: postgres.Sql;
  /** Statements of this test prepared on the session (postgres.js prepares its own BEGIN and COMMIT). */
  const prepared = async (text?: string) =>
    Number(
      (
        await raw.unsafe(
          "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement ~ 'prep_item|\\$1' AND statement = coalesce($1, statement)",
          [text ?? null],
          { prepare: false },
        )
      )[0]!.n,
    );

  beforeAll(async () => {
    url = (await testDatabase()).url!;
    // One connection: pg_prepared_statements shows that session's statements.
    raw = postgres(url, { max: 1, onnotice: () => {} });
    pg = preparedPostgres(raw);
    await raw.unsafe(`
      DROP TABLE IF EXISTS prep_item;
      CREATE TABLE prep_item (id int PRIMARY KEY, name text, data jsonb, tags text[], at timestamptz, flag boolean);
    `);
  });
  afterAll(async () => {
    await raw.unsafe("DROP TABLE IF EXISTS prep_item");
    await raw.end();
  });

  it("gives the rows an unnamed statement gives, for every kind of parameter", async () => {
    const insert = "INSERT INTO prep_item (id, name, data, tags, at, flag) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *";
    const at = new Date("2026-11-26T10:00:00Z");
    const row = (id: number) => [id, "李雷", { a: [1, "二"] }, ["x", 'y "q"'], at, true] as never[];
    const theirs = await raw.unsafe(insert, row(1), { prepare: false });
    const mine = [];
    for (const id of [2, 3, 4]) mine.push((await pg.unsafe(insert, row(id)))[0]);
    for (const r of mine) expect({ ...r, id: 0 }).toEqual({ ...theirs[0], id: 0 });
    expect(mine[2]).toMatchObject({ name: "李雷", data: { a: [1, "二"] }, tags: ["x", 'y "q"'], flag: true });
    for (let n = 0; n < 3; n++)
      expect(await pg.unsafe("SELECT $1::text AS name", [null])).toEqual([{ name: null }] as never);
  });

  it("prepares a statement on its second run and then reuses it", async () => {
    const before = await prepared();
    const text = "SELECT id FROM prep_item WHERE id = $1";
    for (let n = 0; n < 20; n++) expect(await pg.unsafe(text, [2])).toEqual([{ id: 2 }] as never);
    expect(await prepared()).toBe(before + 1);
    // Without parameters nothing is prepared (migrations, DDL, one-off SQL).
    for (let n = 0; n < 3; n++) await pg.unsafe("SELECT 1 AS one");
    expect(await prepared()).toBe(before + 1);
  });

  it("prepares inside transactions too, and rolls a failed one back", async () => {
    const failed = await pg
      .begin(async (tx) => {
        await tx.unsafe("INSERT INTO prep_item (id, name) VALUES ($1, $2)", [10, "kept?"]);
        await tx.unsafe("INSERT INTO prep_item (id, name) VALUES ($1, $2)", [10, "twice"]);
      })
      .catch((err: unknown) => err);
    expect(failed).toMatchObject({ code: "23505" });
    expect(await pg.unsafe("SELECT id FROM prep_item WHERE id = $1", [10])).toEqual([] as never);
    const before = await prepared();
    for (const id of [11, 12, 13])
      await pg.begin((tx) => tx.unsafe("INSERT INTO prep_item (id, name) VALUES ($1, $2)", [id, "kept"]));
    // Prepared in the failed transaction (its second run), reused in the later ones.
    expect(await prepared("INSERT INTO prep_item (id, name) VALUES ($1, $2)")).toBe(1);
    expect(await prepared()).toBe(before);
    expect(await pg.unsafe("SELECT count(*)::int AS n FROM prep_item WHERE name = $1", ["kept"])).toEqual([
      { n: 3 },
    ] as never);
  });

  it("nests a transaction as a savepoint: the inner one rolls back alone", async () => {
    await pg.begin(async (tx) => {
      await tx.unsafe("INSERT INTO prep_item (id, name) VALUES ($1, $2)", [40, "outer"]);
      const inner = await (
        tx as unknown as { savepoint: (work: (t: postgres.Sql) => Promise<unknown>) => Promise<unknown> }
      )
        .savepoint(async (t) => {
          await t.unsafe("INSERT INTO prep_item (id, name) VALUES ($1, $2)", [41, "inner"]);
          throw new Error("inner fails");
        })
        .catch((err: unknown) => err);
      expect(inner).toMatchObject({ message: "inner fails" });
    });
    expect(await pg.unsafe("SELECT id FROM prep_item WHERE id = ANY($1::int[]) ORDER BY id", [[40, 41]])).toEqual([
      { id: 40 },
    ] as never);
  });

  it("prepares a statement again when its table has changed", async () => {
    const text = "SELECT * FROM prep_item WHERE id = $1";
    for (let n = 0; n < 2; n++) expect(Object.keys((await pg.unsafe(text, [11]))[0]!)).not.toContain("extra");
    await raw.unsafe("ALTER TABLE prep_item ADD COLUMN extra text DEFAULT 'x'");
    expect((await pg.unsafe(text, [11]))[0]).toMatchObject({ id: 11, extra: "x" });
  });

  it("is what drizzle runs on: a repeated query is prepared once", async () => {
    let database: Database | undefined;
    try {
      database = await connect({ databaseUrl: url, poolSize: 1 });
      const db = database.db;
      const count = async () =>
        Number(
          rowsOf<{ n: string | number }>(
            await db.execute(sql`SELECT count(*) AS n FROM pg_prepared_statements WHERE name <> ${""}`),
          )[0]!.n,
        );
      const before = await count();
      for (let n = 0; n < 5; n++) await db.select().from(workspaces).where(eq(workspaces.id, crypto.randomUUID()));
      // The counting query itself is prepared from its second run: two more in all.
      expect(await count()).toBe(before + 2);
    } finally {
      await database?.close();
    }
  });
});
