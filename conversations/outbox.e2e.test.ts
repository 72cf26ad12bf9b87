import { afterEach, expect, it } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { PermanentSendError, type ChannelAdapter, type OutboundMessage, type SendResult } from "./channel.ts";
import { createInbox } from "./inbox.ts";
import { ingestInbound } from "./ingest.ts";
import { OutboxWorker, type OutboxOptions } from "./outbox.ts";
import { conversations, outbox, timelineItems } from "../db/schema/index.ts";
import { Lease } from "../db/lease.ts";
import { until } from "../test/poll.ts";
import { startSmtpSink } from "../test/smtp-sink.ts";
import { EmailSettings } from "../channels/email/settings.ts";
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

async function smsConversation(server: TestServer, phone = "+8613800138000") {
  const inbox = await createInbox(server.rt.core.db, server.rt.keyring, {
    workspaceId: server.workspaceId,
    channel: "sms",
    name: "SMS",
    credentials: { authToken: "sealed" },
  });
  const r = await ingestInbound(server.rt.core, server.workspaceId, {
    channel: "sms",
    channelAccountId: inbox.id,
    externalId: `SMin-${phone}`,
    from: { kind: "phone", value: phone },
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
  const sent = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
    token,
    body: { text: "It left the depot today" },
  });
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
  const sent = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
    token,
    body: { text: "Sorry for the wait" },
  });
  const failed = await socket.waitFor((f) => f.type === "item.updated" && f.item.id === sent.body.id, 10_000);
  expect(failed.item).toMatchObject({ status: "failed", error: "provider unavailable (attempt 6)" });
  expect(sms.attempts).toHaveLength(6);
  const timeline = await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token });
  expect(timeline.body.items.at(-1)).toMatchObject({ id: sent.body.id, status: "failed" });

  const retry = await api(`${s.url}/api/v1/conversations/${conversationId}/messages/${sent.body.id}/retry`, {
    token,
    body: {},
  });
  expect(retry.status).toBe(200);
  const after = await socket.waitFor(
    (f) => f.type === "item.updated" && f.item.id === sent.body.id && f.item.status === "delivered",
    10_000,
  );
  expect(after.item.error).toBeNull();
  expect(sms.attempts).toHaveLength(7);
  socket.close();
});

/**
 * An SMS adapter the test drives by hand: each send waits until the test settles it (`accept` or
 * `fail`), or settles at once when `auto` says how. Every message it was handed is in `sends`.
 */
function scriptedSms(auto?: (message: OutboundMessage, n: number) => SendResult | Error | undefined) {
  const sends: OutboundMessage[] = [];
  const waiting: { message: OutboundMessage; resolve: (r: SendResult) => void; reject: (e: Error) => void }[] = [];
  const adapter: ChannelAdapter = {
    channel: "sms",
    capabilities: { text: true, media: false, voice: false, typing: false, readReceipts: false, editWindow: 0 },
    send(message) {
      sends.push(message);
      const scripted = auto?.(message, sends.length);
      if (scripted instanceof Error) return Promise.reject(scripted);
      if (scripted) return Promise.resolve(scripted);
      return new Promise((resolve, reject) => waiting.push({ message, resolve, reject }));
    },
  };
  const next = () => {
    const held = waiting.shift();
    if (!held) throw new Error("no send is waiting");
    return held;
  };
  return {
    adapter,
    sends,
    texts: () => sends.map((m) => m.text),
    accept: (externalId: string) => next().resolve({ externalId, status: "delivered" }),
    fail: (error: Error) => next().reject(error),
  };
}

/**
 * The test server without its own outbox worker: the test runs workers by hand, step by step. Those
 * workers see the whole shared test database, so tests assert on their own rows and sends, never on
 * how many rows a run claimed.
 */
async function manualOutbox() {
  const server = await startTestServer();
  await server.rt.outbox.stop();
  const token = await server.login(server.admin.email, server.admin.password);
  const worker = (adapter: ChannelAdapter, options: Partial<OutboxOptions> = {}) =>
    new OutboxWorker(server.rt.core, { adapters: { sms: adapter }, keyring: server.rt.keyring, ...options });
  const reply = async (conversationId: string, text: string) =>
    (await api(`${server.url}/api/v1/conversations/${conversationId}/messages`, { token, body: { text } })).body
      .id as string;
  const rowOf = async (itemId: string) =>
    (await server.rt.core.db.select().from(outbox).where(eq(outbox.timelineItemId, itemId)))[0]!;
  const itemOf = async (itemId: string) =>
    (await server.rt.core.db.select().from(timelineItems).where(eq(timelineItems.id, itemId)))[0]!;
  /** What another node sees once a lease has run out (a worker died or is stuck mid-send). */
  const expireLease = (itemId: string) =>
    server.rt.core.db.execute(
      sql`UPDATE ${outbox} SET locked_until = now() - interval '1 second' WHERE timeline_item_id = ${itemId}`,
    );
  return { server, token, worker, reply, rowOf, itemOf, expireLease };
}

