import { afterAll, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { count, eq } from "drizzle-orm";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { attachments, contactIdentities, conversations, inboxes, workItems } from "../../../db/schema/index.ts";
import { postUpdate, startBotApiStandIn, telegramCustomers, telegramItemsOf } from "../../../test/telegram-bot-api.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

/** A Telegram inbox's setup (getMe, setWebhook) and its webhook: the secret, idempotent updates, files, /start. */

setDefaultTimeout(20_000);

const BOT_TOKEN = "777000:test-telegram-token_abc";
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
      greeting: { en: "Welcome to ACME support!", "zh-CN": "欢迎来到 ACME 客服！" },
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
const filesOf = (itemId: string) =>
  s.rt.core.db.select().from(attachments).where(eq(attachments.timelineItemId, itemId));

describe("creating a Telegram inbox", () => {
  it("proves the token with getMe and sets the webhook with the inbox's URL, secret and updates", async () => {
    const setWebhook = bot.callsOf("setWebhook").find((c) => c.body.url?.endsWith(`/webhooks/telegram/${inboxId}`));
    expect(setWebhook).toBeDefined();
    expect(setWebhook!.token).toBe(BOT_TOKEN);
    expect(setWebhook!.body).toEqual({
      url: `${s.url}/webhooks/telegram/${inboxId}`,
      secret_token: SECRET,
      allowed_updates: ["message", "edited_message"],
    });
    expect(bot.callsOf("getMe").some((c) => c.token === BOT_TOKEN)).toBe(true);
    const listed = (await api(`${s.url}/api/v1/inboxes`, { token: admin })).body.items.find(
      (i: { id: string }) => i.id === inboxId,
    );
    expect(listed).toMatchObject({
      channel: "telegram",
      botId: "777000",
      botUsername: "acme_support_bot",
      webhookUrl: `${s.url}/webhooks/telegram/${inboxId}`,
    });
    expect(JSON.stringify(listed)).not.toContain(SECRET);
    expect(JSON.stringify(listed)).not.toContain(BOT_TOKEN);
  });

  it("answers 400 naming botToken when Telegram refuses the token, and stores nothing", async () => {
    const [before] = await s.rt.core.db.select({ n: count() }).from(inboxes).where(eq(inboxes.channel, "telegram"));
    bot.state.validTokens.add(BOT_TOKEN);
    try {
      const res = await api(`${s.url}/api/v1/inboxes`, {
        token: admin,
        body: { name: "Wrong bot", channel: "telegram", botToken: "888000:revoked-token-xyz" },
      });
      expect(res.status).toBe(400);
      expect(res.body.error.field).toBe("botToken");
      expect(res.body.error.message).toContain("401");
    } finally {
      bot.state.validTokens.clear();
    }
    const malformed = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: { name: "x", channel: "telegram", botToken: "not a token" },
    });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.field).toBe("botToken");
    const [after] = await s.rt.core.db.select({ n: count() }).from(inboxes).where(eq(inboxes.channel, "telegram"));
    expect(after!.n).toBe(before!.n);
  });

  it("answers 409 with Telegram's reason when it refuses the webhook URL, and stores nothing", async () => {
    const [before] = await s.rt.core.db.select({ n: count() }).from(inboxes).where(eq(inboxes.channel, "telegram"));
    bot.state.refuseWebhook = true;
    try {
      const res = await api(`${s.url}/api/v1/inboxes`, {
        token: admin,
        body: { name: "Plain http", channel: "telegram", botToken: "888001:some-bot-token-xyz" },
      });
      expect(res.status).toBe(409);
      expect(res.body.error.message).toContain("An HTTPS URL must be provided");
      expect(res.body.error.message).toContain("PUBLIC_URL");
    } finally {
      bot.state.refuseWebhook = false;
    }
    const [after] = await s.rt.core.db.select({ n: count() }).from(inboxes).where(eq(inboxes.channel, "telegram"));
    expect(after!.n).toBe(before!.n);
  });

  it("makes a secret when none is given, shows it once and gives it to Telegram", async () => {
    const res = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: { name: "Second bot", channel: "telegram", botToken: "999000:another-token-xyz" },
    });
    expect(res.status).toBe(201);
    expect(res.body.secretToken).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    const set = bot.callsOf("setWebhook").find((c) => c.body.url?.endsWith(res.body.id));
    expect(set!.body.secret_token).toBe(res.body.secretToken);
  });
});

