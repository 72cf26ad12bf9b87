import { afterAll, beforeAll, describe, expect, it, setDefaultTimeout } from "bun:test";
import { createHash } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { renderTemplate } from "../../../conversations/canned-template.ts";
import { createInbox } from "../../../conversations/inbox.ts";
import { calls, contacts, inboxes, timelineItems, workItems } from "../../../db/schema/index.ts";
import { createArticle } from "../../../knowledge/article.ts";
import { SAMPLE_ARTICLES } from "../../../knowledge/fixtures.ts";
import { announceWaits } from "../../../routing/wait-notice.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../../test/server.ts";
import { startVoice, until } from "../../../test/voice.ts";

/**
 * A WeChat conversation worked as a web chat is: entry rules, the customer told their place in the
 * queue, canned responses, knowledge suggestions and the bot, the 48-hour reply window, and a
 * callback to the customer's phone in the same conversation.
 */

setDefaultTimeout(20_000);

type Sent = { path: string; body: any };
const recorded: Sent[] = [];
const wechatApi = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    recorded.push({ path: url.pathname, body: req.method === "POST" ? await req.json() : undefined });
    if (url.pathname === "/cgi-bin/token" || url.pathname === "/cgi-bin/stable_token")
      return Response.json({ access_token: "stand-in-token", expires_in: 7200 });
    return Response.json({ errcode: 0, errmsg: "ok" });
  },
});
/** What custom/send delivered to one OpenID, in order. */
const sentTo = (openId: string) =>
  recorded
    .filter((r) => r.path === "/cgi-bin/message/custom/send" && r.body?.touser === openId)
    .map((r) => r.body.text?.content as string);

const TOKEN = "routing-token";
const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const randomAppId = () => `wx${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;

let s: TestServer;
let admin: string;
let ann: string;
let voice: Awaited<ReturnType<typeof startVoice>>;
/** Ann's inbox socket: an agent without one is signed out by housekeeping (its last-seen time). */
let annSocket: Awaited<ReturnType<typeof openSocket>>;
/** The workspace's Official Account inboxes: Chinese, English, and one with the knowledge bot on. */
const inbox = { zh: "", en: "", bot: "" };

async function officialInbox(name: string, settings: Record<string, unknown> = {}) {
  const created = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: { name, channel: "wechat", token: TOKEN, appId: randomAppId(), appSecret: "secret", encodingAesKey: AES_KEY },
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  if (Object.keys(settings).length)
    await s.rt.core.db
      .update(inboxes)
      .set({ settings: sql`${inboxes.settings} || ${JSON.stringify(settings)}::jsonb` })
      .where(eq(inboxes.id, id));
  return id;
}

beforeAll(async () => {
  s = await startTestServer({ env: { WECHAT_API_BASE: `http://127.0.0.1:${wechatApi.port}` } });
  admin = await s.login(s.admin.email, s.admin.password);
  ann = await s.login(s.agent.email, s.agent.password);
  annSocket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${ann}`);
  await annSocket.waitFor((f) => f.type === "hello");
  voice = await startVoice(s);
  inbox.zh = await officialInbox("公众号");
  inbox.en = await officialInbox("Official Account (en)", { locale: "en" });
  inbox.bot = await officialInbox("公众号 · 自助", { knowledgeBot: true });
}, 60_000);
afterAll(async () => {
  annSocket.close();
  voice.stop();
  wechatApi.stop(true);
  await s.stop();
});

const sha1 = (parts: string[]) =>
  createHash("sha1")
    .update([...parts].sort().join(""))
    .digest("hex");
const openIdNew = () => `oRoute${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
let msgSeq = 0;

/** A customer's text message, pushed in plaintext and signed as WeChat signs it. */
async function push(inboxId: string, openId: string, text: string) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = String(Math.floor(Math.random() * 1e12));
  const xml =
    `<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[${openId}]]></FromUserName>` +
    `<CreateTime>${timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${text}]]></Content>` +
    `<MsgId>${Date.now()}${++msgSeq}</MsgId></xml>`;
  const res = await fetch(
    `${s.url}/webhooks/wechat/${inboxId}?signature=${sha1([TOKEN, timestamp, nonce])}&timestamp=${timestamp}&nonce=${nonce}`,
    { method: "POST", headers: { "content-type": "text/xml" }, body: xml },
  );
  expect(res.status).toBe(200);
  const list = await api(`${s.url}/api/v1/conversations?channel=wechat&q=${openId}`, { token: admin });
  return list.body.items[0] as { id: string; contact: { id: string } };
}