/**
 * The database refuses to record one outbox row as sent (a full disk, a lost connection, a failover),
 * until the returned function lifts that.
 */
async function refuseToRecordSent(server: TestServer, rowId: string) {
  const db = server.rt.core.db;
  const name = `refuse_sent_${rowId.replaceAll("-", "")}`;
  await db.execute(
    sql.raw(`
    CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN IF NEW.status = 'sent' THEN RAISE EXCEPTION 'cannot record'; END IF; RETURN NEW; END $$`),
  );
  await db.execute(
    sql.raw(`
    CREATE TRIGGER ${name} BEFORE UPDATE ON outbox FOR EACH ROW
    WHEN (NEW.id = '${rowId}') EXECUTE FUNCTION ${name}()`),
  );
  return async () => {
    await db.execute(sql.raw(`DROP TRIGGER ${name} ON outbox`));
    await db.execute(sql.raw(`DROP FUNCTION ${name}()`));
  };
}

it("never makes a send the provider accepted pending again when its result cannot be stored", async () => {
  const m = await manualOutbox();
  s = m.server;
  const conversationId = await smsConversation(s);
  const itemId = await m.reply(conversationId, "Your parcel is at the depot");
  const { id: rowId } = await m.rowOf(itemId);
  const allowRecording = await refuseToRecordSent(s, rowId);
  const sms = scriptedSms((_, n) => ({ externalId: `SM${n}`, status: "delivered" }));
  const worker = m.worker(sms.adapter, { baseDelayMs: 0, leaseMs: 60_000 });

  await worker.runOnce();
  expect(sms.sends).toHaveLength(1);
  const held = await m.rowOf(itemId);
  expect(held.status).toBe("pending");
  expect(held.lockedUntil!.getTime()).toBeGreaterThan(Date.now());
  // Still the first attempt's lease: no other claim, so no second send.
  await worker.runOnce();
  expect(sms.sends).toHaveLength(1);

  await allowRecording();
  // Only once the lease has run out is it sent again, with the same idempotency key for the provider.
  await m.expireLease(itemId);
  await worker.runOnce();
  expect(sms.sends.map((x) => x.idempotencyKey)).toEqual([rowId, rowId]);
  expect(await m.rowOf(itemId)).toMatchObject({ status: "sent", externalId: "SM2", attempts: 2 });
  expect((await m.itemOf(itemId)).deliveryStatus).toBe("delivered");
});

it("resends a mail whose result could not be stored only after the lease, with the same Message-ID", async () => {
  const sink = await startSmtpSink();
  try {
    const m = await manualOutbox();
    s = m.server;
    const tag = crypto.randomUUID().slice(0, 8);
    const settings = EmailSettings.parse({
      address: `support-${tag}@acme.test`,
      smtp: { host: "127.0.0.1", port: sink.port, security: "none" },
    });
    const inbox = await createInbox(s.rt.core.db, s.rt.keyring, {
      workspaceId: s.workspaceId,
      channel: "email",
      name: "Acme",
      settings,
    });
    const customer = `kim-${tag}@example.test`;
    const { conversation } = await ingestInbound(s.rt.core, s.workspaceId, {
      channel: "email",
      channelAccountId: inbox.id,
      externalId: `<q-${tag}@example.test>`,
      from: { kind: "email", value: customer },
      text: "Where is my order?",
    });
    const itemId = await m.reply(conversation.id, "It ships tomorrow.");
    const { id: rowId } = await m.rowOf(itemId);
    const allowRecording = await refuseToRecordSent(s, rowId);
    // The runtime's own worker: the email adapter with its Message-ID and threading preparation.
    await s.rt.outbox.runOnce();
    await sink.waitFor(1);
    await s.rt.outbox.runOnce();
    expect(sink.received).toHaveLength(1);
    await allowRecording();
    await m.expireLease(itemId);
    await s.rt.outbox.runOnce();
    await sink.waitFor(2);
    const ids = sink.received.map((r) => r.mail.messageId);
    expect(ids).toEqual([`<${rowId}@acme.test>`, `<${rowId}@acme.test>`]);
    expect(sink.received.map((r) => r.envelope.to)).toEqual([[customer], [customer]]);
    expect(await m.rowOf(itemId)).toMatchObject({ status: "sent", attempts: 2 });
  } finally {
    await sink.stop();
  }
});

