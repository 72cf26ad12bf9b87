import { afterEach, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import type { ChannelAdapter, OutboundMessage } from "../conversations/channel.ts";
import { createInbox } from "../conversations/inbox.ts";
import { ingestInbound } from "../conversations/conversation.ts";
import { outbox } from "../db/schema/index.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../test/server.ts";

/** An SMS adapter whose provider fails a set number of times, recording every attempt. */
function flakySms(failures: number) {
  const attempts: OutboundMessage[] = [];
  const adapter: ChannelAdapter = {
    channel: "sms",
    capabilities: { text: true, media: false, voice: false, typing: false, readReceipts: false, editWindow: 0 },
    async send(message) {
      attempts.push(message);
      if (attempts.length <= failures) throw new Error(`provider unavailable (attempt ${attempts.length})`);
      return { externalId: `SM${attempts.length}`, status: "delivered" };
    },
  };
  return { adapter, attempts };
}

let s: TestServer | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
});

async function smsConversation(server: TestServer) {
  const inbox = await createInbox(server.rt.core.db, server.rt.keyring, { workspaceId: server.workspaceId, channel: "sms", name: "SMS", credentials: { authToken: "sealed" } });
  const r = await ingestInbound(server.rt.core, server.workspaceId, {
    channel: "sms",
    channelAccountId: inbox.id,
    externalId: "SMin1",
    from: { kind: "phone", value: "+8613800138000" },
    text: "where is my parcel",
  });
  return r.conversation.id;
}

it("retries a failing send with backoff until it goes through, then records delivery", async () => {
  const sms = flakySms(2);
  s = await startTestServer({ adapters: { sms: sms.adapter } });
  const token = await s.login(s.admin.email, s.admin.password);
  const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${token}`);
  const conversationId = await smsConversation(s);
  const sent = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token, body: { text: "It left the depot today" } });
  expect(sent.body.status).toBe("pending");
  const done = await socket.waitFor((f) => f.type === "item.updated" && f.item.id === sent.body.id);
  expect(done.item).toMatchObject({ status: "delivered", error: null });
  expect(sms.attempts).toHaveLength(3);
  // Every attempt carried the same idempotency key and the decrypted inbox credentials.
  expect(new Set(sms.attempts.map((a) => a.idempotencyKey)).size).toBe(1);
  expect(sms.attempts[0]!.inbox.credentials).toEqual({ authToken: "sealed" });
  expect(sms.attempts[0]!.to).toContainEqual({ kind: "phone", value: "+8613800138000" });
  const [row] = await s.rt.core.db.select().from(outbox).where(eq(outbox.timelineItemId, sent.body.id));
  expect(row).toMatchObject({ status: "sent", attempts: 3, externalId: "SM3" });
  socket.close();
});

it("records failure with the reason after the last try, and sends again on retry", async () => {
  const sms = flakySms(6);
  s = await startTestServer({ adapters: { sms: sms.adapter } });
  const token = await s.login(s.admin.email, s.admin.password);
  const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${token}`);
  const conversationId = await smsConversation(s);
  const sent = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token, body: { text: "Sorry for the wait" } });
  const failed = await socket.waitFor((f) => f.type === "item.updated" && f.item.id === sent.body.id, 10_000);
  expect(failed.item).toMatchObject({ status: "failed", error: "provider unavailable (attempt 6)" });
  expect(sms.attempts).toHaveLength(6);
  const timeline = await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token });
  expect(timeline.body.items.at(-1)).toMatchObject({ id: sent.body.id, status: "failed" });

  const retry = await api(`${s.url}/api/v1/conversations/${conversationId}/messages/${sent.body.id}/retry`, { token, body: {} });
  expect(retry.status).toBe(200);
  const after = await socket.waitFor((f) => f.type === "item.updated" && f.item.id === sent.body.id && f.item.status === "delivered", 10_000);
  expect(after.item.error).toBeNull();
  expect(sms.attempts).toHaveLength(7);
  socket.close();
});