describe("customers' updates", () => {
  it("stores a text message once, however often Telegram delivers the update", async () => {
    const user = newUser();
    const u = update(user, { text: "Hello, my order is late" });
    for (let i = 0; i < 3; i++) expect((await post(u)).status).toBe(200);
    const items = await itemsOf(user.id);
    expect(items).toHaveLength(1);
    const [item] = items;
    expect(item).toMatchObject({
      type: "message",
      direction: "in",
      channel: "telegram",
      text: "Hello, my order is late",
    });
    expect(item!.externalId).toBe(`${user.id}:${(u.message as { message_id: number }).message_id}`);
    expect(item!.conversation.channel).toBe("telegram");
    const contact = await api(`${s.url}/api/v1/contacts/${item!.conversation.contactId}`, { token: admin });
    expect(contact.body.name).toBe("Ada Lovelace");
    expect(JSON.stringify(contact.body.identities)).toContain(String(user.id));
    const listed = await api(`${s.url}/api/v1/conversations/${item!.conversationId}`, { token: admin });
    expect(listed.body.channel).toBe("telegram");
  });

  it("refuses a wrong or missing secret with 403 and stores nothing; an unknown or malformed inbox is 404", async () => {
    const user = newUser();
    for (const secret of [null, "wrong-secret-value-000", `${SECRET}x`, ""]) {
      const res = await post(update(user, { text: "forged" }), secret);
      expect(res.status).toBe(403);
      const body = (await res.json()) as { error: { code: string; field?: string } };
      expect(body.error.code).toBe("forbidden");
      expect(body.error.field).toBe("X-Telegram-Bot-Api-Secret-Token");
    }
    expect(await itemsOf(user.id)).toHaveLength(0);
    expect((await post(update(user, { text: "x" }), SECRET, "not-a-uuid")).status).toBe(404);
    expect((await post(update(user, { text: "x" }), SECRET, crypto.randomUUID())).status).toBe(404);
    // The web chat inbox is not a Telegram inbox.
    expect((await post(update(user, { text: "x" }), SECRET, s.inbox.id)).status).toBe(404);
    // A body that is not an update: 400 naming the field, after the secret was checked.
    const bad = await post({ update_id: "one" });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.field).toBe("update_id");
  });

  it("ignores groups and other bots with 200, storing nothing", async () => {
    const user = newUser();
    const group = update(user, { text: "hi all" }) as any;
    group.message.chat = { id: -100123, type: "supergroup", title: "Fans" };
    expect((await post(group)).status).toBe(200);
    const fromBot = update({ ...user, is_bot: true }, { text: "beep" });
    expect((await post(fromBot)).status).toBe(200);
    expect(await itemsOf(user.id)).toHaveLength(0);
  });

  it("downloads the largest photo, a document and a voice note from the Bot API into attachments", async () => {
    const user = newUser();
    const photo = new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3, 4, 5]);
    const pdf = new TextEncoder().encode("%PDF-1.4 invoice");
    const ogg = new TextEncoder().encode("OggS voice bytes");
    bot.addFile("photo-big", "photos/file_1.jpg", photo);
    bot.addFile("doc-1", "documents/file_2.pdf", pdf);
    bot.addFile("voice-1", "voice/file_3.oga", ogg);
    const photoUpdate = update(user, {
      caption: "The broken part",
      photo: [
        { file_id: "photo-small", file_unique_id: "s", width: 90, height: 60, file_size: 3 },
        { file_id: "photo-big", file_unique_id: "b", width: 1280, height: 853, file_size: photo.length },
      ],
    });
    expect((await post(photoUpdate)).status).toBe(200);
    expect((await post(photoUpdate)).status).toBe(200);
    const docUpdate = update(user, {
      document: { file_id: "doc-1", file_unique_id: "d", file_name: "invoice.pdf", mime_type: "application/pdf" },
    });
    expect((await post(docUpdate)).status).toBe(200);
    expect(
      (
        await post(
          update(user, { voice: { file_id: "voice-1", file_unique_id: "v", duration: 3, mime_type: "audio/ogg" } }),
        )
      ).status,
    ).toBe(200);

    const items = await itemsOf(user.id);
    expect(items.map((i) => i.text)).toEqual(["The broken part", null, null]);
    const [p, d, v] = await Promise.all(items.map((i) => filesOf(i.id)));
    expect(p!.map((f) => [f.contentType, f.size])).toEqual([["image/jpeg", photo.length]]);
    expect(d!.map((f) => [f.name, f.contentType])).toEqual([["invoice.pdf", "application/pdf"]]);
    expect(v!.map((f) => f.contentType)).toEqual(["audio/ogg"]);
    const stored = await s.rt.files.open(s.rt.core.db, s.workspaceId, v![0]!.id);
    expect(new Uint8Array(await stored.file.arrayBuffer())).toEqual(ogg);
    // The retried photo was not fetched again; the small size never.
    expect(bot.callsOf("getFile").map((c) => c.body.file_id)).toEqual(["photo-big", "doc-1", "voice-1"]);
    expect(bot.downloads).toEqual(["photos/file_1.jpg", "documents/file_2.pdf", "voice/file_3.oga"]);
    expect(bot.callsOf("getFile").every((c) => c.token === BOT_TOKEN)).toBe(true);
  });

  it("answers 503 while a file cannot be fetched (Telegram retries), and stores a file Telegram refuses as a note", async () => {
    const user = newUser();
    bot.addFile("flaky", "documents/flaky.txt", new TextEncoder().encode("hello"));
    const flaky = update(user, { document: { file_id: "flaky", file_unique_id: "f", file_name: "a.txt" } });
    bot.state.failDownloads = 1;
    const refused = await post(flaky);
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as any).error.message).toContain("500");
    expect(await itemsOf(user.id)).toHaveLength(0);
    // Telegram's retry finds the file server well again.
    expect((await post(flaky)).status).toBe(200);
    const [first] = await itemsOf(user.id);
    expect((await filesOf(first!.id)).map((f) => f.name)).toEqual(["a.txt"]);
    // An unknown file id: Telegram's final 400, the message is kept with the reason.
    const gone = update(user, { document: { file_id: "unknown", file_unique_id: "u", file_name: "gone.zip" } });
    expect((await post(gone)).status).toBe(200);
    const items = await itemsOf(user.id);
    expect(items[1]!.text).toContain("gone.zip could not be downloaded");
    expect(items[1]!.data.media).toMatchObject({ state: "failed" });
    // Larger than a bot may download: not even asked for.
    const big = update(user, {
      video: { file_id: "huge", file_unique_id: "h", width: 1, height: 1, duration: 1, file_size: 30 * 1024 * 1024 },
    });
    expect((await post(big)).status).toBe(200);
    expect(bot.callsOf("getFile").some((c) => c.body.file_id === "huge")).toBe(false);
  });

  it("shows a sticker as an unsupported line and a location as text with a map link", async () => {
    const user = newUser();
    await post(
      update(user, {
        sticker: {
          file_id: "st",
          file_unique_id: "st",
          type: "regular",
          width: 1,
          height: 1,
          is_animated: false,
          is_video: false,
          emoji: "😀",
        },
      }),
    );
    await post(update(user, { location: { latitude: 52.52, longitude: 13.405 } }));
    const items = await itemsOf(user.id);
    expect(items[0]!.text).toBe("[Sticker 😀: stickers cannot be shown here]");
    expect(items[0]!.data.unsupported).toBe("sticker");
    expect(items[1]!.text).toBe("📍 (52.52, 13.405) https://maps.google.com/?q=52.52,13.405");
  });

  it("keeps an edit as a message of its own, marked edited", async () => {
    const user = newUser();
    const first = update(user, { text: "My order is 1234" });
    await post(first);
    const edit = update(user, { text: "My order is 1243" }, true) as any;
    edit.edited_message.message_id = (first.message as { message_id: number }).message_id;
    await post(edit);
    await post(edit);
    const items = await itemsOf(user.id);
    expect(items.map((i) => [i.text, i.data.edited ?? false])).toEqual([
      ["My order is 1234", false],
      ["My order is 1243", true],
    ]);
    expect(items[1]!.data.editOf).toBe(items[0]!.externalId);
  });
});

