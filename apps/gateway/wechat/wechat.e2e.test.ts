import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import * as wecom from "@wecom/crypto";
import { and, asc, eq } from "drizzle-orm";
import { inboxes, timelineItems } from "../../../db/schema/index.ts";
import { DEMO_WECHAT, seedDemo } from "../../demo/seed.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";

const TOKEN = "test-wechat-token";
const APP_ID = "wx00112233445566ff";
const APP_SECRET = "test-app-secret";
const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/** WeChat's Official Account API, as far as replies need it: tokens and custom/send, recorded. */
type Sent = { path: string; query: Record<string, string>; body: any };
const recorded: Sent[] = [];
const wechatApi = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const body = req.method === "POST" ? await req.json() : undefined;
    recorded.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), body });
    if (url.pathname === "/cgi-bin/token" || url.pathname === "/cgi-bin/stable_token")
      return Response.json({ access_token: "stand-in-token", expires_in: 7200 });
    return Response.json({ errcode: 0, errmsg: "ok" });
  },
});

let s: TestServer;
let admin: string;
let inboxId: string;
let webhook: string;

beforeAll(async () => {
  s = await startTestServer({ env: { WECHAT_API_BASE: `http://127.0.0.1:${wechatApi.port}` } });
  admin = await s.login(s.admin.email, s.admin.password);
  // Before this file's own inbox: the demo adds its inbox only to a workspace that has no WeChat inbox.
  await seedDemo(s.rt);
  const created = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: "公众号",
      channel: "wechat",
      token: TOKEN,
      appId: APP_ID,
      appSecret: APP_SECRET,
      encodingAesKey: AES_KEY,
    },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
  webhook = `${s.url}/webhooks/wechat/${inboxId}`;
});
afterAll(async () => {
  await s.stop();
  wechatApi.stop(true);
});

const sha1 = (parts: string[]) =>
  createHash("sha1")
    .update([...parts].sort().join(""))
    .digest("hex");
const now = () => String(Math.floor(Date.now() / 1000));
const freshNonce = () => String(Math.floor(Math.random() * 1e10));
const textXml = (openId: string, text: string, msgId: string) =>
  `<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[${openId}]]></FromUserName>` +
  `<CreateTime>${now()}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${text}]]></Content>` +
  `<MsgId>${msgId}</MsgId></xml>`;

/** A plaintext push, signed as WeChat signs: sha1 of token, timestamp and nonce sorted and joined. */
function plainPush(xml: string, options: { nonce?: string; token?: string } = {}) {
  const timestamp = now();
  const nonce = options.nonce ?? freshNonce();
  const signature = sha1([options.token ?? TOKEN, timestamp, nonce]);
  return fetch(`${webhook}?signature=${signature}&timestamp=${timestamp}&nonce=${nonce}&openid=x`, {
    method: "POST",
    headers: { "content-type": "text/xml" },
    body: xml,
  });
}

