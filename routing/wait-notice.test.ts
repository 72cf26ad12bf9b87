import { describe, expect, it } from "bun:test";
import { and, count, eq, sql } from "drizzle-orm";
import { ingestInbound } from "../conversations/ingest.ts";
import { events, outbox, timelineItems } from "../db/schema/index.ts";
import { testWorkspace } from "../test/workspace.ts";
import { createQueue, replaceEntryRules } from "./queue.ts";
import { announceWaits, WAIT_NOTICE, waitNoticeText } from "./wait-notice.ts";
import { DEFAULT_ROUTING, enqueueConversation } from "./work.ts";

describe("the wait notice a WeChat customer reads", () => {
  it("says in Chinese how many are ahead and about how many minutes", () => {
    expect(waitNoticeText(undefined, { position: 4, estimatedWaitS: 540 })).toBe(
      "您前面还有 3 位，预计等待约 9 分钟。",
    );
    expect(waitNoticeText("zh-CN", { position: 1, estimatedWaitS: 20 })).toBe("您是下一位，预计等待约 1 分钟。");
  });

  it("gives no number when nobody who could take the chat is signed in", () => {
    expect(waitNoticeText("zh-CN", { position: 2, estimatedWaitS: null })).toBe(
      "您前面还有 1 位，我们会尽快为您服务。",
    );
  });

  it("speaks English for an English inbox", () => {
    expect(waitNoticeText("en", { position: 2, estimatedWaitS: 330 })).toBe(
      "There is 1 person ahead of you; the estimated wait is about 6 min.",
    );
    expect(waitNoticeText("en-GB", { position: 1, estimatedWaitS: null })).toBe(
      "You are next in line. We'll be with you as soon as we can.",
    );
  });
});

describe("the router's wait-notice pass", () => {
  it("tells a backlog of waiting WeChat customers their places over a few bounded passes, then writes nothing", async () => {
    const w = await testWorkspace();
    const inbox = await w.inbox("wechat");
    const queue = await createQueue(w.core.db, w.workspaceId, { name: "WeChat" });
    await replaceEntryRules(w.core.db, w.workspaceId, [{ queueId: queue.id }]);
    // Queued a year ahead, one millisecond apart: no other test's waiting work is in the pass's window.
    const queuedAt = Date.now() + 365 * 86_400_000;
    const waiting: string[] = [];
    for (let i = 0; i < 7; i++) {
      const { conversation } = await ingestInbound(w.core, w.workspaceId, {
        channel: "wechat",
        channelAccountId: inbox.id,
        externalId: `msg-${crypto.randomUUID()}`,
        from: { kind: "wechat", value: `oWait${crypto.randomUUID().slice(0, 8)}` },
        text: "在吗？",
      });
      expect(await enqueueConversation(w.core, conversation.id, DEFAULT_ROUTING, new Date(queuedAt + i))).toBeDefined();
      waiting.push(conversation.id);
    }
    const timing = { ...WAIT_NOTICE, perPass: 5 };
    const at = new Date(queuedAt + 3_000);
    const notices = async () =>
      (
        await w.core.db
          .select({ conversationId: timelineItems.conversationId, data: timelineItems.data })
          .from(timelineItems)
          .where(and(eq(timelineItems.workspaceId, w.workspaceId), sql`${timelineItems.data} ? 'waitNoticeFor'`))
      ).map((n) => [waiting.indexOf(n.conversationId), n.data.position]);
    const written = async () =>
      [
        (await w.core.db.select({ n: count() }).from(events).where(eq(events.workspaceId, w.workspaceId)))[0]!.n,
        (await w.core.db.select({ n: count() }).from(outbox).where(eq(outbox.workspaceId, w.workspaceId)))[0]!.n,
      ] as const;

    // The oldest five first, each with its own place (from one statement for the pass), then the rest.
    expect(await announceWaits(w.core, at, timing)).toBe(5);
    expect((await notices()).sort()).toEqual([0, 1, 2, 3, 4].map((i) => [i, i + 1]));
    expect(await announceWaits(w.core, at, timing)).toBe(2);
    expect((await notices()).sort()).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => [i, i + 1]));
    // Everyone told: later passes (every node's tick, every second) find nothing and write nothing.
    const before = await written();
    for (let i = 0; i < 3; i++) expect(await announceWaits(w.core, new Date(at.getTime() + i * 1000), timing)).toBe(0);
    expect(await written()).toEqual(before);
  });
});
