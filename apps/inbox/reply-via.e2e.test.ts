import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { and, eq } from "drizzle-orm";
import type { ChannelAdapter, OutboundMessage } from "../../conversations/channel.ts";
import { createInbox } from "../../conversations/inbox.ts";
import { ingestInbound } from "../../conversations/ingest.ts";
import { sendSystemMessage } from "../../conversations/reply.ts";
import { withEvents } from "../../conversations/transaction.ts";
import { createWorkspace } from "../../conversations/workspace.ts";
import { contactIdentities, timelineItems } from "../../db/schema/index.ts";
import { until } from "../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../test/server.ts";

/**
 * Replying through every channel a contact can be reached on: GET /conversations/{id}'s replyOptions, and
 * the refusals of POST /conversations/{id}/messages — WhatsApp's 24-hour window (an approved template
 * still goes), SMS/WhatsApp opt-out — with notes always allowed. Inboxes are made directly (trusted) and
 * messages ingested as the gateway would, so the SMS/WhatsApp gateway is not needed; the sends go to a
 * recording adapter.
 */

const HOUR = 3_600_000;
const ORDER = {
  name: "order_update",
  contentSid: "HX0123456789abcdef0123456789abcdef",
  language: "en",
  body: "Hi {{1}}, your order {{2}} has shipped.",
};
const HELLO = {
  name: "hello",
  contentSid: "HXffffffffffffffffffffffffffffffff",
  language: "zh_CN",
  body: "您好，{{1}}！",
};

const sent: OutboundMessage[] = [];
const recorder = (channel: "sms" | "whatsapp"): ChannelAdapter => ({
  channel,
  capabilities: { text: true, media: true, voice: false, typing: false, readReceipts: true, editWindow: 0 },
  async send(outbound) {
    sent.push(outbound);
    return { externalId: `SM${crypto.randomUUID().replaceAll("-", "")}`, status: "sent" };
  },
});

let s: TestServer;
let admin: string;
let whatsapp: { id: string };
let sms: { id: string };
let mail: { id: string };
const ACCOUNT = `AC${"0".repeat(24)}${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
/** A number no other test file uses: route keys are unique across the shared test database. */
const number = () => `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;

beforeAll(async () => {
  s = await startTestServer({ adapters: { whatsapp: recorder("whatsapp"), sms: recorder("sms") } });
  admin = await s.login(s.admin.email, s.admin.password);
  const db = s.rt.core.db;
  whatsapp = await createInbox(db, s.rt.keyring, {
    workspaceId: s.workspaceId,
    channel: "whatsapp",
    name: "WhatsApp support",
    settings: { phoneNumber: number(), accountSid: ACCOUNT, templates: [ORDER, HELLO] },
    credentials: { authToken: "whatsapp-test-auth-token" },
  });
  sms = await createInbox(db, s.rt.keyring, {
    workspaceId: s.workspaceId,
    channel: "sms",
    name: "SMS line",
    settings: { phoneNumber: number(), accountSid: ACCOUNT },
    credentials: { authToken: "sms-test-auth-token-1234" },
  });
  mail = await createInbox(db, s.rt.keyring, {
    workspaceId: s.workspaceId,
    channel: "email",
    name: "Support mail",
    settings: { address: `support-${crypto.randomUUID()}@example.test` },
  });
}, 60_000);

afterAll(async () => {
  await s?.stop();
}, 60_000);

/** A customer's message through an inbox, as its gateway ingests it. */
async function inbound(inboxId: string, channel: "whatsapp" | "sms", from: string, text: string) {
  const stored = await ingestInbound(s.rt.core, s.workspaceId, {
    channel,
    channelAccountId: inboxId,
    externalId: `SM${crypto.randomUUID().replaceAll("-", "")}`,
    from: { kind: channel === "whatsapp" ? "whatsapp" : "phone", value: from, displayName: "Wang Fang" },
    text,
    data: { from },
  });
  return { id: stored.conversation.id, contactId: stored.contactId };
}

/** Moves the customer's messages of a conversation back in time, as if they wrote `hours` ago. */
const age = (conversationId: string, hours: number) =>
  s.rt.core.db
    .update(timelineItems)
    .set({ createdAt: new Date(Date.now() - hours * HOUR) })
    .where(and(eq(timelineItems.conversationId, conversationId), eq(timelineItems.direction, "in")));

