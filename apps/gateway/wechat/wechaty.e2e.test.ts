import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { eq } from "drizzle-orm";
import { FileBox } from "file-box";
import { WechatyBuilder } from "wechaty";
import { mock, PuppetMock } from "wechaty-puppet-mock";
import { inboxes } from "../../../db/schema/index.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import type { WechatyFactory } from "./wechaty-bot.ts";

/**
 * Wechaty inboxes end to end, against wechaty-puppet-mock: every bot the runners start gets a mocker of
 * its own, which plays WeChat (the account's QR scan and login, customers and rooms saying things, and
 * what the bot says back). One inbox and its bots are shared by the tests, in order.
 */
type Mocked = { inboxId: string; mocker: mock.Mocker; puppet: PuppetMock };
const bots: Mocked[] = [];
const build: WechatyFactory = (setup) => {
  const mocker = new mock.Mocker();
  const puppet = new PuppetMock({ mocker });
  bots.push({ inboxId: setup.inboxId, mocker, puppet });
  return WechatyBuilder.build({ puppet });
};
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);
const fast = { build, pollMs: 100, ttlMs: 1500, backoffMs: 600 };

let a: TestServer;
let b: TestServer | undefined;
let admin: string;
let inboxId: string;

const latest = () => bots.filter((x) => x.inboxId === inboxId).at(-1)!;
const botsOfInbox = () => bots.filter((x) => x.inboxId === inboxId).length;
const state = async (s: TestServer = a, token = admin) =>
  (await api(`${s.url}/api/v1/inboxes/${inboxId}/wechaty`, { token })).body;
/** The bot's session once `ok` holds; a session that never gets there fails the test, saying where it stayed. */
async function stateUntil(ok: (st: any) => boolean, s?: TestServer, token?: string) {
  const last = await until(() => state(s, token), ok);
  if (!ok(last)) throw new Error(`the bot's session stayed ${JSON.stringify(last)}`);
  return last;
}

/** A bot that has started, and the WeChat account it logs in as. */
async function loggedInBot(s: TestServer = a) {
  const bot = latest();
  // Started (and maybe showing its QR code): the account logs in.
  await stateUntil((st) => st.status === "starting" || st.status === "scan", s);
  const self = bot.mocker.createContact({ name: "客服小微" });
  bot.mocker.login(self);
  await stateUntil((st) => st.status === "logged_in", s);
  return { ...bot, self };
}

async function conversationOf(s: TestServer, token: string, name: string) {
  const list = await until(
    async () => (await api(`${s.url}/api/v1/conversations?channel=wechat&limit=100`, { token })).body.items as any[],
    (items) => items.some((c) => c.contact.name === name),
  );
  return list.find((c) => c.contact.name === name);
}

const timeline = async (s: TestServer, token: string, conversationId: string) =>
  (await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token })).body.items as any[];

