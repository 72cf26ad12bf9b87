import { afterAll, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { conversations, inboxes, timelineItems } from "../../../db/schema/index.ts";
import { DEMO_TELEGRAM, seedDemo } from "../../demo/seed.ts";
import { postUpdate, startBotApiStandIn, telegramCustomers, telegramItemsOf } from "../../../test/telegram-bot-api.ts";
import { until } from "../../../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../../test/server.ts";

/** Agents' replies to Telegram customers (text, photos, refusals, rate limits), routing, and the demo inbox. */

setDefaultTimeout(20_000);

const BOT_TOKEN = "777001:test-telegram-token_abc";
const SECRET = "test-telegram-secret-0123";
const bot = startBotApiStandIn();
const { newUser, update } = telegramCustomers();

let s: TestServer;
let admin: string;
let inboxId: string;

beforeAll(async () => {
  s = await startTestServer({ env: { TELEGRAM_API_BASE: bot.url } });
  admin = await s.login(s.admin.email, s.admin.password);
  const created = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: "Telegram",
      channel: "telegram",
      botToken: BOT_TOKEN,
      secretToken: SECRET,
      greeting: { en: "Welcome!" },
    },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
}, 60_000);
afterAll(async () => {
  await s.stop();
  bot.stop();
});

const post = (body: unknown, secret: string | null = SECRET, id = inboxId) => postUpdate(s.url, id, body, secret);
const itemsOf = (userId: number) => telegramItemsOf(s.rt.core.db, userId);

describe("agents' replies", () => {
  async function conversationWith(text = "Help please") {
    const user = newUser();
    await post(update(user, { text }));
    const [item] = await until(
      () => itemsOf(user.id),
      (l) => l.length > 0,
    );
    return { user, conversationId: item!.conversationId };
  }
  const replyItem = (conversationId: string, text: string | null) =>
    until(
      async () =>
        (await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: admin })).body.items.find(
          (i: any) => i.direction === "out" && i.text === text,
        ),
      (i) => i && i.status !== "pending",
    );

  it("go out with sendMessage to the customer's chat, and the item keeps <chat_id>:<message_id>", async () => {
    const { user, conversationId } = await conversationWith();
    const res = await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "We are on it" },
    });
    expect(res.status).toBe(201);
    const item = await replyItem(conversationId, "We are on it");
    expect(item.status).toBe("sent");
    const call = bot.callsOf("sendMessage").find((c) => c.body.text === "We are on it")!;
    expect(call.body.chat_id).toBe(String(user.id));
    expect(call.token).toBe(BOT_TOKEN);
    const [row] = await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.id, item.id));
    expect(row!.externalId).toMatch(new RegExp(`^${user.id}:\\d+$`));
  });

  it("send an image with sendPhoto as a multipart upload, the text as its caption", async () => {
    const { user, conversationId } = await conversationWith();
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 9, 8, 7]);
    const form = new FormData();
    form.append("file", new Blob([png], { type: "image/png" }), "receipt.png");
    const upload = await fetch(`${s.url}/api/v1/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}` },
      body: form,
    });
    expect(upload.status).toBe(201);
    const { id } = (await upload.json()) as { id: string };
    await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, {
      token: admin,
      body: { text: "Your receipt", attachments: [id] },
    });
    expect((await replyItem(conversationId, "Your receipt")).status).toBe("sent");
    const call = bot.callsOf("sendPhoto").find((c) => c.body.chat_id === String(user.id))!;
    expect(call.contentType).toStartWith("multipart/form-data");
    expect(call.body.caption).toBe("Your receipt");
    const attached = call.body[String(call.body.photo).replace("attach://", "")];
    expect(attached).toMatchObject({ name: "receipt.png", size: png.length });
    expect(attached.bytes).toEqual(png);
    expect(bot.callsOf("sendMessage").some((c) => c.body.chat_id === String(user.id))).toBe(false);
  });

  it("fail with a readable reason when the customer blocked the bot", async () => {
    const { user, conversationId } = await conversationWith();
    bot.blocked.add(String(user.id));
    await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token: admin, body: { text: "Hello?" } });
    const item = await replyItem(conversationId, "Hello?");
    expect(item.status).toBe("failed");
    expect(item.error).toContain("blocked this bot");
    // Final at once: one attempt.
    expect(bot.callsOf("sendMessage").filter((c) => c.body.chat_id === String(user.id))).toHaveLength(1);
  });

  it("wait as long as Telegram's retry_after asks after a 429, then go", async () => {
    const { user, conversationId } = await conversationWith();
    bot.state.rateLimited = 1;
    bot.state.retryAfter = 1;
    await api(`${s.url}/api/v1/conversations/${conversationId}/messages`, { token: admin, body: { text: "Soon" } });
    expect((await replyItem(conversationId, "Soon")).status).toBe("sent");
    const attempts = bot.calls.filter((c) => c.method === "sendMessage" && c.body.chat_id === String(user.id));
    expect(attempts).toHaveLength(2);
    // The outbox's own backoff here is 20 ms: the second attempt waited for Telegram's second.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950);
  });
});

