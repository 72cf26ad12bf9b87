import { afterAll, beforeAll, expect, it } from "bun:test";
import { and, asc, eq } from "drizzle-orm";
import { ingestInbound } from "../conversations/ingest.ts";
import { timelineItems, workItems } from "../db/schema/index.ts";
import { createArticle } from "../knowledge/article.ts";
import { SAMPLE_ARTICLES } from "../knowledge/fixtures.ts";
import { createQueue, replaceEntryRules } from "./queue.ts";
import { api, startTestServer, type TestServer } from "../test/server.ts";

let s: TestServer;
let editorToken: string;

beforeAll(async () => {
  s = await startTestServer({ inboxSettings: { knowledgeBot: true } });
  const db = s.rt.core.db;
  const queue = await createQueue(db, s.workspaceId, { name: "General" });
  await replaceEntryRules(db, s.workspaceId, [{ queueId: queue.id, conditions: {} }]);
  editorToken = await s.signInAs("knowledge_editor");
  const me = (await api(`${s.url}/api/v1/me`, { token: editorToken })).body;
  for (const a of SAMPLE_ARTICLES)
    await createArticle(
      db,
      { userId: me.id, workspaceId: s.workspaceId, role: "knowledge_editor" },
      { ...a, status: "published" },
      s.rt.knowledge.saveOptions,
    );
}, 60_000);
afterAll(async () => {
  await s.stop();
});

let n = 0;
async function say(visitor: string, text: string) {
  const r = await ingestInbound(s.rt.core, s.workspaceId, {
    channel: "webchat",
    channelAccountId: s.inbox.id,
    externalId: `m-${++n}`,
    from: { kind: "visitor", value: visitor },
    text,
  });
  return r.conversation.id;
}

async function timeline(conversationId: string) {
  return s.rt.core.db
    .select()
    .from(timelineItems)
    .where(eq(timelineItems.conversationId, conversationId))
    .orderBy(asc(timelineItems.seq));
}

async function waitFor<T>(probe: () => Promise<T | undefined | false>, what: string, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

const queued = async (conversationId: string) =>
  (await s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, conversationId))).length > 0;
const botMessages = async (conversationId: string) =>
  (await timeline(conversationId)).filter((i) => i.senderType === "bot");

it("answers a confident question with the best article, holds the chat back from routing, and counts a 'yes' as deflection", async () => {
  const c = await say("v-refund", "怎么申请退款？");
  const [answer] = await waitFor(async () => (await botMessages(c)).length >= 1 && botMessages(c), "the bot's answer");
  expect(answer!.text).toContain("如何申请退款");
  expect(answer!.text).toContain("这解决了您的问题吗");
  expect(answer!.text).toContain(`/help/`);
  await Bun.sleep(300);
  expect(await queued(c)).toBe(false);

  await say("v-refund", "是的");
  const replies = await waitFor(async () => (await botMessages(c)).length >= 2 && botMessages(c), "the bot's thanks");
  expect(replies[1]!.text).toContain("很高兴");
  expect(await queued(c)).toBe(false);
  const report = await api(`${s.url}/api/v1/knowledge/report`, { token: editorToken });
  expect(report.body.deflections).toBe(1);
});

it("hands over to the queue with the question and the article on the timeline when the answer did not solve it", async () => {
  const c = await say("v-address", "How do I change my delivery address?");
  const [answer] = await waitFor(async () => (await botMessages(c)).length >= 1 && botMessages(c), "the bot's answer");
  expect(answer!.text).toContain("Changing the delivery address");
  expect(await queued(c)).toBe(false);
  await say("v-address", "no, it already shipped");
  await waitFor(() => queued(c), "the chat in the queue");
  const handover = (await timeline(c)).find((i) => i.eventType === "bot_handover");
  expect(handover!.data).toMatchObject({
    question: "How do I change my delivery address?",
    articleId: answer!.data.articleId,
    reason: "not_solved",
  });
});

it("hands over at once when the customer asks for a human, and when no article fits", async () => {
  const human = await say("v-human", "I want to talk to a human");
  await waitFor(() => queued(human), "the chat in the queue");
  expect((await timeline(human)).find((i) => i.eventType === "bot_handover")!.data).toMatchObject({
    reason: "asked_for_human",
  });

  const unknown = await say("v-unknown", "Do you sell replacement batteries for the X200 drone?");
  await waitFor(() => queued(unknown), "the chat in the queue");
  const ev = (await timeline(unknown)).find((i) => i.eventType === "bot_handover");
  expect(ev!.data).toMatchObject({
    question: "Do you sell replacement batteries for the X200 drone?",
    reason: "low_confidence",
  });
  const gaps = await api(`${s.url}/api/v1/knowledge/gaps`, { token: editorToken });
  expect(gaps.body.items).toContainEqual(
    expect.objectContaining({ kind: "handover", query: "do you sell replacement batteries for the x200 drone?" }),
  );
  // The agent now owns the chat: the bot stays quiet.
  const before = (await botMessages(unknown)).length;
  await say("v-unknown", "hello?");
  await Bun.sleep(300);
  expect((await botMessages(unknown)).length).toBe(before);
});

it("leaves inboxes without the bot to routing alone", async () => {
  const plain = await startTestServer();
  try {
    const queue = await createQueue(plain.rt.core.db, plain.workspaceId, { name: "General" });
    await replaceEntryRules(plain.rt.core.db, plain.workspaceId, [{ queueId: queue.id, conditions: {} }]);
    const r = await ingestInbound(plain.rt.core, plain.workspaceId, {
      channel: "webchat",
      channelAccountId: plain.inbox.id,
      externalId: "p-1",
      from: { kind: "visitor", value: "p" },
      text: "怎么申请退款？",
    });
    await waitFor(
      async () =>
        (
          await plain.rt.core.db
            .select()
            .from(workItems)
            .where(and(eq(workItems.conversationId, r.conversation.id)))
        ).length > 0,
      "routing",
    );
    expect(
      (
        await plain.rt.core.db.select().from(timelineItems).where(eq(timelineItems.conversationId, r.conversation.id))
      ).some((i) => i.senderType === "bot"),
    ).toBe(false);
  } finally {
    await plain.stop();
  }
});