beforeAll(async () => {
  a = await startTestServer({ wechaty: fast });
  admin = await a.login(a.admin.email, a.admin.password);
  const created = await api(`${a.url}/api/v1/inboxes`, {
    token: admin,
    body: { name: "微信客服号", channel: "wechat", kind: "wechaty", puppet: "wechaty-puppet-mock" },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
});
afterAll(async () => {
  // Left stopped: other servers on this database (a node started with main.ts) must not run its bot.
  if (inboxId)
    await a.rt.core.db
      .update(inboxes)
      .set({ settings: { kind: "wechaty", puppet: "wechaty-puppet-mock", stopped: true } })
      .where(eq(inboxes.id, inboxId));
  await b?.stop();
  await a?.stop();
});

describe("a Wechaty inbox", () => {
  let bot: Awaited<ReturnType<typeof loggedInBot>>;
  let aliceConversation: string;

  it("starts its bot when the inbox is created, shows the login QR code, then the account it logged in as", async () => {
    await until(
      async () => botsOfInbox(),
      (n) => n === 1,
    );
    await stateUntil((st) => st.status === "starting");
    latest().mocker.scan("https://login.weixin.qq.com/l/mock-qr", 2);
    const scan = await stateUntil((st) => st.status === "scan");
    expect(scan).toMatchObject({
      qrcode: "https://login.weixin.qq.com/l/mock-qr",
      scanStatus: "waiting",
      stopped: false,
    });
    expect(scan.qrImage).toStartWith("data:image/png;base64,");
    expect(scan.node).toBe(a.rt.wechaty.options.holder);

    bot = await loggedInBot();
    expect(await state()).toMatchObject({
      status: "logged_in",
      user: { id: bot.self.id, name: "客服小微" },
      qrcode: null,
      qrImage: null,
      lastError: null,
    });
  });

  it("puts a customer's direct message in the timeline and the queue, and says the agent's reply to them", async () => {
    const alice = bot.mocker.createContact({ name: "Alice 王" });
    const heard: string[] = [];
    alice.on("message", (m) => {
      if (m.talker().id === bot.self.id) heard.push(m.text() ?? "");
    });
    alice.say("你好，我想查询订单").to(bot.self);
    const conversation = await conversationOf(a, admin, "Alice 王");
    aliceConversation = conversation.id;
    expect(conversation).toMatchObject({ channel: "wechat", status: "open" });
    const items = await timeline(a, admin, conversation.id);
    expect(items.find((i) => i.direction === "in")).toMatchObject({ text: "你好，我想查询订单" });

    const reply = await api(`${a.url}/api/v1/conversations/${conversation.id}/messages`, {
      token: admin,
      body: { text: "您好，请提供订单号" },
    });
    expect(reply.status).toBe(201);
    await until(
      async () => heard,
      (h) => h.includes("您好，请提供订单号"),
    );
    const sent = await until(
      async () => (await timeline(a, admin, conversation.id)).find((i) => i.id === reply.body.id),
      (i) => i?.status === "sent",
    );
    expect(sent.status).toBe("sent");
    // The bot's own reply comes back as a message too; it is not stored as the customer's.
    expect((await timeline(a, admin, conversation.id)).filter((i) => i.direction === "in")).toHaveLength(1);
  });

  it("stores a customer's image as an attachment of the message, with WeChat's placeholder as its text", async () => {
    const erin = bot.mocker.createContact({ name: "Erin 周" });
    const png = PNG;
    erin.say(FileBox.fromBase64(png.toString("base64"), "photo.png")).to(bot.self);
    const conversation = await conversationOf(a, admin, "Erin 周");
    const [item] = await timeline(a, admin, conversation.id);
    expect(item).toMatchObject({ direction: "in", text: "[图片]" });
    expect(item.attachments).toHaveLength(1);
    expect(item.attachments[0]).toMatchObject({ name: "photo.png", contentType: "image/png", size: png.length });
  });

  it("sends an agent's image after the text, as a file the customer receives", async () => {
    const frank = bot.mocker.createContact({ name: "Frank 吴" });
    const got: { type: number; text?: string }[] = [];
    frank.on("message", (m) => {
      if (m.talker().id === bot.self.id) got.push({ type: m.type(), text: m.text() });
    });
    frank.say("发一下收据").to(bot.self);
    const conversation = await conversationOf(a, admin, "Frank 吴");
    const form = new FormData();
    form.append("file", new Blob([PNG], { type: "image/png" }), "收据.png");
    const upload = await fetch(`${a.url}/api/v1/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}` },
      body: form,
    });
    expect(upload.status).toBe(201);
    const { id } = (await upload.json()) as { id: string };
    await api(`${a.url}/api/v1/conversations/${conversation.id}/messages`, {
      token: admin,
      body: { text: "这是您的收据", attachments: [id] },
    });
    await until(
      async () => got,
      (g) => g.length === 2,
    );
    expect(got).toEqual([{ type: 7, text: "这是您的收据" }, expect.objectContaining({ type: 6 })]);
  });

  it("makes a room one conversation with its members as participants, and replies in the room", async () => {
    const bob = bot.mocker.createContact({ name: "Bob 张" });
    const carol = bot.mocker.createContact({ name: "Carol 陈" });
    const room = bot.mocker.createRoom({ topic: "VIP 客户群", memberIdList: [bot.self.id, bob.id, carol.id] });
    const said: string[] = [];
    room.on("message", (m) => {
      if (m.talker().id === bot.self.id) said.push(m.text() ?? "");
    });
    bob.say("群里有人吗？").to(room);
    carol.say("我也有问题").to(room);
    const conversation = await conversationOf(a, admin, "VIP 客户群");
    const items = await until(
      () => timeline(a, admin, conversation.id),
      (all) => all.filter((i) => i.direction === "in").length === 2,
    );
    expect(items.filter((i) => i.direction === "in").map((i) => [i.text, i.sender.name])).toEqual([
      ["群里有人吗？", "Bob 张"],
      ["我也有问题", "Carol 陈"],
    ]);
    const people = (await api(`${a.url}/api/v1/conversations/${conversation.id}/participants`, { token: admin })).body
      .items as any[];
    expect(people.map((p) => p.name).sort()).toEqual(["Bob 张", "Carol 陈"]);
    expect(people.find((p) => p.name === "Bob 张").address).toBe(bob.id);

    await api(`${a.url}/api/v1/conversations/${conversation.id}/messages`, {
      token: admin,
      body: { text: "大家好，我来处理" },
    });
    await until(
      async () => said,
      (s) => s.includes("大家好，我来处理"),
    );
  });

  it("shows a logout, starts the bot again after a pause, and fails a reply the bot cannot say with the reason", async () => {
    const before = botsOfInbox();
    await latest().puppet.logout();
    await stateUntil((st) => st.status === "logged_out");
    await until(
      async () => botsOfInbox(),
      (n) => n === before + 1,
    );
    await stateUntil((st) => st.status === "starting");

    // Not logged in: the outbox retries, then the message fails visibly with why.
    const reply = await api(`${a.url}/api/v1/conversations/${aliceConversation}/messages`, {
      token: admin,
      body: { text: "还在吗？" },
    });
    const failed = await until(
      async () => (await timeline(a, admin, aliceConversation)).find((i) => i.id === reply.body.id),
      (i) => i?.status === "failed",
    );
    expect(failed.error).toContain("not logged in");
    expect(failed.error).toContain("微信机器人未登录");
    bot = await loggedInBot();
  });

  it("stops and starts on an admin's word, and stays stopped in the inbox's settings", async () => {
    const agent = await a.signInAs("agent");
    expect((await api(`${a.url}/api/v1/inboxes/${inboxId}/wechaty/stop`, { token: agent, body: {} })).status).toBe(403);
    const stopped = await api(`${a.url}/api/v1/inboxes/${inboxId}/wechaty/stop`, { token: admin, body: {} });
    expect(stopped.status).toBe(200);
    expect(stopped.body).toMatchObject({ status: "stopped", stopped: true, user: null });
    expect(a.rt.wechaty.runs(inboxId)).toBe(false);
    const [row] = await a.rt.core.db.select().from(inboxes).where(eq(inboxes.id, inboxId));
    expect(row!.settings.stopped).toBe(true);
    // A poll later it is still stopped: no new bot.
    const count = botsOfInbox();
    await a.rt.wechaty.sync();
    expect(botsOfInbox()).toBe(count);

    const started = await api(`${a.url}/api/v1/inboxes/${inboxId}/wechaty/start`, { token: admin, body: {} });
    expect(started.body).toMatchObject({ stopped: false });
    expect(["starting", "scan"]).toContain(started.body.status);
    expect(botsOfInbox()).toBe(count + 1);
    bot = await loggedInBot();
  });

  it("refuses another kind of inbox, naming the field", async () => {
    const res = await api(`${a.url}/api/v1/inboxes/${a.inbox.id}/wechaty`, { token: admin });
    expect(res.status).toBe(400);
    expect(res.body.error.field).toBe("id");
  });

  it("runs on one node: a second node leaves the bot alone, then takes it over when the first stops", async () => {
    b = await startTestServer({ wechaty: { ...fast, workspaceIds: [a.workspaceId] } });
    await b.rt.wechaty.sync();
    await b.rt.wechaty.sync();
    expect(b.rt.wechaty.runs(inboxId)).toBe(false);
    expect((await state()).node).toBe(a.rt.wechaty.options.holder);
    const count = botsOfInbox();

    await a.stop();
    await until(async () => b!.rt.wechaty.runs(inboxId), Boolean);
    expect(botsOfInbox()).toBe(count + 1);
    // The admin's token is from node a's database, which b shares; b answers for the bot now.
    const taken = await stateUntil((st) => st.node === b!.rt.wechaty.options.holder, b);
    expect(taken.status).toBe("starting");
    bot = await loggedInBot(b);
    // Node b's outbox sends replies through its bot.
    const dave = bot.mocker.createContact({ name: "Dave 刘" });
    const heard: string[] = [];
    dave.on("message", (m) => {
      if (m.talker().id === bot.self.id) heard.push(m.text() ?? "");
    });
    dave.say("换了节点还能回复吗").to(bot.self);
    const conversation = await conversationOf(b, admin, "Dave 刘");
    await api(`${b.url}/api/v1/conversations/${conversation.id}/messages`, { token: admin, body: { text: "可以" } });
    await until(
      async () => heard,
      (h) => h.includes("可以"),
    );
  });
});