const conversation = async (id: string) => (await api(`${s.url}/api/v1/conversations/${id}`, { token: admin })).body;
const queueOf = (id: string) => until(async () => (await conversation(id)).queueId as string | null, 8000, "queued");
const waitNotices = async (conversationId: string) =>
  (
    await s.rt.core.db
      .select({ text: timelineItems.text })
      .from(timelineItems)
      .where(and(eq(timelineItems.conversationId, conversationId), sql`${timelineItems.data} ? 'waitNoticeFor'`))
  ).map((r) => r.text);

describe("routing a WeChat conversation", () => {
  const queues = { refunds: "", orders: "", general: "" };

  it("puts a message with 退款 or 查询订单 in the queue the entry rule names", async () => {
    for (const [key, name] of [
      ["refunds", "退款"],
      ["orders", "订单查询"],
      ["general", "General"],
    ] as const) {
      const q = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name, channels: ["wechat"] } });
      expect(q.status).toBe(201);
      queues[key] = q.body.id;
    }
    const rules = await api(`${s.url}/api/v1/entry-rules`, {
      method: "PUT",
      token: admin,
      body: {
        rules: [
          { queueId: queues.refunds, conditions: { channels: ["wechat"], keywords: ["退款"] } },
          { queueId: queues.orders, conditions: { channels: ["wechat"], keywords: ["查询订单"] } },
          { queueId: queues.general, conditions: {} },
        ],
      },
    });
    expect(rules.status).toBe(200);
    const refund = await push(inbox.zh, openIdNew(), "你好，我要退款。");
    const order = await push(inbox.zh, openIdNew(), "帮我查询订单 20250301");
    const other = await push(inbox.zh, openIdNew(), "在吗？");
    expect(await queueOf(refund.id)).toBe(queues.refunds);
    expect(await queueOf(order.id)).toBe(queues.orders);
    expect(await queueOf(other.id)).toBe(queues.general);
  });

  it("tells a waiting WeChat customer their place, once, and when nobody can take it says so without a number", async () => {
    const openId = openIdNew();
    const c = await push(inbox.zh, openId, "查询订单：还没发货");
    // Nobody is signed in: no estimate, but the place.
    const [text] = await until(async () => sentTo(openId).length > 0 && sentTo(openId), 8000, "the wait notice");
    expect(text).toBe("您前面还有 1 位，我们会尽快为您服务。");
    expect(await waitNotices(c.id)).toEqual([text ?? ""]);
    // Asked again later (any node's tick): still one notice for this queueing.
    await announceWaits(s.rt.core, new Date(Date.now() + 5_000));
    expect(await waitNotices(c.id)).toEqual([text ?? ""]);
  });

  it("sends nothing when an agent takes the chat at once, and the estimated wait when they are busy", async () => {
    // Ann signs in with room for one messaging conversation and takes what waits (from the test above).
    const patched = await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
      method: "PATCH",
      token: admin,
      body: { capacity: { messaging: 1 } },
    });
    expect(patched.status).toBe(200);
    // The earlier chats go to Ann as she signs in; she takes the first offer, and the rest keep waiting.
    await api(`${s.url}/api/v1/me/presence`, { method: "PUT", token: ann, body: { presence: "available" } });
    const offer = await until(
      async () => (await api(`${s.url}/api/v1/me/offers`, { token: ann })).body.items[0],
      8000,
      "an offer",
    );
    const accepted = await api(`${s.url}/api/v1/offers/${offer.workItemId}/accept`, { token: ann, body: {} });
    expect(accepted.status).toBe(200);

    // A new queue, so the positions are this test's alone.
    const q = await api(`${s.url}/api/v1/queues`, { token: admin, body: { name: "排队", channels: ["wechat"] } });
    const rules = (await api(`${s.url}/api/v1/entry-rules`, { token: admin })).body.items as any[];
    await api(`${s.url}/api/v1/entry-rules`, {
      method: "PUT",
      token: admin,
      body: {
        rules: [
          { queueId: q.body.id, conditions: { keywords: ["排队"] } },
          ...rules.map((r) => ({ queueId: r.queueId, conditions: r.conditions })),
        ],
      },
    });
    const first = openIdNew();
    const second = openIdNew();
    const english = openIdNew();
    // One after the other, so their places are known.
    for (const [to, openId, text] of [
      [inbox.zh, first, "排队咨询 1"],
      [inbox.zh, second, "排队咨询 2"],
      [inbox.en, english, "排队 please, I have a question"],
    ] as const)
      expect(await queueOf((await push(to, openId, text)).id)).toBe(q.body.id);
    // Ann is full: each waits behind the ones before, three minutes a place (the default handle time).
    expect(await until(async () => sentTo(first)[0], 8000, "the first customer's notice")).toBe(
      "您是下一位，预计等待约 3 分钟。",
    );
    expect(await until(async () => sentTo(second)[0], 8000, "the second customer's notice")).toBe(
      "您前面还有 1 位，预计等待约 6 分钟。",
    );
    expect(await until(async () => sentTo(english)[0], 8000, "the English notice")).toBe(
      "There are 2 people ahead of you; the estimated wait is about 9 min.",
    );

    // Ann frees up: the next chat is offered to her at once, and its customer gets no notice.
    await api(`${s.url}/api/v1/agents/${s.agent.id}`, {
      method: "PATCH",
      token: admin,
      body: { capacity: { messaging: 20 } },
    });
    s.rt.router.schedule(s.workspaceId);
    await until(
      async () =>
        (await s.rt.core.db.select().from(workItems).where(eq(workItems.queueId, q.body.id))).every(
          (w) => w.state !== "waiting",
        ),
      8000,
      "the waiting chats offered",
    );
    const quick = openIdNew();
    const taken = await push(inbox.zh, quick, "排队? 很快");
    await until(
      async () =>
        (await s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, taken.id)))[0]?.state ===
        "reserved",
      8000,
      "the offer",
    );
    await announceWaits(s.rt.core, new Date(Date.now() + 5_000));
    expect(await waitNotices(taken.id)).toEqual([]);
    expect(sentTo(quick)).toEqual([]);
  });
});

