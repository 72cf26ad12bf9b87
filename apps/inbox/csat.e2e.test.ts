import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import type { ChannelAdapter, OutboundMessage } from "../../conversations/channel.ts";
import { createInbox } from "../../conversations/inbox.ts";
import { ingestInbound } from "../../conversations/ingest.ts";
import { sendDueSurveys } from "../../csat/survey.ts";
import { csatSurveys } from "../../db/schema/service.ts";
import { outbox } from "../../db/schema/index.ts";
import { until } from "../../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";

/** An SMS provider that takes every message, keeping what it was given. */
function recordingSms() {
  const sent: OutboundMessage[] = [];
  const adapter: ChannelAdapter = {
    channel: "sms",
    capabilities: { text: true, media: false, voice: false, typing: false, readReceipts: false, editWindow: 0 },
    async send(message) {
      sent.push(message);
      return { externalId: `SM${sent.length}`, status: "delivered" };
    },
  };
  return { adapter, sent };
}

let s: TestServer;
let admin: string;
let supervisor: string;
const sms = recordingSms();

beforeAll(async () => {
  s = await startTestServer({ adapters: { sms: sms.adapter }, env: { CSAT_SWEEP_MS: "100" } });
  admin = await s.login(s.admin.email, s.admin.password);
  supervisor = await s.signInAs("supervisor", "Sue");
});
afterAll(() => s.stop());

/** A visitor who wrote once: their token and conversation. */
async function visitorChat(server = s) {
  const session = await api(`${server.url}/widget/v1/sessions`, { body: { inboxKey: server.inbox.publicKey } });
  const token = session.body.visitorToken as string;
  const sent = await api(`${server.url}/widget/v1/messages`, { token, body: { text: "my order is late" } });
  expect(sent.status).toBe(201);
  return { token, conversationId: sent.body.conversationId as string };
}

async function setStatus(conversationId: string, status: "resolved" | "open", server = s, token = admin) {
  const r = await api(`${server.url}/api/v1/conversations/${conversationId}/status`, { token, body: { status } });
  expect(r.status).toBe(200);
}

const rate = (token: string, body: unknown, server = s) => api(`${server.url}/widget/v1/csat`, { token, body });

