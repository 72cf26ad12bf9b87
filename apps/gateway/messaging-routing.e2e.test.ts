import { afterAll, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { verifySignature } from "../../channels/api/index.ts";
import { slackInboxOf, SlackSetup } from "../../channels/slack/setup.ts";
import { slackSignature } from "../../channels/slack/index.ts";
import { telegramInboxOf, TelegramSetup } from "../../channels/telegram/setup.ts";
import { messagingInboxOf, TwilioMessagingSetup } from "../../channels/twilio-messaging/setup.ts";
import { createInbox } from "../../conversations/inbox.ts";
import { inboxes, timelineItems, workItems, type InboxSettings } from "../../db/schema/index.ts";
import { createArticle } from "../../knowledge/article.ts";
import { SAMPLE_ARTICLES } from "../../knowledge/fixtures.ts";
import { announceWaits } from "../../routing/wait-notice.ts";
import { until } from "../../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../test/server.ts";
import { SLACK_TEST_SECRET } from "../../test/slack.ts";
import { postUpdate, startBotApiStandIn, telegramCustomers } from "../../test/telegram-bot-api.ts";
import { newNumber, newSid, postSigned, startTwilioStandIn } from "../../test/twilio-messaging.ts";

/**
 * Issue 21: "Routing, entry rules, estimates, the bot and knowledge suggestions work on every new
 * channel." Each of SMS, WhatsApp, Slack, Telegram and the API channel, through its real webhook signed
 * as its provider signs it: the entry rule's queue and an offer to the agent with the skill, the wait
 * notice (with place and estimate) on the channels that get one, the knowledge bot answering through
 * the provider and handing over, and the agent's article suggestions.
 */

setDefaultTimeout(30_000);

const twilio = startTwilioStandIn();
const telegram = startBotApiStandIn();
const { newUser, update } = telegramCustomers();
/** Slack's Web API as replies use it: every call recorded. */
const slackCalls: { method: string; body: Record<string, any> }[] = [];
const slackApi = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const method = new URL(req.url).pathname.replace("/api/", "");
    const text = await req.text();
    const body = text.startsWith("{") ? JSON.parse(text) : Object.fromEntries(new URLSearchParams(text));
    slackCalls.push({ method, body });
    if (method === "users.info") return Response.json({ ok: true, user: { profile: { display_name: "Carol" } } });
    if (method === "chat.postMessage")
      return Response.json({ ok: true, channel: body.channel, ts: `${Date.now() / 1000}` });
    return Response.json({ ok: false, error: "unknown_method" });
  },
});
/** The API channel's callback receiver: what each inbox's app was POSTed. */
const callbacks: { path: string; headers: Headers; raw: string; body: any }[] = [];
const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const raw = await req.text();
    callbacks.push({ path: new URL(req.url).pathname, headers: req.headers, raw, body: JSON.parse(raw) });
    return new Response("ok");
  },
});

const account = twilio.account();
let s: TestServer;
/** Tokens: the admin's, Ann's (an agent with the billing skill) and Bob's (an agent without it). */
let admin: string, ann: string, bob: string;
const sockets: Awaited<ReturnType<typeof openSocket>>[] = [];
const queues = { billing: "", general: "" };

type Kind = "sms" | "whatsapp" | "slack" | "telegram" | "api";
/** An inbox of the channel: its address there, the secret signing its webhooks, an API inbox's token. */
type Box = { id: string; address: string; secret: string; token?: string };
/** One customer of a channel: who they are there, and their thread (Slack) once they wrote. */
type Customer = { id: string; thread?: string };
type Channel = {
  kind: Kind;
  english: boolean;
  inbox(name: string, settings: InboxSettings): Promise<Box>;
  customer(): Customer;
  /** The customer writes, through the webhook or API the provider calls: the message's conversation. */
  say(box: Box, who: Customer, text: string): Promise<string>;
  /** What the customer received through the provider, in order. */
  heard(box: Box, who: Customer): string[];
};

const rand = (n: number) => crypto.randomUUID().replaceAll("-", "").slice(0, n).toUpperCase();
type Made = { settings: InboxSettings; credentials: Record<string, unknown> };
const trusted = (channel: Kind, name: string, made: Made) =>
  createInbox(s.rt.core.db, s.rt.keyring, { workspaceId: s.workspaceId, channel, name, ...made });