describe("what an agent has for a WeChat conversation", () => {
  it("fills a canned response for the WeChat contact and sends it through custom/send", async () => {
    const openId = openIdNew();
    const c = await push(inbox.zh, openId, "退款什么时候到账？");
    await s.rt.core.db.update(contacts).set({ name: "王芳" }).where(eq(contacts.id, c.contact.id));
    const created = await api(`${s.url}/api/v1/canned-responses`, {
      token: admin,
      body: {
        shortcut: "退款到账",
        title: "Refund timing",
        body: "您好 {{contact.name}}，退款将在 3 个工作日内到账。",
      },
    });
    expect(created.status).toBe(201);
    const found = await api(`${s.url}/api/v1/canned-responses?q=${encodeURIComponent("退款")}`, { token: ann });
    const canned = (found.body.items as any[]).find((i) => i.shortcut === "退款到账");
    const detail = await conversation(c.id);
    const text = renderTemplate(canned.body, { "contact.name": detail.contact.name });
    const sent = await api(`${s.url}/api/v1/conversations/${c.id}/messages`, { token: ann, body: { text } });
    expect(sent.status).toBe(201);
    expect(
      await until(async () => sentTo(openId).find((t) => t.startsWith("您好")), 8000, "the canned reply sent"),
    ).toBe("您好 王芳，退款将在 3 个工作日内到账。");
  });

  it("suggests knowledge articles for a Chinese WeChat question", async () => {
    const editor = await s.signInAs("knowledge_editor");
    const me = (await api(`${s.url}/api/v1/me`, { token: editor })).body;
    for (const a of SAMPLE_ARTICLES)
      await createArticle(
        s.rt.core.db,
        { userId: me.id, workspaceId: s.workspaceId, role: "knowledge_editor" },
        { ...a, status: "published" },
        s.rt.knowledge.saveOptions,
      );
    const c = await push(inbox.zh, openIdNew(), "请问怎么申请退款？");
    const suggestions = await api(`${s.url}/api/v1/conversations/${c.id}/knowledge`, { token: ann });
    expect(suggestions.status).toBe(200);
    expect(suggestions.body.question).toContain("怎么申请退款");
    expect(suggestions.body.items[0].title).toBe("如何申请退款");
  });

  it("lets the knowledge bot answer on WeChat through custom/send, and hand the chat to a queue on 人工", async () => {
    const openId = openIdNew();
    const c = await push(inbox.bot, openId, "怎么申请退款？");
    const answer = await until(async () => sentTo(openId)[0], 8000, "the bot's answer");
    expect(answer).toContain("如何申请退款");
    expect(answer).toContain("这解决了您的问题吗");
    const held = await s.rt.core.db.select().from(workItems).where(eq(workItems.conversationId, c.id));
    expect(held).toEqual([]);
    await push(inbox.bot, openId, "转人工");
    expect(await queueOf(c.id)).toBeTruthy();
    expect(sentTo(openId).length).toBeGreaterThanOrEqual(2);
  });
});

