import { beforeAll, describe, expect, it } from "bun:test";
import { conversations, contacts, interactions } from "../db/schema/index.ts";
import { testWorkspace } from "../test/workspace.ts";
import { summary, totals } from "./summary.ts";

/**
 * Time keys as the database makes them, in the report's zone: New York's clocks jumped from 02:00 to
 * 03:00 on Sunday 8 March 2026 (a 23-hour day), and midnight there is 05:00Z in winter, 04:00Z in summer.
 */
let w: Awaited<ReturnType<typeof testWorkspace>>;
const offered = [
  "2026-03-08T04:59:00Z", // 23:59 EST on Saturday the 7th
  "2026-03-08T05:00:00Z", // 00:00 EST on the 8th
  "2026-03-08T06:30:00Z", // 01:30 EST
  "2026-03-08T07:30:00Z", // 03:30 EDT: the hour after 01:xx, 02:xx never happened
  "2026-03-09T03:59:00Z", // 23:59 EDT on the 8th
  "2026-03-09T04:00:00Z", // 00:00 EDT on Monday the 9th
];

beforeAll(async () => {
  w = await testWorkspace();
  const inbox = await w.inbox();
  const [contact] = await w.core.db.insert(contacts).values({ workspaceId: w.workspaceId }).returning();
  const [c] = await w.core.db
    .insert(conversations)
    .values({ workspaceId: w.workspaceId, contactId: contact!.id, inboxId: inbox.id, channel: "webchat" })
    .returning();
  await w.core.db.insert(interactions).values(
    offered.map((at) => ({
      id: crypto.randomUUID(),
      workspaceId: w.workspaceId,
      conversationId: c!.id,
      contactId: contact!.id,
      channel: "webchat",
      offeredAt: new Date(at),
      outcome: "waiting",
    })),
  );
});

const period = (tz: string) => ({
  from: new Date("2026-03-07T00:00:00Z"),
  to: new Date("2026-03-10T00:00:00Z"),
  tz,
});
const keys = async (tz: string, groupBy: "day" | "hour" | "weekday_hour") =>
  (await summary(w.core.db, w.workspaceId, period(tz), groupBy)).map((r) => [r.key, r.offered]);

describe("time buckets", () => {
  it("cuts days at local midnight on a 23-hour DST day", async () => {
    expect(await keys("America/New_York", "day")).toEqual([
      ["2026-03-07", 1],
      ["2026-03-08", 4],
      ["2026-03-09", 1],
    ]);
    // The same instants in Shanghai (UTC+8, no DST) all fall on the 8th and 9th there.
    expect(await keys("Asia/Shanghai", "day")).toEqual([
      ["2026-03-08", 4],
      ["2026-03-09", 2],
    ]);
  });

  it("keys hours by their start as an instant, across the skipped hour", async () => {
    expect(await keys("America/New_York", "hour")).toEqual([
      ["2026-03-08T04:00:00Z", 1],
      ["2026-03-08T05:00:00Z", 1],
      ["2026-03-08T06:00:00Z", 1],
      ["2026-03-08T07:00:00Z", 1],
      ["2026-03-09T03:00:00Z", 1],
      ["2026-03-09T04:00:00Z", 1],
    ]);
  });

  it("keys the weekday × hour heat map by ISO weekday (Monday 1) and local hour", async () => {
    expect(await keys("America/New_York", "weekday_hour")).toEqual([
      ["1-00", 1],
      ["6-23", 1],
      ["7-00", 1],
      ["7-01", 1],
      ["7-03", 1],
      ["7-23", 1],
    ]);
  });

  it("adds the period up in one total, whatever the zone", async () => {
    expect(await totals(w.core.db, w.workspaceId, period("America/New_York"))).toMatchObject({
      key: "total",
      offered: 6,
      waiting: 6,
      answered: 0,
      asaS: null,
    });
    // Inside a caller's transaction too (the scheduled e-mail computes its report in one).
    const inTx = await w.core.db.transaction((tx) => totals(tx, w.workspaceId, period("UTC")));
    expect(inTx.offered).toBe(6);
  });
});