/** The conversation a stored message of the inbox went to (the provider was answered once it was stored). */
async function conversationOf(inboxId: string, externalId: string) {
  const [row] = await s.rt.core.db
    .select({ conversationId: timelineItems.conversationId })
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.externalId, externalId)));
  expect(row).toBeDefined();
  return row!.conversationId;
}

function viaTwilio(kind: "sms" | "whatsapp", english: boolean): Channel {
  const prefix = kind === "whatsapp" ? "whatsapp:" : "";
  return {
    kind,
    english,
    async inbox(name, settings) {
      const phoneNumber = newNumber();
      const made = messagingInboxOf(
        TwilioMessagingSetup.parse({ phoneNumber, accountSid: account.sid, authToken: account.token }),
      );
      const row = await trusted(kind, name, { ...made, settings: { ...made.settings, ...settings } });
      return { id: row.id, address: phoneNumber, secret: account.token };
    },
    customer: () => ({ id: newNumber() }),
    async say(box, who, text) {
      const params = {
        MessageSid: newSid("SM"),
        AccountSid: account.sid,
        From: prefix + who.id,
        To: prefix + box.address,
        Body: text,
        NumMedia: "0",
      };
      expect((await postSigned(s, "/webhooks/twilio/messaging", params, box.secret)).status).toBe(200);
      return conversationOf(box.id, params.MessageSid);
    },
    heard: (box, who) =>
      twilio
        .messagesSent(account.sid)
        .filter((r) => r.form.From === prefix + box.address && r.form.To === prefix + who.id)
        .map((r) => r.form.Body ?? ""),
  };
}

let slackTs = Math.floor(Date.now() / 1000) - 30;
const slack: Channel = {
  kind: "slack",
  english: true,
  async inbox(name, settings) {
    const teamId = `T${rand(10)}`;
    const made = slackInboxOf(
      SlackSetup.parse({ teamId, botToken: `xoxb-${teamId}`, signingSecret: SLACK_TEST_SECRET, botUserId: "U0BOT" }),
    );
    const row = await trusted("slack", name, { ...made, settings: { ...made.settings, ...settings } });
    return { id: row.id, address: teamId, secret: SLACK_TEST_SECRET };
  },
  customer: () => ({ id: `C${rand(9)}` }),
  async say(box, who, text) {
    const ts = `${++slackTs}.000100`;
    // The first message addresses the app and starts the thread; the customer's later ones reply in it.
    const said = who.thread ? text : `<@U0BOT> ${text}`;
    const event = { type: "message", channel: who.id, channel_type: "channel", user: "U0CUST", text: said, ts };
    const raw = JSON.stringify({
      type: "event_callback",
      team_id: box.address,
      event_id: `Ev${rand(8)}`,
      event: who.thread ? { ...event, thread_ts: who.thread } : event,
    });
    const at = String(Math.floor(Date.now() / 1000));
    const res = await api(`${s.url}/webhooks/slack/events`, {
      body: raw,
      headers: { "x-slack-request-timestamp": at, "x-slack-signature": slackSignature(box.secret, at, raw) },
    });
    expect(res.status).toBe(200);
    who.thread ??= ts;
    return conversationOf(box.id, `${who.id}:${ts}`);
  },
  heard: (_box, who) =>
    slackCalls
      .filter((c) => c.method === "chat.postMessage" && c.body.channel === who.id && c.body.thread_ts === who.thread)
      .map((c) => c.body.text as string),
};

const telegramUsers = new Map<string, ReturnType<typeof newUser>>();
const telegramBot: Channel = {
  kind: "telegram",
  english: true,
  async inbox(name, settings) {
    const botToken = `${Math.floor(Math.random() * 1e9)}:routing-${rand(16)}`;
    const secretToken = `secret-${rand(20)}`;
    const made = telegramInboxOf(TelegramSetup.parse({ botToken, secretToken }), secretToken);
    const row = await trusted("telegram", name, { ...made, settings: { ...made.settings, ...settings } });
    return { id: row.id, address: botToken, secret: secretToken };
  },
  customer() {
    const user = newUser("en");
    telegramUsers.set(String(user.id), user);
    return { id: String(user.id) };
  },
  async say(box, who, text) {
    const body = update(telegramUsers.get(who.id)!, { text }) as { message: { message_id: number } };
    expect((await postUpdate(s.url, box.id, body, box.secret)).status).toBe(200);
    return conversationOf(box.id, `${who.id}:${body.message.message_id}`);
  },
  heard: (box, who) =>
    telegram
      .callsOf("sendMessage")
      .filter((c) => c.token === box.address && String(c.body.chat_id) === who.id)
      .map((c) => c.body.text as string),
};