describe("routing", () => {
  it("queues a Telegram conversation and offers it to an available agent", async () => {
    const ann = await s.login(s.agent.email, s.agent.password);
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${ann}`);
    try {
      await socket.waitFor((f) => f.type === "hello");
      const queue = await api(`${s.url}/api/v1/queues`, {
        token: admin,
        body: { name: "Telegram", channels: ["telegram"] },
      });
      expect(queue.status).toBe(201);
      const rules = await api(`${s.url}/api/v1/entry-rules`, {
        method: "PUT",
        token: admin,
        body: { rules: [{ queueId: queue.body.id, conditions: { channels: ["telegram"] } }] },
      });
      expect(rules.status).toBe(200);
      await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
      const user = newUser();
      await post(update(user, { text: "I need a human" }));
      const offer = await socket.waitFor((f) => f.type === "offer.created" && f.offer?.channel === "telegram");
      const [item] = await itemsOf(user.id);
      expect(offer.conversationId).toBe(item!.conversationId);
      const [conversation] = await s.rt.core.db
        .select()
        .from(conversations)
        .where(eq(conversations.id, item!.conversationId));
      expect(conversation!.queueId).toBe(queue.body.id);
    } finally {
      socket.close();
    }
  });
});

describe("the demo inbox", () => {
  it("takes updates with the demo secret and sends through TELEGRAM_API_BASE with the demo bot token", async () => {
    // The demo goes to the oldest workspace of the database, which another test file may have made.
    await seedDemo(s.rt);
    const [demo] = await s.rt.core.db
      .select()
      .from(inboxes)
      .where(and(eq(inboxes.channel, "telegram"), sql`${inboxes.settings}->>'botId' = '123456'`));
    expect(demo).toBeDefined();
    // The demo never calls setWebhook: its token is no real bot's.
    expect(bot.callsOf("setWebhook").some((c) => c.token === DEMO_TELEGRAM.botToken)).toBe(false);
    const user = newUser();
    expect((await post(update(user, { text: "wrong" }), SECRET, demo!.id)).status).toBe(403);
    expect((await post(update(user, { text: "Hi demo" }), "demo-telegram-secret", demo!.id)).status).toBe(200);
    const [item] = await s.rt.core.db
      .select()
      .from(timelineItems)
      .where(and(eq(timelineItems.inboxId, demo!.id), eq(timelineItems.text, "Hi demo")));
    expect(item).toBeDefined();
    // The demo greeting goes out through the outbox like a reply.
    expect((await post(update(user, { text: "/start" }), "demo-telegram-secret", demo!.id)).status).toBe(200);
    const call = await until(
      async () => bot.callsOf("sendMessage").find((c) => c.body.chat_id === String(user.id)),
      (c) => !!c,
    );
    expect(call!.token).toBe("123456:demo-telegram-token");
    expect(call!.body.text).toContain("Switchboard demo");
  });
});