/** A safe-mode push encrypted and signed with @wecom/crypto, a maintained implementation. */
function encryptedPush(
  xml: string,
  appId = APP_ID,
  to: { url: string; token: string; key: string } = { url: webhook, token: TOKEN, key: AES_KEY },
) {
  const timestamp = now();
  const nonce = freshNonce();
  const encrypt = wecom.encrypt(to.key, xml, appId);
  const msgSignature = wecom.getSignature(to.token, timestamp, nonce, encrypt);
  return fetch(
    `${to.url}?timestamp=${timestamp}&nonce=${nonce}&encrypt_type=aes&msg_signature=${msgSignature}&openid=x`,
    {
      method: "POST",
      headers: { "content-type": "text/xml" },
      body: `<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
    },
  );
}

const openIdNew = () => `oTest${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
const msgIdNew = () => String(Math.floor(Math.random() * 1e15) + 1e18);

async function conversationOf(openId: string) {
  const list = await api(`${s.url}/api/v1/conversations?channel=wechat&q=${openId}`, { token: admin });
  return list.body.items as any[];
}
async function timelineOf(conversationId: string) {
  return (await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: admin })).body.items as any[];
}

describe("WeChat Official Account inboxes", () => {
  it("are listed with channel wechat and the absolute webhook URL, secrets never returned", async () => {
    const list = await api(`${s.url}/api/v1/inboxes`, { token: admin });
    const inbox = list.body.items.find((i: any) => i.id === inboxId);
    expect(inbox).toMatchObject({ channel: "wechat", webhookUrl: webhook });
    expect(JSON.stringify(list.body)).not.toContain(APP_SECRET);
    expect(JSON.stringify(list.body)).not.toContain(AES_KEY);
  });

  it("refuse bad settings naming the field", async () => {
    const base = { name: "x", channel: "wechat", token: TOKEN, appId: APP_ID, appSecret: "s", encodingAesKey: AES_KEY };
    for (const [field, value] of [
      ["appId", "wx123"],
      ["encodingAesKey", "too-short"],
      ["mode", "loud"],
    ] as const) {
      const bad = await api(`${s.url}/api/v1/inboxes`, { token: admin, body: { ...base, [field]: value } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe(field);
    }
  });
});

describe("the WeChat webhook", () => {
  it("answers WeChat's URL check with echostr, and a forged one with 403", async () => {
    const timestamp = now();
    const nonce = freshNonce();
    const good = await fetch(
      `${webhook}?signature=${sha1([TOKEN, timestamp, nonce])}&timestamp=${timestamp}&nonce=${nonce}&echostr=hello123`,
    );
    expect(good.status).toBe(200);
    expect(await good.text()).toBe("hello123");
    const forged = await fetch(
      `${webhook}?signature=${sha1(["nope", timestamp, nonce])}&timestamp=${timestamp}&nonce=${nonce}&echostr=x`,
    );
    expect(forged.status).toBe(403);
    expect((await forged.json()).error.code).toBe("forbidden");
    const unknown = await fetch(`${s.url}/webhooks/wechat/${crypto.randomUUID()}?signature=x&timestamp=1&nonce=1`);
    expect(unknown.status).toBe(404);
  });

  it("stores a plaintext push before answering success: the conversation has channel wechat and the text", async () => {
    const openId = openIdNew();
    const res = await plainPush(textXml(openId, "你好，我要退款", msgIdNew()));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("success");
    const [conversation] = await conversationOf(openId);
    expect(conversation.channel).toBe("wechat");
    const items = await timelineOf(conversation.id);
    expect(items.find((i) => i.direction === "in")?.text).toBe("你好，我要退款");
  });

  it("stores a safe-mode push encrypted by @wecom/crypto, and refuses one encrypted for another AppID", async () => {
    const openId = openIdNew();
    const res = await encryptedPush(textXml(openId, "encrypted hello", msgIdNew()));
    expect(res.status).toBe(200);
    const [conversation] = await conversationOf(openId);
    expect((await timelineOf(conversation.id)).some((i) => i.text === "encrypted hello")).toBe(true);

    const stranger = openIdNew();
    const other = await encryptedPush(textXml(stranger, "not for us", msgIdNew()), "wx99999999999999ff");
    expect(other.status).toBe(400);
    expect(await conversationOf(stranger)).toEqual([]);
  });

  it("refuses a forged signature with 403 and stores nothing", async () => {
    const openId = openIdNew();
    const res = await plainPush(textXml(openId, "forged", msgIdNew()), { token: "not-the-token" });
    expect(res.status).toBe(403);
    expect((await res.json()).error.code).toBe("forbidden");
    expect(await conversationOf(openId)).toEqual([]);
  });

  it("keeps one item for the same MsgId pushed twice (WeChat retries)", async () => {
    const openId = openIdNew();
    const xml = textXml(openId, "once", msgIdNew());
    expect((await plainPush(xml)).status).toBe(200);
    expect((await plainPush(xml)).status).toBe(200);
    const [conversation] = await conversationOf(openId);
    expect((await timelineOf(conversation.id)).filter((i) => i.direction === "in")).toHaveLength(1);
  });

  it("refuses a nonce already used in the window", async () => {
    const nonce = freshNonce();
    expect((await plainPush(textXml(openIdNew(), "first", msgIdNew()), { nonce })).status).toBe(200);
    const replayed = await plainPush(textXml(openIdNew(), "replayed with another body", msgIdNew()), { nonce });
    expect(replayed.status).toBe(403);
    expect((await replayed.json()).error.field).toBe("nonce");
  });

  it("answers malformed XML with 400 and the problem", async () => {
    const res = await plainPush("<xml><FromUserName>oops</xml>");
    expect(res.status).toBe(400);
    expect((await res.json()).error.message).toBeTruthy();
  });

  it("refuses a body over 64 KB with 413", async () => {
    const res = await plainPush(textXml(openIdNew(), "x".repeat(70 * 1024), msgIdNew()));
    expect(res.status).toBe(413);
  });

  it("gives an image a placeholder text so agents see it", async () => {
    const openId = openIdNew();
    const xml =
      `<xml><ToUserName>gh_test</ToUserName><FromUserName>${openId}</FromUserName><CreateTime>${now()}</CreateTime>` +
      `<MsgType>image</MsgType><PicUrl>http://example.test/a.jpg</PicUrl><MediaId>m1</MediaId><MsgId>${msgIdNew()}</MsgId></xml>`;
    expect((await plainPush(xml)).status).toBe(200);
    const [conversation] = await conversationOf(openId);
    expect((await timelineOf(conversation.id)).some((i) => i.text === "[图片]")).toBe(true);
  });

  it("sends an agent's reply through custom/send to the customer's OpenID", async () => {
    const openId = openIdNew();
    expect((await plainPush(textXml(openId, "请回复", msgIdNew()))).status).toBe(200);
    const [conversation] = await conversationOf(openId);
    const reply = await api(`${s.url}/api/v1/conversations/${conversation.id}/messages`, {
      token: admin,
      body: { text: "您好，已为您处理" },
    });
    expect(reply.status).toBe(201);
    const deadline = Date.now() + 5000;
    let sent: Sent | undefined;
    while (!sent && Date.now() < deadline) {
      sent = recorded.find((r) => r.path === "/cgi-bin/message/custom/send" && r.body?.touser === openId);
      if (!sent) await Bun.sleep(50);
    }
    expect(sent).toMatchObject({
      query: { access_token: "stand-in-token" },
      body: { touser: openId, msgtype: "text", text: { content: "您好，已为您处理" } },
    });
    // An inbox made without tokenApi takes its tokens from stable_token, not forced.
    expect(recorded.find((r) => r.path === "/cgi-bin/stable_token")?.body).toMatchObject({
      grant_type: "client_credential",
      appid: APP_ID,
      secret: APP_SECRET,
      force_refresh: false,
    });
  });
});

describe("the demo Official Account inbox", () => {
  it("has the issue's fixed secrets and takes a safe-mode push made with them", async () => {
    expect(DEMO_WECHAT).toEqual({
      token: "demo-wechat-token",
      appId: "wx0123456789abcdef",
      appSecret: "demo-wechat-secret",
      encodingAesKey: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    });
    const [demo] = (
      await s.rt.core.db
        .select()
        .from(inboxes)
        .where(and(eq(inboxes.channel, "wechat"), eq(inboxes.name, "WeChat 公众号")))
        .orderBy(asc(inboxes.createdAt))
    ).filter((i) => i.settings.appId === DEMO_WECHAT.appId);
    expect(demo?.settings).toMatchObject({ appId: DEMO_WECHAT.appId, mode: "compatible" });
    const msgId = msgIdNew();
    const res = await encryptedPush(textXml(openIdNew(), "demo 你好", msgId), DEMO_WECHAT.appId, {
      url: `${s.url}/webhooks/wechat/${demo!.id}`,
      token: DEMO_WECHAT.token,
      key: DEMO_WECHAT.encodingAesKey,
    });
    expect(res.status).toBe(200);
    const stored = await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.externalId, msgId));
    expect(stored.map((i) => i.text)).toEqual(["demo 你好"]);
  });
});