describe("widget answers (POST /widget/v1/csat)", () => {
  it("rates the latest resolved conversation once: 201, then 409; 409 while open; 400 for 0, 6 and 2.5", async () => {
    const v = await visitorChat();
    const open = await rate(v.token, { rating: 4 });
    expect(open.status).toBe(409);
    expect(open.body.error.field).toBe("conversation");
    await setStatus(v.conversationId, "resolved");
    for (const rating of [0, 6, 2.5, "5"]) {
      const bad = await rate(v.token, { rating });
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe("rating");
    }
    const first = await rate(v.token, { rating: 4, comment: "  quick and kind  " });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ conversationId: v.conversationId, rating: 4, comment: "quick and kind" });
    const again = await rate(v.token, { rating: 1 });
    expect(again.status).toBe(409);
    // Answering reopens nothing, and the agent sees the rating on the conversation and its timeline.
    const view = await api(`${s.url}/api/v1/conversations/${v.conversationId}`, { token: admin });
    expect(view.body).toMatchObject({ status: "resolved", csat: { rating: 4, comment: "quick and kind" } });
    const timeline = await api(`${s.url}/api/v1/conversations/${v.conversationId}/timeline`, { token: admin });
    const items = timeline.body.items as { eventType?: string; data: Record<string, unknown> }[];
    expect(items.find((i) => i.eventType === "csat_received")?.data).toMatchObject({ rating: 4, via: "widget" });
  });

  it("tells a supervisor's realtime socket about the answer (csat.received)", async () => {
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${supervisor}`);
    const v = await visitorChat();
    await setStatus(v.conversationId, "resolved");
    expect((await rate(v.token, { rating: 5 })).status).toBe(201);
    const frame = await socket.waitFor((f) => f.type === "csat.received" && f.conversationId === v.conversationId);
    expect(frame).toMatchObject({ rating: 5, comment: null, channel: "webchat" });
    socket.close();
  });
});

describe("surveys", () => {
  it("is scheduled on resolution with the inbox's delay and shown to the widget by the sweep", async () => {
    const put = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}/csat`, {
      method: "PUT",
      token: admin,
      body: { enabled: true, scale: "thumbs", question: { en: "Did we help?" }, delayMinutes: 0 },
    });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ enabled: true, scale: "thumbs", expiresHours: 72 });
    const bad = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}/csat`, {
      method: "PUT",
      token: admin,
      body: { enabled: true, scale: "stars", delayMinutes: 2000 },
    });
    expect(bad.status).toBe(400);
    const agentToken = await s.login(s.agent.email, s.agent.password);
    const forbidden = await api(`${s.url}/api/v1/inboxes/${s.inbox.id}/csat`, { token: agentToken });
    expect(forbidden.status).toBe(403);

    const v = await visitorChat();
    const socket = await openSocket(`${wsUrl(s.url)}/widget/v1/ws?token=${v.token}`);
    expect((await api(`${s.url}/widget/v1/csat`, { token: v.token })).body).toBeNull();
    await setStatus(v.conversationId, "resolved");
    const asked = await socket.waitFor((f) => f.type === "csat.requested", 10_000);
    expect(asked).toMatchObject({ conversationId: v.conversationId, scale: "thumbs", question: "Did we help?" });
    const pending = await api(`${s.url}/widget/v1/csat`, { token: v.token });
    expect(pending.body).toEqual({ conversationId: v.conversationId, scale: "thumbs", question: "Did we help?" });
    expect((await rate(v.token, { rating: 1 })).status).toBe(201);
    const [survey] = await s.rt.core.db
      .select()
      .from(csatSurveys)
      .where(eq(csatSurveys.conversationId, v.conversationId));
    expect(survey!.status).toBe("answered");
    expect((await api(`${s.url}/widget/v1/csat`, { token: v.token })).body).toBeNull();
    socket.close();
  });

  it("waits the inbox's delay before asking", async () => {
    await api(`${s.url}/api/v1/inboxes/${s.inbox.id}/csat`, {
      method: "PUT",
      token: admin,
      body: { enabled: true, scale: "stars", delayMinutes: 30 },
    });
    const v = await visitorChat();
    await setStatus(v.conversationId, "resolved");
    const [survey] = await until(
      () => s.rt.core.db.select().from(csatSurveys).where(eq(csatSurveys.conversationId, v.conversationId)),
      (rows) => rows.length === 1,
    );
    const delay = survey!.sendAt.getTime() - survey!.createdAt.getTime();
    expect(delay).toBeGreaterThan(29 * 60_000);
    expect(delay).toBeLessThan(31 * 60_000);
    expect(survey!.expiresAt.getTime() - survey!.sendAt.getTime()).toBe(72 * 3_600_000);
    // A pass of the sweep asks nothing that is not due.
    await sendDueSurveys(s.rt.core, s.url);
    const [still] = await s.rt.core.db.select().from(csatSurveys).where(eq(csatSurveys.id, survey!.id));
    expect(still!.status).toBe("scheduled");
  });

  it("sends an SMS conversation the link through the outbox, without reopening it", async () => {
    const inbox = await createInbox(s.rt.core.db, s.rt.keyring, {
      workspaceId: s.workspaceId,
      channel: "sms",
      name: "SMS",
      credentials: { authToken: "sealed" },
      settings: { csat: { enabled: true, scale: "stars", question: { en: "Rate us?" }, delayMinutes: 0 } },
    });
    const phone = "+8613800138123";
    const r = await ingestInbound(s.rt.core, s.workspaceId, {
      channel: "sms",
      channelAccountId: inbox.id,
      externalId: `SMin-${crypto.randomUUID()}`,
      from: { kind: "phone", value: phone },
      text: "where is my parcel",
    });
    await setStatus(r.conversation.id, "resolved");
    const message = await until(
      async () => sms.sent.find((m) => m.text?.includes("/csat/")),
      (m) => !!m,
    );
    expect(message!.text).toContain("Rate us?");
    expect(message!.text).toMatch(/\/csat\/[A-Za-z0-9_-]{43}/);
    // The provider took it: the outbox row is marked sent right after.
    const rows = await until(
      () => s.rt.core.db.select().from(outbox).where(eq(outbox.conversationId, r.conversation.id)),
      (rows) => rows.some((o) => o.status === "sent"),
    );
    expect(rows.map((o) => o.status)).toContain("sent");
    const view = await api(`${s.url}/api/v1/conversations/${r.conversation.id}`, { token: admin });
    expect(view.body.status).toBe("resolved");
  });
});

describe("results (GET /csat, /csat/summary)", () => {
  it("lists answers between from and to, summarizes by agent, and shows nothing of another workspace", async () => {
    const other = await startTestServer();
    try {
      const otherAdmin = await other.login(other.admin.email, other.admin.password);
      const foreign = await visitorChat(other);
      await setStatus(foreign.conversationId, "resolved", other, otherAdmin);
      expect((await rate(foreign.token, { rating: 2 }, other)).status).toBe(201);

      const agentToken = await s.login(s.agent.email, s.agent.password);
      const start = new Date();
      const ratings = [5, 4, 2];
      const ids: string[] = [];
      for (const rating of ratings) {
        const v = await visitorChat();
        const assigned = await api(`${s.url}/api/v1/conversations/${v.conversationId}/assign`, {
          token: admin,
          body: { assigneeId: s.agent.id },
        });
        expect(assigned.status).toBe(200);
        await setStatus(v.conversationId, "resolved", s, agentToken);
        expect((await rate(v.token, { rating })).status).toBe(201);
        ids.push(v.conversationId);
      }
      const from = start.toISOString();
      const list = await api(`${s.url}/api/v1/csat?from=${encodeURIComponent(from)}`, { token: supervisor });
      expect(list.status).toBe(200);
      const mine = (list.body.items as { conversationId: string }[]).map((i) => i.conversationId);
      expect(mine.sort()).toEqual([...ids].sort());
      expect(list.body.items[0]).toMatchObject({ agentId: s.agent.id, channel: "webchat" });
      expect(list.body.items[0].createdAt).toBeString();
      const before = await api(`${s.url}/api/v1/csat?to=${encodeURIComponent(from)}`, { token: supervisor });
      for (const id of ids)
        expect(before.body.items.map((i: { conversationId: string }) => i.conversationId)).not.toContain(id);
      const everything = await api(`${s.url}/api/v1/csat`, { token: supervisor });
      expect(everything.body.items.map((i: { conversationId: string }) => i.conversationId)).not.toContain(
        foreign.conversationId,
      );

      const summary = await api(`${s.url}/api/v1/csat/summary?groupBy=agent&from=${encodeURIComponent(from)}`, {
        token: supervisor,
      });
      expect(summary.status).toBe(200);
      expect(summary.body.rows).toEqual([
        { key: s.agent.id, name: "Agent Ann", responses: 3, average: 3.67, satisfied: 0.6667 },
      ]);
      expect((await api(`${s.url}/api/v1/csat`, { token: agentToken })).status).toBe(403);
      expect((await api(`${s.url}/api/v1/csat/summary?groupBy=team`, { token: supervisor })).status).toBe(400);
    } finally {
      await other.stop();
    }
  });
});