const detail = async (id: string) => (await api(`${s.url}/api/v1/conversations/${id}`, { token: admin })).body;
const post = (id: string, body: unknown) => api(`${s.url}/api/v1/conversations/${id}/messages`, { token: admin, body });
const optionOf = (d: any, inboxId: string) => d.replyOptions.find((o: any) => o.inboxId === inboxId);

describe("WhatsApp's 24-hour window", () => {
  it("is open after the customer writes: replyWindow and the option say until when, and a reply goes", async () => {
    const from = number();
    const c = await inbound(whatsapp.id, "whatsapp", from, "Where is my order?");
    const d = await detail(c.id);
    expect(d.replyWindow).toMatchObject({ open: true, code: "whatsapp_24h" });
    const closesAt = Date.parse(d.replyWindow.closesAt);
    expect(Math.abs(closesAt - (Date.now() + 24 * HOUR))).toBeLessThan(60_000);
    expect(d.replyOptions[0]).toEqual({
      inboxId: whatsapp.id,
      inboxName: "WhatsApp support",
      channel: "whatsapp",
      to: { kind: "whatsapp", value: from },
      state: "open",
      closesAt: d.replyWindow.closesAt,
      templates: [ORDER, HELLO],
    });
    const reply = await post(c.id, { text: "It left the warehouse this morning." });
    expect(reply.status).toBe(201);
    const out = await until(
      async () => sent.find((m) => m.conversationId === c.id),
      (m) => !!m,
    );
    expect(out?.text).toBe("It left the warehouse this morning.");
  });

  it("once closed refuses free text (409 saying why), takes notes, and sends an approved template filled in", async () => {
    const c = await inbound(whatsapp.id, "whatsapp", number(), "Thanks!");
    await age(c.id, 25);
    const d = await detail(c.id);
    expect(d.replyWindow).toMatchObject({ open: false, code: "whatsapp_24h" });
    expect(optionOf(d, whatsapp.id)).toMatchObject({ state: "window_closed", templates: [ORDER, HELLO] });

    const refused = await post(c.id, { text: "Anything else?" });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "reply_window_closed", field: "text" });
    expect(refused.body.error.message).toContain("WhatsApp accepts replies only within 24 hours");
    expect(refused.body.error.message).toContain("An approved WhatsApp template can still be sent");

    expect((await post(c.id, { text: "Customer went quiet; follow up with a template.", private: true })).status).toBe(
      201,
    );

    const template = await post(c.id, {
      template: { contentSid: ORDER.contentSid, variables: { 1: "Wang", 2: "#4411" } },
    });
    expect(template.status).toBe(201);
    expect(template.body.text).toBe("Hi Wang, your order #4411 has shipped.");
    const [item] = await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.id, template.body.id));
    expect(item!.data.template).toEqual({
      name: "order_update",
      contentSid: ORDER.contentSid,
      variables: { "1": "Wang", "2": "#4411" },
    });
    const out = await until(
      async () => sent.find((m) => m.conversationId === c.id && m.channelData?.template),
      (m) => !!m,
    );
    expect(out?.channelData?.template).toMatchObject({
      contentSid: ORDER.contentSid,
      variables: { "1": "Wang", "2": "#4411" },
    });
    expect(out?.text).toBe("Hi Wang, your order #4411 has shipped.");
  });

  it("answers 400 naming the field for an unknown template, a missing variable, or a template elsewhere", async () => {
    const c = await inbound(whatsapp.id, "whatsapp", number(), "hello");
    await age(c.id, 30);
    const unknown = await post(c.id, { template: { contentSid: "HX99999999999999999999999999999999" } });
    expect([unknown.status, unknown.body.error.field]).toEqual([400, "template.contentSid"]);
    const missing = await post(c.id, { template: { contentSid: ORDER.contentSid, variables: { 1: "Wang" } } });
    expect([missing.status, missing.body.error.field]).toEqual([400, "template.variables.2"]);
    const badName = await post(c.id, { template: { contentSid: ORDER.contentSid, variables: { one: "Wang" } } });
    expect(badName.status).toBe(400);
    expect(badName.body.error.field).toStartWith("template.variables");
    const withText = await post(c.id, {
      text: "hi",
      template: { contentSid: HELLO.contentSid, variables: { 1: "x" } },
    });
    expect([withText.status, withText.body.error.field]).toEqual([400, "template"]);
    const elsewhere = await post(c.id, {
      inboxId: mail.id,
      template: { contentSid: HELLO.contentSid, variables: { 1: "x" } },
    });
    expect([elsewhere.status, elsewhere.body.error.field]).toEqual([400, "template"]);
    const out = await s.rt.core.db
      .select()
      .from(timelineItems)
      .where(and(eq(timelineItems.conversationId, c.id), eq(timelineItems.direction, "out")));
    expect(out).toEqual([]);
  });

  it("has not opened for a contact who never wrote on WhatsApp: only a template can start it", async () => {
    const phone = number();
    const c = await inbound(sms.id, "sms", phone, "Can you WhatsApp me?");
    await api(`${s.url}/api/v1/contacts/${c.contactId}/identities`, {
      token: admin,
      body: { kind: "whatsapp", value: phone },
    });
    const d = await detail(c.id);
    expect(d.replyWindow).toBeNull();
    const option = optionOf(d, whatsapp.id);
    expect(option).toMatchObject({
      channel: "whatsapp",
      to: { kind: "whatsapp", value: phone },
      state: "no_window_yet",
    });
    expect(option.closesAt).toBeUndefined();
    const refused = await post(c.id, { inboxId: whatsapp.id, text: "Hi on WhatsApp" });
    expect([refused.status, refused.body.error.code]).toEqual([409, "reply_window_closed"]);
    expect(refused.body.error.message).toContain("have not written through this number yet");
    const started = await post(c.id, {
      inboxId: whatsapp.id,
      template: { contentSid: HELLO.contentSid, variables: { 1: "Wang" } },
    });
    expect(started.status).toBe(201);
    expect(started.body).toMatchObject({ channel: "whatsapp", inboxId: whatsapp.id, text: "您好，Wang！" });
  });
});