for (const late of ["fails", "succeeds"] as const)
  it(`keeps the result of the worker that claimed a row after a slow one's lease ran out (the slow send ${late})`, async () => {
    const m = await manualOutbox();
    s = m.server;
    const conversationId = await smsConversation(s);
    const itemId = await m.reply(conversationId, "We have refunded you");
    const sms = scriptedSms((_, n) => (n === 1 ? undefined : { externalId: "SM-second", status: "delivered" }));
    const slow = m.worker(sms.adapter, { leaseMs: 150 });
    const second = m.worker(sms.adapter, { leaseMs: 60_000 });

    const slowRun = slow.runOnce();
    await until(
      async () => sms.sends.length,
      (n) => n === 1,
    );
    // The second worker takes the row as soon as the slow one's short lease has run out.
    await until(
      async () => {
        await second.runOnce();
        return (await m.rowOf(itemId)).status;
      },
      (status) => status === "sent",
    );
    expect(await m.rowOf(itemId)).toMatchObject({ status: "sent", externalId: "SM-second" });

    if (late === "fails") sms.fail(new Error("provider timed out"));
    else sms.accept("SM-slow");
    await slowRun;
    const row = await m.rowOf(itemId);
    expect(row).toMatchObject({ status: "sent", externalId: "SM-second", lastError: null });
    expect(await m.itemOf(itemId)).toMatchObject({ deliveryStatus: "delivered", externalId: "SM-second" });
    // Nothing was made due again: no third send.
    await second.runOnce();
    expect(sms.sends.map((x) => x.idempotencyKey)).toEqual([row.id, row.id]);
  });

it("dead-letters a row whose attempts ran out with no result recorded, visibly and retryably", async () => {
  const m = await manualOutbox();
  s = m.server;
  const conversationId = await smsConversation(s);
  const itemId = await m.reply(conversationId, "Here is your invoice");
  await s.rt.core.db.update(outbox).set({ maxAttempts: 3 }).where(eq(outbox.timelineItemId, itemId));
  // Three workers in turn take the row and never come back from the send (crashed, or hung forever).
  const stuck = scriptedSms();
  const stuckRuns: Promise<number>[] = [];
  for (let attempt = 1; attempt <= 3; attempt++) {
    stuckRuns.push(m.worker(stuck.adapter, { leaseMs: 60_000 }).runOnce());
    await until(
      async () => stuck.sends.length,
      (n) => n === attempt,
    );
    await m.expireLease(itemId);
  }
  const healthy = scriptedSms((_, n) => ({ externalId: `SM${n}`, status: "delivered" }));
  const worker = m.worker(healthy.adapter);
  await worker.runOnce();
  expect(healthy.sends).toHaveLength(0);
  const reason = "Gave up after 3 attempts: no result could be recorded";
  expect(await m.rowOf(itemId)).toMatchObject({ status: "failed", attempts: 3, lastError: reason });
  const timeline = await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: m.token });
  const shown = timeline.body.items.find((i: { id: string }) => i.id === itemId);
  expect(shown).toMatchObject({ status: "failed", error: reason });

  // Retry is for the conversation the message belongs to, and brings it back for a fresh set of tries.
  const other = await smsConversation(s, "+8613900139000");
  const retryIn = (id: string) =>
    api(`${m.server.url}/api/v1/conversations/${id}/messages/${itemId}/retry`, { token: m.token, body: {} });
  expect((await retryIn(other)).status).toBe(404);
  const retry = await retryIn(conversationId);
  expect(retry.status).toBe(200);
  expect((await m.itemOf(itemId)).deliveryStatus).toBe("pending");
  await worker.runOnce();
  expect(healthy.sends).toHaveLength(1);
  expect(await m.rowOf(itemId)).toMatchObject({ status: "sent", attempts: 1, lastError: null });
  expect((await m.itemOf(itemId)).deliveryStatus).toBe("delivered");
  // The hung sends finally fail: too late to touch the row a later lease settled.
  for (let i = 0; i < 3; i++) stuck.fail(new Error("connection reset"));
  await Promise.all(stuckRuns);
  expect(await m.rowOf(itemId)).toMatchObject({ status: "sent", lastError: null });
});