const apiChannel: Channel = {
  kind: "api",
  english: true,
  async inbox(name, settings) {
    const path = `/cb/${rand(12)}`;
    const made = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: { name, channel: "api", callbackUrl: `http://127.0.0.1:${receiver.port}${path}` },
    });
    expect(made.status).toBe(201);
    await s.rt.core.db
      .update(inboxes)
      .set({ settings: sql`${inboxes.settings} || ${JSON.stringify(settings)}::jsonb` })
      .where(eq(inboxes.id, made.body.id));
    return { id: made.body.id, address: path, secret: made.body.secret, token: made.body.token };
  },
  customer: () => ({ id: `user-${rand(12)}` }),
  async say(box, who, text) {
    const res = await api(`${s.url}/api/v1/inboxes/${box.id}/messages`, {
      token: box.token,
      body: { contact: { identifier: who.id }, text },
    });
    expect(res.status).toBe(201);
    return res.body.conversationId as string;
  },
  heard(box, who) {
    const mine = callbacks.filter((c) => c.path === box.address && c.body.data.contact.identifier === who.id);
    for (const { headers, raw } of mine) {
      const [timestamp, signature] = [headers.get("x-switchboard-timestamp"), headers.get("x-switchboard-signature")];
      expect(verifySignature(box.secret, { timestamp, signature }, raw)).toBe(true);
    }
    return mine.map((c) => c.body.data.text as string);
  },
};

/** SMS and Telegram customers here read English; WhatsApp's inbox is left Chinese (the default). */
const CHANNELS: Channel[] = [viaTwilio("sms", true), viaTwilio("whatsapp", false), slack, telegramBot, apiChannel];
const NEW_CHANNELS = CHANNELS.map((ch) => ch.kind);
/** Each channel's inbox routed as it comes, and its inbox with the knowledge bot on. */
const boxes = new Map<Kind, { routed: Box; bot: Box }>();

