import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { ingestInbound } from "../../conversations/ingest.ts";
import { DEFAULT_SLA_SECONDS } from "../../conversations/conversation-list.ts";
import { conversations } from "../../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

let s: TestServer;
let other: TestServer;
let admin: string;
let agent: string;
let otherAdmin: string;

beforeAll(async () => {
  s = await startTestServer();
  other = await startTestServer();
  admin = await s.login(s.admin.email, s.admin.password);
  agent = await s.login(s.agent.email, s.agent.password);
  otherAdmin = await other.login(other.admin.email, other.admin.password);
  // The first server of a test process also migrates its database: slow on a busy machine.
}, 60_000);
afterAll(async () => {
  await s.stop();
  await other.stop();
});

/** A widget visitor's message, through the gateway's batched ingest. */
async function visitorWrites(server: TestServer, text: string, name?: string) {
  const session = await api(`${server.url}/widget/v1/sessions`, {
    body: { inboxKey: server.inbox.publicKey, ...(name ? { name } : {}) },
  });
  const sent = await api(`${server.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text } });
  expect(sent.status).toBe(201);
  return { conversationId: sent.body.conversationId as string, visitorToken: session.body.visitorToken as string };
}

async function list(query: string, token = admin, server = s) {
  return api(`${server.url}/api/v1/conversations?${query}`, { token });
}

const ids = (r: { body: { items: { id: string }[] } }) => r.body.items.map((i) => i.id).sort();

describe("search (q)", () => {
  it("finds a conversation by a Chinese message, a note, the contact's name or an identity; wildcards are literal", async () => {
    const refund = await visitorWrites(s, "你好，我要退款", "李雷");
    const sale = await visitorWrites(s, "Is the 50% off_sale still on?", "Bob Smith");
    const phone = await ingestInbound(s.rt.core, s.workspaceId, {
      channel: "webchat",
      channelAccountId: s.inbox.id,
      externalId: crypto.randomUUID(),
      from: { kind: "phone", value: "+86 139 1234 5678", displayName: "Han Meimei" },
      text: "hello",
    });
    await api(`${s.url}/api/v1/conversations/${sale.conversationId}/messages`, {
      token: admin,
      body: { text: "VIP 客户，优先处理", private: true },
    });

    expect(ids(await list(`q=${encodeURIComponent("退款")}`))).toEqual([refund.conversationId]);
    expect(ids(await list(`q=${encodeURIComponent("李")}`))).toEqual([refund.conversationId]);
    expect(ids(await list(`q=${encodeURIComponent("优先")}`))).toEqual([sale.conversationId]);
    expect(ids(await list("q=bob%20SMITH"))).toEqual([sale.conversationId]);
    // The identity as stored (normalized), matched in part.
    expect(ids(await list("q=1391234"))).toEqual([phone.conversation.id]);
    // % and _ are what the customer typed, not "anything".
    expect(ids(await list(`q=${encodeURIComponent("%")}`))).toEqual([sale.conversationId]);
    expect(ids(await list(`q=${encodeURIComponent("f_s")}`))).toEqual([sale.conversationId]);
    expect(ids(await list(`q=${encodeURIComponent("\\")}`))).toEqual([]);
    // Filters still apply alongside the search; an agent sees only what they may see.
    expect(ids(await list(`q=${encodeURIComponent("退款")}&status=resolved`))).toEqual([]);
    expect(ids(await list(`q=${encodeURIComponent("退款")}`, agent))).toEqual([refund.conversationId]);
    await api(`${s.url}/api/v1/conversations/${refund.conversationId}/assign`, {
      token: admin,
      body: { assigneeId: s.admin.id },
    });
    expect(ids(await list(`q=${encodeURIComponent("退款")}`, agent))).toEqual([]);
    // Another workspace's search never finds this one's conversations.
    expect(ids(await list(`q=${encodeURIComponent("退款")}`, otherAdmin, other))).toEqual([]);
  });

  it("rejects an empty or too long q, naming the field", async () => {
    for (const q of ["", "x".repeat(201)]) {
      const r = await list(`q=${q}`);
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: "invalid", field: "q" });
    }
  });
});

describe("filters", () => {
  it("takes several statuses at once and rejects an unknown one naming the field", async () => {
    const open = await visitorWrites(s, "status test one");
    const pending = await visitorWrites(s, "status test two");
    await api(`${s.url}/api/v1/conversations/${pending.conversationId}/status`, {
      token: admin,
      body: { status: "pending" },
    });
    const both = ids(await list("status=open,pending&limit=100"));
    expect(both).toContain(open.conversationId);
    expect(both).toContain(pending.conversationId);
    const onlyPending = ids(await list("status=pending&limit=100"));
    expect(onlyPending).toContain(pending.conversationId);
    expect(onlyPending).not.toContain(open.conversationId);
    for (const bad of ["open,bogus", "open,", "OPEN"]) {
      const r = await list(`status=${bad}`);
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe("status");
    }
  });

  it("filters by queue", async () => {
    const queue = await api(`${s.url}/api/v1/queues`, {
      token: admin,
      body: { name: `Filter ${crypto.randomUUID().slice(0, 6)}` },
    });
    const queued = await visitorWrites(s, "in a queue");
    await visitorWrites(s, "in no queue");
    await s.rt.core.db
      .update(conversations)
      .set({ queueId: queue.body.id })
      .where(eq(conversations.id, queued.conversationId));
    expect(ids(await list(`queueId=${queue.body.id}`))).toEqual([queued.conversationId]);
    const bad = await list("queueId=nope");
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("queueId");
  });
});

describe("unread and read", () => {
  it("counts the customer's messages after what the caller has read, per agent; reading never moves back", async () => {
    const { conversationId, visitorToken } = await visitorWrites(s, "first question");
    await api(`${s.url}/widget/v1/messages`, { token: visitorToken, body: { text: "second question" } });
    await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "an answer" },
    });
    await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "a note", private: true },
    });
    const item = async (token: string) =>
      (await api(`${s.url}/api/v1/conversations/${conversationId}`, { token })).body;
    const inList = async (token: string) =>
      (await list("limit=100", token)).body.items.find((i: any) => i.id === conversationId);
    // Agent replies and notes are not unread; both customer messages are, with no read mark yet.
    expect((await inList(agent)).unread).toBe(2);
    expect((await item(agent)).unread).toBe(2);

    const timeline = (await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: agent })).body
      .items;
    const [firstSeq, secondSeq] = timeline.filter((i: any) => i.direction === "in").map((i: any) => i.seq);
    const read = await api(`${s.url}/api/v1/conversations/${conversationId}/read`, {
      token: agent,
      body: { seq: firstSeq },
    });
    expect(read).toMatchObject({ status: 200, body: { lastReadSeq: firstSeq } });
    expect((await inList(agent)).unread).toBe(1);
    // An older tab reporting an earlier seq does not make read messages unread again.
    const back = await api(`${s.url}/api/v1/conversations/${conversationId}/read`, { token: agent, body: { seq: 0 } });
    expect(back.body.lastReadSeq).toBe(firstSeq);
    await api(`${s.url}/api/v1/conversations/${conversationId}/read`, { token: agent, body: { seq: secondSeq } });
    expect((await inList(agent)).unread).toBe(0);
    expect((await item(agent)).unread).toBe(0);
    // Read marks are per person: the admin has read nothing.
    expect((await inList(admin)).unread).toBe(2);
  });

  it("rejects a bad seq naming the field, and a conversation the caller may not see with 404", async () => {
    const { conversationId } = await visitorWrites(s, "private matters");
    for (const seq of [-1, 1.5, "7"]) {
      const r = await api(`${s.url}/api/v1/conversations/${conversationId}/read`, { token: agent, body: { seq } });
      expect(r.status).toBe(400);
      expect(r.body.error.field).toBe("seq");
    }
    await api(`${s.url}/api/v1/conversations/${conversationId}/assign`, {
      token: admin,
      body: { assigneeId: s.admin.id },
    });
    expect(
      (await api(`${s.url}/api/v1/conversations/${conversationId}/read`, { token: agent, body: { seq: 1 } })).status,
    ).toBe(404);
    const foreign = await api(`${other.url}/api/v1/conversations/${conversationId}/read`, {
      token: otherAdmin,
      body: { seq: 1 },
    });
    expect(foreign.status).toBe(404);
  });
});

describe("waiting and service level", () => {
  it("shows since when the customer waits and when the answer is due, from the queue's service level or the default", async () => {
    const { conversationId } = await visitorWrites(s, "anyone there?");
    const get = async () => (await api(`${s.url}/api/v1/conversations/${conversationId}`, { token: admin })).body;
    const waiting = await get();
    expect(waiting.waitingSince).not.toBeNull();
    expect(Date.parse(waiting.slaDueAt) - Date.parse(waiting.waitingSince)).toBe(DEFAULT_SLA_SECONDS * 1000);
    expect(waiting.contact.handle).toMatch(/^anon:/);
    const listed = (await list("limit=100")).body.items.find((i: any) => i.id === conversationId);
    expect(listed).toMatchObject({
      waitingSince: waiting.waitingSince,
      slaDueAt: waiting.slaDueAt,
      unread: 1,
      contact: waiting.contact,
    });

    const queue = await api(`${s.url}/api/v1/queues`, {
      token: admin,
      body: { name: `SLA ${crypto.randomUUID().slice(0, 6)}`, serviceLevelSeconds: 30 },
    });
    await s.rt.core.db
      .update(conversations)
      .set({ queueId: queue.body.id })
      .where(eq(conversations.id, conversationId));
    expect(Date.parse((await get()).slaDueAt) - Date.parse(waiting.waitingSince)).toBe(30_000);

    // A private note is not an answer; a public reply is.
    await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "checking stock", private: true },
    });
    expect((await get()).waitingSince).toBe(waiting.waitingSince);
    await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "Yes, how can I help?" },
    });
    expect(await get()).toMatchObject({ waitingSince: null, slaDueAt: null });
  });

  it("answers 404 for another workspace's conversation", async () => {
    const { conversationId } = await visitorWrites(s, "mine only");
    expect((await api(`${other.url}/api/v1/conversations/${conversationId}`, { token: otherAdmin })).status).toBe(404);
  });
});