describe("opt-out", () => {
  const stop = new Date("2026-11-30T10:00:00Z");
  const optOut = (contactId: string, kind: "phone" | "whatsapp", at: Date | null) =>
    s.rt.core.db
      .update(contactIdentities)
      .set({ optedOutAt: at })
      .where(and(eq(contactIdentities.contactId, contactId), eq(contactIdentities.kind, kind)));

  it("refuses an SMS to a number that replied STOP (409 with the date and what lifts it), takes notes, and sends after START", async () => {
    const phone = number();
    const c = await inbound(sms.id, "sms", phone, "STOP");
    await optOut(c.contactId, "phone", stop);
    const d = await detail(c.id);
    expect(optionOf(d, sms.id)).toEqual({
      inboxId: sms.id,
      inboxName: "SMS line",
      channel: "sms",
      to: { kind: "phone", value: phone },
      state: "opted_out",
      optedOutAt: stop.toISOString(),
    });
    const refused = await post(c.id, { text: "Sorry to see you go" });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "opted_out", field: "inboxId" });
    expect(refused.body.error.message).toContain(`${phone} replied STOP on 2026-11-30`);
    expect(refused.body.error.message).toContain("nothing can be sent to them by SMS until they write START");
    expect((await post(c.id, { text: "Opted out of SMS; do not text.", private: true })).status).toBe(201);
    const profile = await api(`${s.url}/api/v1/contacts/${c.contactId}`, { token: admin });
    expect(profile.body.identities.find((i: any) => i.kind === "phone").optedOutAt).toBe(stop.toISOString());

    await optOut(c.contactId, "phone", null);
    expect(optionOf(await detail(c.id), sms.id).state).toBe("open");
    expect((await post(c.id, { text: "Welcome back" })).status).toBe(201);
  });

  it("writes no automatic message (auto-reply, bot, notice) to a number that replied STOP, and writes it after START", async () => {
    const phone = number();
    const c = await inbound(sms.id, "sms", phone, "STOP");
    await optOut(c.contactId, "phone", stop);
    const automatic = () =>
      withEvents(s.rt.core, (tx, events) => sendSystemMessage(tx, events, c.id, "We are busy; we will answer soon."));
    expect(await automatic()).toBeUndefined();
    const written = () =>
      s.rt.core.db
        .select()
        .from(timelineItems)
        .where(and(eq(timelineItems.conversationId, c.id), eq(timelineItems.direction, "out")));
    expect(await written()).toEqual([]);
    await optOut(c.contactId, "phone", null);
    expect(await automatic()).toMatchObject({ text: "We are busy; we will answer soon." });
    expect((await written()).length).toBe(1);
  });

  it("refuses WhatsApp to an opted-out identity even with a template, and leaves SMS to the same number alone", async () => {
    const phone = number();
    const c = await inbound(whatsapp.id, "whatsapp", phone, "退订");
    await api(`${s.url}/api/v1/contacts/${c.contactId}/identities`, {
      token: admin,
      body: { kind: "phone", value: phone },
    });
    await optOut(c.contactId, "whatsapp", stop);
    const d = await detail(c.id);
    expect(optionOf(d, whatsapp.id)).toMatchObject({ state: "opted_out", optedOutAt: stop.toISOString() });
    expect(optionOf(d, sms.id)).toMatchObject({ state: "open", to: { kind: "phone", value: phone } });
    for (const body of [{ text: "hi" }, { template: { contentSid: HELLO.contentSid, variables: { 1: "Wang" } } }]) {
      const refused = await post(c.id, body);
      expect([refused.status, refused.body.error.code]).toEqual([409, "opted_out"]);
      expect(refused.body.error.message).toContain("by WhatsApp until they write START");
    }
    expect((await post(c.id, { inboxId: sms.id, text: "Texting you instead" })).status).toBe(201);
  });
});