beforeAll(async () => {
  s = await startTestServer({
    env: {
      TWILIO_API_BASE: twilio.base,
      SLACK_API_BASE: `http://127.0.0.1:${slackApi.port}`,
      TELEGRAM_API_BASE: telegram.url,
    },
  });
  admin = await s.login(s.admin.email, s.admin.password);
  ann = await s.login(s.agent.email, s.agent.password);
  bob = await s.signInAs("agent", "Bob");
  // An agent without an open socket is signed out by housekeeping (its last-seen time).
  for (const token of [ann, bob]) {
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${token}`);
    await socket.waitFor((f) => f.type === "hello");
    sockets.push(socket);
  }
  expect((await api(`${s.url}/api/v1/skills`, { token: admin, body: { name: "billing" } })).status).toBe(201);
  const billing = await api(`${s.url}/api/v1/queues`, {
    token: admin,
    body: { name: "Billing", channels: NEW_CHANNELS, requiredSkills: [{ skill: "billing", minLevel: 2 }] },
  });
  const general = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "General" } });
  expect([billing.status, general.status]).toEqual([201, 201]);
  queues.billing = billing.body.id;
  queues.general = general.body.id;
  const rules = await api(`${s.url}/api/v1/entry-rules`, {
    method: "PUT",
    token: admin,
    body: {
      rules: [
        { queueId: queues.billing, conditions: { channels: NEW_CHANNELS, keywords: ["refund", "退款"] } },
        { queueId: queues.general, conditions: {} },
      ],
    },
  });
  expect(rules.status).toBe(200);
  // Ann has the skill and room for one messaging conversation; Bob has neither skill nor a seat yet.
  const patched = await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
    method: "PATCH",
    token: admin,
    body: { capacity: { messaging: 1 }, skills: [{ skill: "billing", level: 3 }] },
  });
  expect(patched.status).toBe(200);
  const editor = await s.signInAs("knowledge_editor");
  const me = (await api(`${s.url}/api/v1/me`, { token: editor })).body;
  for (const a of SAMPLE_ARTICLES)
    await createArticle(
      s.rt.core.db,
      { userId: me.id, workspaceId: s.workspaceId, role: "knowledge_editor" },
      { ...a, status: "published" },
      s.rt.knowledge.saveOptions,
    );
  for (const ch of CHANNELS)
    boxes.set(ch.kind, {
      routed: await ch.inbox(`${ch.kind} support`, ch.english ? { locale: "en" } : {}),
      bot: await ch.inbox(`${ch.kind} self-service`, { knowledgeBot: true }),
    });
}, 90_000);
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await s.stop();
  twilio.stop();
  telegram.stop();
  slackApi.stop(true);
  receiver.stop(true);
});

const workOf = (conversationId: string) =>
  s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, conversationId));
/** A reading of at least `n` things (for `until`). */
const atLeast = (n: number) => (found: unknown[]) => found.length >= n;
const queueOf = async (conversationId: string) => (await until(() => workOf(conversationId), atLeast(1)))[0]?.queueId;
const offeredTo = async (token: string, conversationId: string) =>
  (
    await until(
      async () => (await api(`${s.url}/api/v1/me/offers`, { token })).body.items as { conversationId: string }[],
      (items) => items.some((o) => o.conversationId === conversationId),
    )
  ).some((o) => o.conversationId === conversationId);
const waitNotices = async (conversationId: string) =>
  (
    await s.rt.core.db
      .select({ text: timelineItems.text })
      .from(timelineItems)
      .where(and(eq(timelineItems.conversationId, conversationId), sql`${timelineItems.data} ? 'waitNoticeFor'`))
  ).map((r) => r.text);
const heardAfter = (ch: Channel, box: Box, who: Customer, n: number) =>
  until(async () => ch.heard(box, who), atLeast(n));
const presence = (token: string, state: string) =>
  api(`${s.url}/api/v1/me/presence`, { method: "PUT", token, body: { presence: state } });
const routed = (ch: Channel) => boxes.get(ch.kind)!.routed;
const refundQuestion = (ch: Channel) => (ch.english ? "How do I get a refund?" : "怎么申请退款？");
const refundArticle = (ch: Channel) => (ch.english ? "How to get a refund" : "如何申请退款");

describe("routing, estimates, the bot and suggestions on SMS, WhatsApp, Slack, Telegram and the API channel", () => {
  it("tells a waiting customer their place and estimated wait in the inbox's language, where the channel gets a notice", async () => {
    // Ann signs in and takes a first chat: with room for one, she is full while the others wait.
    await presence(ann, "available");
    const first = apiChannel.customer();
    const busy = await apiChannel.say(routed(apiChannel), first, "Hello, a first question");
    expect(await queueOf(busy)).toBe(queues.general);
    expect(await offeredTo(ann, busy)).toBe(true);
    const offer = (await api(`${s.url}/api/v1/me/offers`, { token: ann })).body.items[0];
    expect((await api(`${s.url}/api/v1/offers/${offer.workItemId}/accept`, { token: ann, body: {} })).status).toBe(200);

    // One after the other into General, so each waits behind the ones before: 3 minutes a place.
    const expected: Record<Kind, string | null> = {
      sms: "You are next in line; the estimated wait is about 3 min.",
      whatsapp: "您前面还有 1 位，预计等待约 6 分钟。",
      slack: null,
      telegram: "There are 3 people ahead of you; the estimated wait is about 12 min.",
      api: null,
    };
    const waiting: { ch: Channel; who: Customer; conversationId: string }[] = [];
    for (const ch of CHANNELS) {
      const who = ch.customer();
      const conversationId = await ch.say(routed(ch), who, ch.english ? "Hello, anyone there?" : "你好，在吗？");
      expect(await queueOf(conversationId)).toBe(queues.general);
      waiting.push({ ch, who, conversationId });
    }
    for (const { ch, who, conversationId } of waiting) {
      const text = expected[ch.kind];
      if (text === null) continue;
      const heard = await heardAfter(ch, routed(ch), who, 1);
      expect([ch.kind, heard]).toEqual([ch.kind, [text]]);
      expect(await waitNotices(conversationId)).toEqual([text]);
    }
    // Slack and the API channel never get one, however often the router asks.
    await announceWaits(s.rt.core, new Date(Date.now() + 5_000));
    for (const { ch, who, conversationId } of waiting.filter((w) => expected[w.ch.kind] === null)) {
      expect([ch.kind, await waitNotices(conversationId)]).toEqual([ch.kind, []]);
      expect([ch.kind, ch.heard(routed(ch), who)]).toEqual([ch.kind, []]);
    }
  });

  const refunds = new Map<Kind, string>();
  it("puts a refund question in Billing by the entry rule and offers it to the agent with the skill", async () => {
    await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
      method: "PATCH",
      token: admin,
      body: { capacity: { messaging: 20 } },
    });
    await presence(bob, "available");
    s.rt.router.schedule(s.workspaceId);
    for (const ch of CHANNELS) {
      const conversationId = await ch.say(routed(ch), ch.customer(), refundQuestion(ch));
      expect([ch.kind, await queueOf(conversationId)]).toEqual([ch.kind, queues.billing]);
      expect([ch.kind, await offeredTo(ann, conversationId)]).toEqual([ch.kind, true]);
      refunds.set(ch.kind, conversationId);
    }
    // Bob lacks the skill: none of them was offered to him.
    const bobs = (await api(`${s.url}/api/v1/me/offers`, { token: bob })).body.items as { queueId: string }[];
    expect(bobs.filter((o) => o.queueId === queues.billing)).toEqual([]);
  });

  it("suggests the matching article to the agent for each channel's message", async () => {
    for (const ch of CHANNELS) {
      const res = await api(`${s.url}/api/v1/conversations/${refunds.get(ch.kind)}/knowledge`, { token: ann });
      expect(res.status).toBe(200);
      expect([ch.kind, res.body.items[0]?.title]).toEqual([ch.kind, refundArticle(ch)]);
    }
  });

  it("lets the knowledge bot answer through the channel, then hands over to the rule's queue on asking for a person", async () => {
    for (const ch of CHANNELS) {
      const box = boxes.get(ch.kind)!.bot;
      const who = ch.customer();
      const conversationId = await ch.say(box, who, refundQuestion(ch));
      const [answer] = await heardAfter(ch, box, who, 1);
      expect([ch.kind, answer]).toEqual([ch.kind, expect.stringContaining(refundArticle(ch))]);
      expect(answer).toContain(ch.english ? "Did this solve it?" : "这解决了您的问题吗");
      // The bot holds the chat: nobody is offered it.
      expect(await workOf(conversationId)).toEqual([]);

      expect(await ch.say(box, who, ch.english ? "No, I want to talk to an agent" : "转人工")).toBe(conversationId);
      const texts = await heardAfter(ch, box, who, 2);
      expect([ch.kind, texts[1]]).toEqual([
        ch.kind,
        ch.english ? "Let me connect you with an agent — one moment please." : "好的，正在为您转接人工客服，请稍候。",
      ]);
      // Routed by what the customer asked the bot, not by the words that asked for a person.
      expect([ch.kind, await queueOf(conversationId)]).toEqual([ch.kind, queues.billing]);
      expect(await offeredTo(ann, conversationId)).toBe(true);
    }
  });

  it("sends no wait notice and no bot reply to an SMS or WhatsApp customer who wrote STOP", async () => {
    await presence(ann, "away");
    await presence(bob, "away");
    for (const ch of CHANNELS.filter((c) => c.kind === "sms" || c.kind === "whatsapp")) {
      // Nobody free: a customer queued now would be told their place, but not one who opted out.
      const who = ch.customer();
      const stopped = await ch.say(routed(ch), who, "STOP");
      expect(await queueOf(stopped)).toBe(queues.general);
      await announceWaits(s.rt.core, new Date(Date.now() + 5_000));
      expect([ch.kind, await waitNotices(stopped)]).toEqual([ch.kind, []]);
      // Back in with START, they are told at the next pass.
      expect(await ch.say(routed(ch), who, "START")).toBe(stopped);
      await announceWaits(s.rt.core, new Date(Date.now() + 5_000));
      expect([ch.kind, (await heardAfter(ch, routed(ch), who, 1)).length]).toEqual([ch.kind, 1]);

      // The bot takes STOP and START for what they are, not for questions, and answers the next one.
      const box = boxes.get(ch.kind)!.bot;
      const customer = ch.customer();
      for (const text of ["STOP", "START", refundQuestion(ch)]) await ch.say(box, customer, text);
      const [answer] = await heardAfter(ch, box, customer, 1);
      expect([ch.kind, answer]).toEqual([ch.kind, expect.stringContaining(refundArticle(ch))]);
    }
  });
});