describe("the 48-hour reply window", () => {
  /** Moves the customer's messages back in time, as if they wrote `hours` ago. */
  const age = (conversationId: string, hours: number) =>
    s.rt.core.db
      .update(timelineItems)
      .set({ createdAt: new Date(Date.now() - hours * 3_600_000) })
      .where(and(eq(timelineItems.conversationId, conversationId), eq(timelineItems.direction, "in")));

  it("is open for 48 hours after the customer's message, shown on the conversation", async () => {
    const c = await push(inbox.zh, openIdNew(), "你好");
    const [item] = await s.rt.core.db
      .select({ createdAt: timelineItems.createdAt })
      .from(timelineItems)
      .where(and(eq(timelineItems.conversationId, c.id), eq(timelineItems.direction, "in")));
    const detail = await conversation(c.id);
    expect(detail.replyWindow).toEqual({
      open: true,
      closesAt: new Date(item!.createdAt.getTime() + 48 * 3_600_000).toISOString(),
      code: "wechat_48h",
      alternatives: [],
    });
  });

  it("refuses a reply once closed (409 naming text, with why and what instead), still takes notes, and reopens when the customer writes", async () => {
    const openId = openIdNew();
    const c = await push(inbox.zh, openId, "明天再联系");
    await age(c.id, 49);
    await api(`${s.url}/api/v1/contacts/${c.contact.id}/identities`, {
      token: admin,
      body: { kind: "phone", value: "+8613800000042" },
    });
    await api(`${s.url}/api/v1/contacts/${c.contact.id}/identities`, {
      token: admin,
      body: { kind: "email", value: `wang-${openId}@example.test` },
    });
    await createInbox(s.rt.core.db, s.rt.keyring, {
      workspaceId: s.workspaceId,
      channel: "email",
      name: "Support mail",
      settings: { address: `support-${openId}@example.test`.toLowerCase() },
    });
    const closed = (await conversation(c.id)).replyWindow;
    expect(closed).toMatchObject({ open: false, code: "wechat_48h" });
    expect(closed.alternatives).toEqual([
      { kind: "email", value: `wang-${openId}@example.test`.toLowerCase(), action: "email" },
      { kind: "phone", value: "+8613800000042", action: "callback" },
    ]);

    const refused = await api(`${s.url}/api/v1/conversations/${c.id}/messages`, {
      token: admin,
      body: { text: "在的" },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: "reply_window_closed", field: "text" });
    expect(refused.body.error.message).toContain("48 hours");
    expect(refused.body.error.message).toContain("call +8613800000042 back");
    const note = await api(`${s.url}/api/v1/conversations/${c.id}/messages`, {
      token: admin,
      body: { text: "客户 48 小时前留言，改打电话", private: true },
    });
    expect(note.status).toBe(201);
    const out = await s.rt.core.db
      .select()
      .from(timelineItems)
      .where(
        and(
          eq(timelineItems.conversationId, c.id),
          eq(timelineItems.direction, "out"),
          eq(timelineItems.senderType, "agent"),
        ),
      );
    expect(out).toEqual([]);

    await push(inbox.zh, openId, "我又来了");
    expect((await conversation(c.id)).replyWindow.open).toBe(true);
    const sent = await api(`${s.url}/api/v1/conversations/${c.id}/messages`, { token: admin, body: { text: "您好" } });
    expect(sent.status).toBe(201);
  });

  it("is null for a web chat conversation", async () => {
    const session = await api(`${s.url}/widget/v1/sessions`, { body: { inboxKey: s.inbox.publicKey, name: "Li" } });
    const msg = await api(`${s.url}/widget/v1/messages`, { token: session.body.visitorToken, body: { text: "hi" } });
    expect((await conversation(msg.body.conversationId)).replyWindow).toBeNull();
  });
});

