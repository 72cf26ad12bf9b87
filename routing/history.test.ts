import { describe, expect, it } from "bun:test";
import { validateInbound } from "../conversations/ingest.ts";
import { ingestBatch } from "../conversations/inbound-queue.ts";
import { workItems } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";
import { testWorkspace } from "../test/workspace.ts";
import { historyTimes, queueHistory } from "./history.ts";
import { createQueue } from "./queue.ts";

const now = new Date("2026-03-02T12:00:00.000Z");
const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000);

/** Conversations to hang work items on: one live item per conversation is all the schema allows. */
async function conversations(w: Awaited<ReturnType<typeof testWorkspace>>, n: number) {
  const inbox = await w.inbox();
  const stored = await ingestBatch(
    w.core,
    w.workspaceId,
    Array.from({ length: n }, (_, i) =>
      validateInbound({
        channel: "webchat",
        channelAccountId: inbox.id,
        externalId: `h${i}`,
        from: { kind: "visitor", value: `v${i}` },
        text: "hi",
      }),
    ),
  );
  return stored.map((s) => s.conversation.id);
}

describe("sample times", () => {
  it("end at now and go back by the step as far as the minutes reach", () => {
    expect(historyTimes(now, 5, 60).map((t) => t.toISOString())).toEqual(
      [ago(5), ago(4), ago(3), ago(2), ago(1), now].map((t) => t.toISOString()),
    );
    // 10 minutes by 7 s does not divide: the newest point is still now.
    const odd = historyTimes(now, 10, 7);
    expect(odd).toHaveLength(86);
    expect(odd.at(-1)).toEqual(now);
    expect(now.getTime() - odd[0]!.getTime()).toBe(85 * 7000);
  });

  it("refuses more than 500 points, naming the step", () => {
    expect(historyTimes(now, 499, 60)).toHaveLength(500);
    let refused: unknown;
    try {
      historyTimes(now, 500, 60);
    } catch (err) {
      refused = err;
    }
    expect(refused).toBeInstanceOf(Invalid);
    expect((refused as Invalid).field).toBe("step");
  });
});

describe("queue history", () => {
  it("counts what waited in each queue at each time: queued, not yet answered or ended (offers included)", async () => {
    const w = await testWorkspace();
    const [a, b, empty] = [
      await createQueue(w.core.db, w.workspaceId, { name: "A" }),
      await createQueue(w.core.db, w.workspaceId, { name: "B" }),
      await createQueue(w.core.db, w.workspaceId, { name: "Empty" }),
    ];
    const [done, offered, stillWaiting, waitingB, futureB] = await conversations(w, 5);
    const item = (conversationId: string, queueId: string, t: Partial<typeof workItems.$inferInsert>) =>
      ({
        workspaceId: w.workspaceId,
        conversationId,
        queueId,
        channel: "webchat",
        ...t,
      }) as typeof workItems.$inferInsert;
    await w.core.db.insert(workItems).values([
      // Answered 1.5 min after it came: waits at -9 and -8.
      item(done!, a.id, { state: "done", enqueuedAt: ago(9.5), answeredAt: ago(7.5), endedAt: ago(5) }),
      // Offered to an agent who has not accepted: still waiting, from -8 (queued exactly then) on.
      item(offered!, a.id, { state: "reserved", enqueuedAt: ago(8), reservationExpiresAt: ago(-1) }),
      // Closed by the customer before anyone answered, exactly at -3: waits at -6, -5, -4.
      item(done!, a.id, { state: "abandoned", enqueuedAt: ago(6), endedAt: ago(3) }),
      // Queued long before the window and still waiting: every point.
      item(stillWaiting!, a.id, { state: "waiting", enqueuedAt: ago(30) }),
      // Over before the window.
      item(done!, a.id, { state: "done", enqueuedAt: ago(30), answeredAt: ago(20), endedAt: ago(15) }),
      // Answered exactly at -7: waits at -10, -9, -8, no longer at -7.
      item(done!, a.id, { state: "done", enqueuedAt: ago(12), answeredAt: ago(7), endedAt: ago(6) }),
      // Answered exactly at the first point: not waiting anywhere on the chart.
      item(done!, a.id, { state: "done", enqueuedAt: ago(11), answeredAt: ago(10), endedAt: ago(9) }),
      item(waitingB!, b.id, { state: "waiting", enqueuedAt: ago(2) }),
      // After the chart's now.
      item(futureB!, b.id, { state: "waiting", enqueuedAt: ago(-0.5) }),
    ]);
    // Another workspace's work never shows.
    const other = await testWorkspace();
    const otherQueue = await createQueue(other.core.db, other.workspaceId, { name: "A" });
    const [otherConversation] = await conversations(other, 1);
    await other.core.db.insert(workItems).values({
      workspaceId: other.workspaceId,
      conversationId: otherConversation!,
      queueId: otherQueue.id,
      channel: "webchat",
      enqueuedAt: ago(5),
    });

    const history = await queueHistory(w.core.db, w.workspaceId, { minutes: 10, step: 60, now });
    expect(history.step).toBe(60);
    expect(history.points.map((p) => p.at)).toEqual(Array.from({ length: 11 }, (_, i) => ago(10 - i).toISOString()));
    const series = (queueId: string) => history.points.map((p) => p.waiting[queueId]);
    //                         -10 -9 -8 -7 -6 -5 -4 -3 -2 -1  0
    expect(series(a.id)).toEqual([2, 3, 4, 2, 3, 3, 3, 2, 2, 2, 2]);
    expect(series(b.id)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
    expect(series(empty.id)).toEqual(Array(11).fill(0));
    expect(Object.keys(history.points[0]!.waiting).sort()).toEqual([a.id, b.id, empty.id].sort());
  });

  it("gives every point an empty map in a workspace without queues", async () => {
    const w = await testWorkspace();
    const history = await queueHistory(w.core.db, w.workspaceId, { minutes: 5, step: 60, now });
    expect(history.points).toHaveLength(6);
    expect(history.points.every((p) => Object.keys(p.waiting).length === 0)).toBe(true);
  });
});