it("sends one conversation's replies in order while the first is slow, others' in the meantime", async () => {
  const m = await manualOutbox();
  s = m.server;
  const first = await smsConversation(s);
  const elsewhere = await smsConversation(s, "+8613900139000");
  await m.reply(first, "one");
  await m.reply(first, "two");
  const sms = scriptedSms((message) =>
    message.text === "one" ? undefined : { externalId: `SM-${message.text}`, status: "delivered" },
  );
  const worker = m.worker(sms.adapter);
  const another = m.worker(sms.adapter);

  const firstRun = worker.runOnce();
  await until(
    async () => sms.sends.length,
    (n) => n === 1,
  );
  // "two" waits for "one"; a reply in another conversation does not.
  await m.reply(elsewhere, "elsewhere");
  await another.runOnce();
  expect(sms.texts()).toEqual(["one", "elsewhere"]);
  sms.accept("SM-one");
  await firstRun;
  await another.runOnce();
  expect(sms.texts()).toEqual(["one", "elsewhere", "two"]);
});

it("holds a later reply while an earlier one backs off, and lets it go once the earlier is dead-lettered", async () => {
  const m = await manualOutbox();
  s = m.server;
  const conversationId = await smsConversation(s);
  const firstId = await m.reply(conversationId, "one");
  const secondId = await m.reply(conversationId, "two");
  let permanent = false;
  const sms = scriptedSms((message) =>
    message.text === "one"
      ? permanent
        ? new PermanentSendError("number unreachable")
        : new Error("provider busy")
      : { externalId: "SM-two", status: "delivered" },
  );
  const worker = m.worker(sms.adapter, { baseDelayMs: 60_000, maxDelayMs: 60_000 });

  await worker.runOnce();
  expect(await m.rowOf(firstId)).toMatchObject({ status: "pending", lastError: "provider busy" });
  // "one" is backing off for a minute: "two" must not overtake it.
  await worker.runOnce();
  expect(sms.texts()).toEqual(["one"]);
  expect((await m.rowOf(secondId)).attempts).toBe(0);

  permanent = true;
  await s.rt.core.db
    .update(outbox)
    .set({ nextAttemptAt: new Date(Date.now() - 1000) })
    .where(eq(outbox.timelineItemId, firstId));
  await worker.runOnce();
  expect(await m.rowOf(firstId)).toMatchObject({ status: "failed", lastError: "number unreachable" });
  await worker.runOnce();
  expect(sms.texts()).toEqual(["one", "one", "two"]);
  expect(await m.rowOf(secondId)).toMatchObject({ status: "sent", externalId: "SM-two" });
});

it("leaves a pinned inbox's rows to the node holding its lease, and lets any node take them once it is gone", async () => {
  const m = await manualOutbox();
  s = m.server;
  const conversationId = await smsConversation(s);
  const [conversation] = await s.rt.core.db.select().from(conversations).where(eq(conversations.id, conversationId));
  const inboxId = conversation!.inboxId!;
  const itemId = await m.reply(conversationId, "Your parcel is on its way");
  const sms = scriptedSms((_, n) => ({ externalId: `SM-pinned-${n}`, status: "delivered" }));
  const pinned = (holder: string) => ({ pinned: { holder, leasePrefixes: ["test-pin:"] } });
  const elsewhere = m.worker(sms.adapter, pinned("node-b"));
  const holder = m.worker(sms.adapter, pinned("node-a"));
  const lease = new Lease(s.rt.core.db, `test-pin:${inboxId}`, { holder: "node-a", ttlMs: 60_000 });
  expect(await lease.acquire()).toBe(true);

  expect(await elsewhere.runOnce()).toBe(0);
  expect(await m.rowOf(itemId)).toMatchObject({ status: "pending", attempts: 0 });
  expect(await holder.runOnce()).toBe(1);
  expect(await m.rowOf(itemId)).toMatchObject({ status: "sent", attempts: 1 });

  // Released (or expired): nobody holds the inbox, so any node's worker may claim its next row.
  await lease.release();
  const next = await m.reply(conversationId, "It arrives tomorrow");
  expect(await elsewhere.runOnce()).toBe(1);
  expect(await m.rowOf(next)).toMatchObject({ status: "sent" });
});