describe("escalating a WeChat chat to a phone call", () => {
  it("calls the customer's phone from the WeChat conversation, and the call lands in that conversation", async () => {
    const c = await push(inbox.zh, openIdNew(), "请给我打电话");
    await api(`${s.url}/api/v1/conversations/${c.id}/assign`, { token: ann, body: { assigneeId: s.agent.id } });
    await api(`${s.url}/api/v1/contacts/${c.contact.id}/identities`, {
      token: ann,
      body: { kind: "phone", value: "+8613800000099" },
    });
    const started = await api(`${s.url}/api/v1/conversations/${c.id}/calls`, { token: ann, body: {} });
    expect(started.status).toBe(200);
    expect(started.body).toMatchObject({ conversationId: c.id, to: "+8613800000099", agentId: s.agent.id });
    const reload = async () => (await s.rt.core.db.select().from(calls).where(eq(calls.id, started.body.callId)))[0]!;
    await until(async () => (await voice.sim.settle(), (await reload()).status === "connected"), 8000, "connected");
    const timeline = await api(`${s.url}/api/v1/conversations/${c.id}/timeline`, { token: ann });
    const kinds = (timeline.body.items as any[])
      .filter((i) => i.type === "call" || (i.type === "message" && i.sender.type === "contact"))
      .map((i) => [i.type, i.channel]);
    expect(kinds).toEqual([
      ["message", "wechat"],
      ["call", "voice"],
    ]);
    await api(`${s.url}/api/v1/calls/${started.body.callId}/hangup`, { token: ann, body: {} });
    await until(async () => (await voice.sim.settle(), (await reload()).status === "completed"), 5000, "completed");
  });

  it("asks for a number when the WeChat contact has no phone (400 naming number)", async () => {
    const c = await push(inbox.zh, openIdNew(), "call me?");
    const r = await api(`${s.url}/api/v1/conversations/${c.id}/calls`, { token: ann, body: {} });
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe("number");
  });
});
