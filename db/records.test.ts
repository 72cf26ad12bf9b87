import { describe, expect, it } from "bun:test";
import { asc, eq, sql } from "drizzle-orm";
import { testWorkspace } from "../test/workspace.ts";
import { rowsOf } from "./connect.ts";
import { insertRecords } from "./records.ts";
import { events } from "./schema/index.ts";

/** Inserts whose rows travel as one JSON parameter (records.ts), on the suite's driver. */
describe("rows inserted as one JSON parameter", () => {
  it("stores what drizzle's own insert stores: every type, nulls, defaults, and text that needs escaping", async () => {
    const w = await testWorkspace();
    const { db } = w.core;
    const payload = { text: '退款 "refund" \\ ok', n: [1, 2.5, null], nested: { yes: true } };
    const rows = [
      { workspaceId: w.workspaceId, seq: -9_000_000_001, type: "x.mine", conversationId: null, public: true, payload },
      { workspaceId: w.workspaceId, seq: -9_000_000_002, type: "x.mine", public: false, payload: {} },
    ];
    await db.execute(insertRecords(events, rows));
    await db.insert(events).values(rows.map((r) => ({ ...r, type: "x.theirs", seq: r.seq - 10 })));
    const read = async (type: string) =>
      (
        await db
          .select()
          .from(events)
          .where(sql`${events.workspaceId} = ${w.workspaceId} AND ${events.type} = ${type}`)
          .orderBy(asc(events.seq))
      ).map(({ type: _t, seq: _s, createdAt, ...rest }) => ({ ...rest, createdAt: createdAt instanceof Date }));
    const mine = await read("x.mine");
    expect(mine).toHaveLength(2);
    expect(mine).toEqual(await read("x.theirs"));
    expect(mine[1]).toMatchObject({ conversationId: null, public: true, payload });
  });

  it("keeps a statement's own conflict handling and returning, and refuses rows that disagree on a defaulted column", async () => {
    const w = await testWorkspace();
    const { db } = w.core;
    const row = { workspaceId: w.workspaceId, seq: -9_000_000_100, type: "x.once", public: false, payload: {} };
    expect(
      rowsOf(await db.execute(sql`${insertRecords(events, [row])} ON CONFLICT DO NOTHING RETURNING seq`)).length,
    ).toBe(1);
    expect(
      rowsOf(
        await db.execute(
          sql`${insertRecords(events, [row, { ...row, seq: row.seq - 1 }])} ON CONFLICT DO NOTHING RETURNING seq`,
        ),
      ).length,
    ).toBe(1);
    expect(() => insertRecords(events, [row, { ...row, createdAt: new Date() }])).toThrow(/createdAt/);
    expect(() => insertRecords(events, [])).toThrow(/no rows/);
    expect(await db.$count(events, eq(events.workspaceId, w.workspaceId))).toBe(2);
  });
});