describe("a reply queued before the customer's STOP", () => {
  it("is not sent: it fails with the reason when the outbox comes to it", async () => {
    const c = await inbound(sms.id, "sms", number(), "Send me the code");
    await s.rt.outbox.stop();
    let queued: Awaited<ReturnType<typeof post>>;
    try {
      queued = await post(c.id, { text: "Your code is 4411" });
      expect(queued.status).toBe(201);
      await s.rt.core.db
        .update(contactIdentities)
        .set({ optedOutAt: new Date() })
        .where(and(eq(contactIdentities.contactId, c.contactId), eq(contactIdentities.kind, "phone")));
    } finally {
      s.rt.outbox.start();
    }
    const item = await until(
      async () => (await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.id, queued.body.id)))[0],
      (i) => i?.deliveryStatus === "failed",
    );
    expect(item?.deliveryStatus).toBe("failed");
    expect(item?.deliveryError).toContain("opted out");
    expect(sent.some((m) => m.conversationId === c.id)).toBe(false);
  });
});

describe("reply options", () => {
  it("lists every inbox of the workspace that reaches the contact, the conversation's own first, and no other workspace's", async () => {
    const other = await createWorkspace(s.rt.core.db, `Other ${crypto.randomUUID().slice(0, 8)}`);
    await createInbox(s.rt.core.db, s.rt.keyring, {
      workspaceId: other.id,
      channel: "whatsapp",
      name: "Not ours",
      settings: { phoneNumber: number(), accountSid: ACCOUNT, templates: [] },
    });
    const phone = number();
    const c = await inbound(sms.id, "sms", phone, "hello");
    for (const identity of [
      { kind: "whatsapp", value: phone },
      { kind: "email", value: `wang-${crypto.randomUUID()}@example.test` },
      { kind: "telegram", value: "987654321" },
    ])
      await api(`${s.url}/api/v1/contacts/${c.contactId}/identities`, { token: admin, body: identity });
    const d = await detail(c.id);
    expect(d.replyOptions.map((o: any) => [o.channel, o.inboxName, o.to.kind, o.state])).toEqual([
      ["sms", "SMS line", "phone", "open"],
      ["whatsapp", "WhatsApp support", "whatsapp", "no_window_yet"],
      ["email", "Support mail", "email", "open"],
    ]);
  });

  it("offers the web chat a visitor wrote through", async () => {
    const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, name: "Li" } });
    const msg = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text: "hi" } });
    const d = await detail(msg.body.conversationId);
    expect(d.replyWindow).toBeNull();
    expect(d.replyOptions).toEqual([
      expect.objectContaining({
        inboxId: s.inbox.id,
        channel: "webchat",
        state: "open",
        to: expect.objectContaining({ kind: "visitor" }),
      }),
    ]);
  });
});