describe("/start", () => {
  it("joins a contact's open conversation on another channel, which then answers through the bot", async () => {
    const user = newUser();
    const chat = await ingestInbound(s.rt.core, s.workspaceId, {
      channel: "webchat",
      channelAccountId: s.inbox.id,
      externalId: `web-${user.id}`,
      from: { kind: "visitor", value: `visitor-${user.id}` },
      text: "I will continue on Telegram",
    });
    // The same person, known by Telegram too (as after a merge).
    await s.rt.core.db
      .insert(contactIdentities)
      .values({ workspaceId: s.workspaceId, contactId: chat.contactId, kind: "telegram", value: String(user.id) });
    expect((await post(update(user, { text: "/start" }))).status).toBe(200);
    const sent = await until(
      async () => bot.callsOf("sendMessage").filter((c) => String(c.body.chat_id) === String(user.id)),
      (l) => l.length > 0,
    );
    expect(sent).toHaveLength(1);
    const [conversation] = await s.rt.core.db
      .select()
      .from(conversations)
      .where(eq(conversations.id, chat.conversation.id));
    expect(conversation).toMatchObject({ inboxId, channel: "telegram", status: "open" });
    expect((await itemsOf(user.id)).map((i) => i.conversationId)).toContain(chat.conversation.id);
  });

  it("is an event, not a question: the greeting is sent in the customer's language and nothing is queued", async () => {
    const user = newUser("zh-hans");
    const start = update(user, { text: "/start", entities: [{ type: "bot_command", offset: 0, length: 6 }] });
    expect((await post(start)).status).toBe(200);
    expect((await post(start)).status).toBe(200);
    const sent = await until(
      async () => bot.callsOf("sendMessage").filter((c) => String(c.body.chat_id) === String(user.id)),
      (l) => l.length > 0,
    );
    expect(sent.map((c) => c.body.text)).toEqual(["欢迎来到 ACME 客服！"]);
    expect(sent[0]!.token).toBe(BOT_TOKEN);
    const items = await itemsOf(user.id);
    expect(items.map((i) => [i.type, i.eventType, i.senderType])).toEqual([
      ["event", "telegram.start", "contact"],
      ["message", null, "bot"],
    ]);
    const conversation = items[0]!.conversation;
    expect(conversation.status).toBe("pending");
    const work = await s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, conversation.id));
    expect(work).toHaveLength(0);
    // The greeting was delivered: its item carries Telegram's message id.
    await until(
      async () => (await itemsOf(user.id))[1]!.deliveryStatus,
      (status) => status === "sent",
    );
    // The first real message opens the same conversation.
    await post(update(user, { text: "我想退货" }));
    const after = await itemsOf(user.id);
    expect(after.map((i) => i.conversationId)).toEqual([conversation.id, conversation.id, conversation.id]);
    const [reopened] = await s.rt.core.db.select().from(conversations).where(eq(conversations.id, conversation.id));
    expect(reopened!.status).toBe("open");
  });
});
