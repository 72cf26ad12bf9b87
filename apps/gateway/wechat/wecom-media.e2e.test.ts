import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import * as wecom from "@wecom/crypto";
import { eq } from "drizzle-orm";
import { leases } from "../../../db/schema/index.ts";
import { until } from "../../../test/poll.ts";
import { api, startTestServer, uploadAttachment, type TestServer } from "../../../test/server.ts";

const CORP_ID = "ww00112233445566cc";
const OPEN_KFID = "wkMediaAccount0123456789";
const TOKEN = "wecomMediaToken";
const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const OA_TOKEN = "oa-media-token";
const OA_APP = "wx00112233445566cc";
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 7, 7, 7]);
/** A real AMR-NB recording (the decoder package's sample), cut to about 5 s. */
const AMR = new Uint8Array(
  await Bun.file(Bun.resolveSync("benz-amr-recorder/res/mario.amr", import.meta.dir)).arrayBuffer(),
).subarray(0, 8000);

type Call = { path: string; query: Record<string, string>; body?: any; file?: { name: string; bytes: number[] } };

/** A recording stand-in of an API: the request's JSON body or multipart file, answered by `answer`. */
function standIn(answer: (call: Call) => Response) {
  const calls: Call[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const call: Call = { path: url.pathname, query: Object.fromEntries(url.searchParams) };
      if ((req.headers.get("content-type") ?? "").startsWith("multipart/")) {
        const file = (await req.formData()).get("media") as File;
        call.file = { name: file.name, bytes: [...new Uint8Array(await file.arrayBuffer())] };
      } else if (req.method === "POST") call.body = await req.json();
      calls.push(call);
      return answer(call);
    },
  });
  return { calls, server, base: `http://127.0.0.1:${server.port}` };
}

/** WeCom: sync_msg hands out the queued pages; media/get by media id (unknown: 40007); batchget by id. */
const queued: unknown[][] = [];
const files = new Map<string, () => Response>();
const customers = new Map<string, Record<string, unknown>>();
let uploads = 0;
const wecomApi = standIn((call) => {
  switch (call.path) {
    case "/cgi-bin/gettoken":
      return Response.json({ errcode: 0, access_token: "wecom-token", expires_in: 7200 });
    case "/cgi-bin/kf/sync_msg": {
      const n = Number(call.body.cursor ?? "0");
      const page = queued[n];
      if (!page) return Response.json({ errcode: 0, next_cursor: String(n), has_more: 0, msg_list: [] });
      return Response.json({ errcode: 0, next_cursor: String(n + 1), has_more: 0, msg_list: page });
    }
    case "/cgi-bin/media/get":
      return (
        files.get(call.query.media_id!)?.() ??
        Response.json({ errcode: 40007, errmsg: "invalid media_id" }, { headers: { "content-type": "text/plain" } })
      );
    case "/cgi-bin/media/upload":
      return Response.json({ errcode: 0, type: call.query.type, media_id: `wecom-upload-${++uploads}` });
    case "/cgi-bin/kf/customer/batchget": {
      const ids: string[] = call.body.external_userid_list;
      return Response.json({
        errcode: 0,
        customer_list: ids
          .filter((id) => customers.has(id))
          .map((id) => ({ external_userid: id, ...customers.get(id) })),
        invalid_external_userid: ids.filter((id) => !customers.has(id)),
      });
    }
    case "/cgi-bin/kf/send_msg":
      return Response.json({ errcode: 0, msgid: call.body.msgid });
    default:
      return Response.json({ errcode: 0, errmsg: "ok" });
  }
});

/** The Official Account: tokens, user/info with the UnionIDs below, custom/send. */
const unionIds = new Map<string, string>();
const oaApi = standIn((call) => {
  if (call.path === "/cgi-bin/stable_token") return Response.json({ access_token: "oa-token", expires_in: 7200 });
  if (call.path === "/cgi-bin/user/info") {
    const unionid = unionIds.get(call.query.openid!);
    return Response.json({ subscribe: 1, openid: call.query.openid, ...(unionid ? { unionid } : {}) });
  }
  return Response.json({ errcode: 0, errmsg: "ok" });
});

let s: TestServer;
let admin: string;
/** The WeCom customer-service inbox and the Official Account inbox of the same company. */
const inboxIds = { wecom: "", oa: "" };

beforeAll(async () => {
  s = await startTestServer({ env: { WECOM_API_BASE: wecomApi.base, WECHAT_API_BASE: oaApi.base } });
  admin = await s.login(s.admin.email, s.admin.password);
  const made = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: "微信客服 媒体",
      channel: "wechat",
      kind: "wecom",
      corpId: CORP_ID,
      secret: "kf-secret",
      openKfid: OPEN_KFID,
      token: TOKEN,
      encodingAesKey: AES_KEY,
    },
  });
  expect(made.status).toBe(201);
  inboxIds.wecom = made.body.id;
  const oa = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: "公众号",
      channel: "wechat",
      token: OA_TOKEN,
      appId: OA_APP,
      appSecret: "s",
      encodingAesKey: AES_KEY,
    },
  });
  expect(oa.status).toBe(201);
  inboxIds.oa = oa.body.id;
});
afterAll(async () => {
  await s.stop();
  wecomApi.server.stop(true);
  oaApi.server.stop(true);
});

const now = () => Math.floor(Date.now() / 1000);
const newCustomer = () => `wm${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
const newMsgId = () => crypto.randomUUID().replaceAll("-", "");

/** WeCom gets the messages; its callback (encrypted, signed) tells the inbox to pull them. */
async function deliver(...messages: Record<string, unknown>[]) {
  queued.push(messages);
  const xml =
    `<xml><ToUserName><![CDATA[${CORP_ID}]]></ToUserName><CreateTime>${now()}</CreateTime>` +
    `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>` +
    `<Token><![CDATA[sync${queued.length}]]></Token><OpenKfId><![CDATA[${OPEN_KFID}]]></OpenKfId></xml>`;
  const encrypt = wecom.encrypt(AES_KEY, xml, CORP_ID);
  const timestamp = String(now());
  const nonce = String(Math.floor(Math.random() * 1e10));
  const signature = wecom.getSignature(TOKEN, timestamp, nonce, encrypt);
  const res = await fetch(
    `${s.url}/webhooks/wechat/${inboxIds.wecom}?msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`,
    { method: "POST", body: `<xml><ToUserName><![CDATA[${CORP_ID}]]></ToUserName><Encrypt>${encrypt}</Encrypt></xml>` },
  );
  expect(await res.text()).toBe("success");
}

const message = (from: string, msgtype: string, part: Record<string, unknown>) => ({
  msgid: newMsgId(),
  open_kfid: OPEN_KFID,
  external_userid: from,
  send_time: now(),
  origin: 3,
  msgtype,
  [msgtype]: part,
});

async function conversationOf(q: string, inboxId = inboxIds.wecom) {
  const [conversation] = await until(
    async () =>
      ((await api(`${s.url}/api/v1/conversations?channel=wechat&q=${q}`, { token: admin })).body.items as any[]).filter(
        (c) => c.inboxId === inboxId,
      ),
    (l) => l.length > 0,
  );
  return conversation;
}
async function timeline(conversationId: string) {
  return (await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: admin })).body.items as any[];
}
/** The conversation's inbound items once none waits for its file any more. */
async function settled(conversationId: string, count: number) {
  return until(
    async () => (await timeline(conversationId)).filter((i) => i.direction === "in"),
    (items) => items.length === count && items.every((i) => !i.data.media || i.data.media.state !== "pending"),
  );
}
async function contactOf(q: string) {
  const found = await until(
    async () => (await api(`${s.url}/api/v1/contacts?q=${q}`, { token: admin })).body.items as any[],
    (l) => l.length > 0,
  );
  return (await api(`${s.url}/api/v1/contacts/${found[0].id}`, { token: admin })).body;
}
const attachmentBytes = async (url: string) =>
  new Uint8Array(
    await (await fetch(`${s.url}${url}`, { headers: { authorization: `Bearer ${admin}` } })).arrayBuffer(),
  );

describe("WeCom customer service: media", () => {
  it("downloads a customer's image and voice into attachments, the voice as a WAV that plays", async () => {
    const customer = newCustomer();
    customers.set(customer, { nickname: "王五", gender: 1 });
    files.set("kf-img", () => new Response(JPEG, { headers: { "content-type": "image/jpeg" } }));
    files.set("kf-voice", () => new Response(AMR, { headers: { "content-type": "voice/amr" } }));
    await deliver(
      message(customer, "text", { content: "看图" }),
      message(customer, "image", { media_id: "kf-img" }),
      message(customer, "voice", { media_id: "kf-voice" }),
    );
    const conversation = await conversationOf(customer);
    const [text, image, voice] = await settled(conversation.id, 3);
    expect([text.text, image.text, voice.text]).toEqual(["看图", "[图片]", "[语音]"]);

    expect(image.data.media).toMatchObject({ state: "stored", attempts: 1 });
    expect(image.attachments).toHaveLength(1);
    expect(image.attachments[0]).toMatchObject({ contentType: "image/jpeg", size: JPEG.length });
    expect([...(await attachmentBytes(image.attachments[0].url))]).toEqual([...JPEG]);

    expect(voice.attachments.map((a: any) => a.contentType)).toEqual(["audio/wav", "application/octet-stream"]);
    expect(voice.attachments[1].name).toEndWith(".amr");
    const wav = await attachmentBytes(voice.attachments[0].url);
    expect(new TextDecoder().decode(wav.subarray(0, 4))).toBe("RIFF");

    // Asked of WeCom with the corp's token, and nothing left for housekeeping.
    // The two downloads run side by side: in either order.
    const gets = wecomApi.calls.filter((c) => c.path === "/cgi-bin/media/get");
    expect(gets.map((c) => [c.query.media_id, c.query.access_token]).sort()).toEqual([
      ["kf-img", "wecom-token"],
      ["kf-voice", "wecom-token"],
    ]);
    expect(
      await s.rt.core.db
        .select()
        .from(leases)
        .where(eq(leases.name, `wechat-media:${image.id}`)),
    ).toEqual([]);

    // The customer's WeChat nickname names the contact (it had none), with what batchget said.
    const contact = await until(
      () => contactOf(customer),
      (c) => c.name === "王五",
    );
    expect(contact.attributes[`wecom:${CORP_ID}`]).toMatchObject({ nickname: "王五", gender: 1 });
    expect(contact.attributes[`wecom:${CORP_ID}`].checkedAt).toBeString();
  });

  it("records WeCom's refusal of media/get on the item, with its code and text", async () => {
    const customer = newCustomer();
    await deliver(message(customer, "file", { media_id: "kf-gone" }));
    const conversation = await conversationOf(customer);
    const [item] = await settled(conversation.id, 1);
    expect(item.text).toBe("[文件]");
    expect(item.data.media).toMatchObject({
      state: "failed",
      errcode: 40007,
      errmsg: "invalid media_id",
      reason: "WeCom 40007: invalid media_id",
    });
    expect(item.attachments).toEqual([]);
    // A customer batchget does not know keeps no name, and is remembered as asked.
    const contact = await until(
      () => contactOf(customer),
      (c) => !!c.attributes[`wecom:${CORP_ID}`]?.checkedAt,
    );
    expect(contact.name).toBeNull();
  });

  it("sends an agent's image reply: media/upload with type image, then the text and an image message", async () => {
    const customer = newCustomer();
    await deliver(message(customer, "text", { content: "发张收据" }));
    const conversation = await conversationOf(customer);
    await settled(conversation.id, 1);
    const id = await uploadAttachment(s.url, admin, { bytes: JPEG, type: "image/jpeg", name: "收据.jpg" });
    const reply = await api(`${s.url}/api/v1/conversations/${conversation.id}/messages`, {
      token: admin,
      body: { text: "这是您的收据", attachments: [id] },
    });
    expect(reply.status).toBe(201);

    const sends = await until(
      async () => wecomApi.calls.filter((c) => c.path === "/cgi-bin/kf/send_msg" && c.body.touser === customer),
      (l) => l.length >= 2,
    );
    const uploaded = wecomApi.calls.find((c) => c.path === "/cgi-bin/media/upload" && c.file?.name === "收据.jpg");
    expect(uploaded?.query).toMatchObject({ type: "image", access_token: "wecom-token" });
    expect(uploaded?.file?.bytes).toEqual([...JPEG]);
    const mediaId = `wecom-upload-${wecomApi.calls.filter((c) => c.path === "/cgi-bin/media/upload").indexOf(uploaded!) + 1}`;
    expect(sends.map((c) => ({ msgtype: c.body.msgtype, text: c.body.text, image: c.body.image }))).toEqual([
      { msgtype: "text", text: { content: "这是您的收据" }, image: undefined },
      { msgtype: "image", text: undefined, image: { media_id: mediaId } },
    ]);
    expect(sends[1]!.body.msgid).toBe(`${sends[0]!.body.msgid.slice(0, 28)}_p1`);
    const sent = await until(
      async () => (await timeline(conversation.id)).find((i) => i.text === "这是您的收据"),
      (i) => i?.status === "sent",
    );
    expect(sent.status).toBe("sent");
  });
});

describe("WeCom customer service: the customer's UnionID", () => {
  it("joins a WeCom customer with the Official Account's follower of the same UnionID, and replies go to each", async () => {
    const openId = `oKf${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
    const customer = newCustomer();
    const unionId = `uKf${crypto.randomUUID().slice(0, 8)}`;
    unionIds.set(openId, unionId);
    customers.set(customer, { nickname: "李四", avatar: "http://wx.qlogo.cn/li/0", unionid: unionId });

    // The person writes to the Official Account first: that contact has the UnionID.
    const timestamp = String(now());
    const nonce = String(Math.floor(Math.random() * 1e10));
    const signature = createHash("sha1").update([OA_TOKEN, timestamp, nonce].sort().join("")).digest("hex");
    const pushed = await fetch(
      `${s.url}/webhooks/wechat/${inboxIds.oa}?signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`,
      {
        method: "POST",
        body:
          `<xml><ToUserName>gh_test</ToUserName><FromUserName>${openId}</FromUserName>` +
          `<CreateTime>${timestamp}</CreateTime><MsgType>text</MsgType><Content>公众号里问一下</Content>` +
          `<MsgId>${Math.floor(Math.random() * 1e15) + 1e18}</MsgId></xml>`,
      },
    );
    expect(await pushed.text()).toBe("success");
    const follower = await until(
      () => contactOf(openId),
      (c) => c.identities.some((i: any) => i.kind === "wechat_unionid"),
    );

    // Then to WeCom customer service: batchget gives the same UnionID, and the two are one contact.
    await deliver(message(customer, "text", { content: "客服这边再问" }));
    const joined = await until(
      () => contactOf(customer),
      (c) => c.id === follower.id,
    );
    expect(joined.identities.map((i: any) => `${i.kind}:${i.value}`).sort()).toEqual(
      [`wechat:${openId}`, `wecom:${customer}`, `wechat_unionid:${unionId}`].sort(),
    );
    expect(joined.name).toBe("李四");
    expect(joined.attributes[`wecom:${CORP_ID}`]).toMatchObject({
      nickname: "李四",
      avatar: "http://wx.qlogo.cn/li/0",
    });
    const batchgets = wecomApi.calls.filter(
      (c) => c.path === "/cgi-bin/kf/customer/batchget" && c.body.external_userid_list.includes(customer),
    );
    expect(batchgets).toHaveLength(1);
    expect(batchgets[0]!.body.need_enter_session_context).toBe(0);

    // Both conversations are the one contact's; each reply leaves through its own inbox to its own id.
    const all = await until(
      async () =>
        (await api(`${s.url}/api/v1/conversations?channel=wechat&q=${customer}`, { token: admin })).body.items as any[],
      (l) => l.length > 0,
    );
    const ofContact = (await api(`${s.url}/api/v1/conversations?channel=wechat&q=${openId}`, { token: admin })).body
      .items as any[];
    expect(new Set([...all, ...ofContact].map((c) => c.contact.id))).toEqual(new Set([follower.id]));
    const wecomConversation = [...all, ...ofContact].find((c) => c.inboxId === inboxIds.wecom);
    const oaConversation = [...all, ...ofContact].find((c) => c.inboxId === inboxIds.oa);
    expect(wecomConversation).toBeDefined();
    expect(oaConversation).toBeDefined();

    await api(`${s.url}/api/v1/conversations/${wecomConversation.id}/messages`, {
      token: admin,
      body: { text: "客服回复" },
    });
    await api(`${s.url}/api/v1/conversations/${oaConversation.id}/messages`, {
      token: admin,
      body: { text: "公众号回复" },
    });
    const kf = await until(
      async () => wecomApi.calls.find((c) => c.path === "/cgi-bin/kf/send_msg" && c.body.text?.content === "客服回复"),
      (c) => c !== undefined,
    );
    expect(kf!.body).toMatchObject({ touser: customer, open_kfid: OPEN_KFID });
    const oa = await until(
      async () =>
        oaApi.calls.find((c) => c.path === "/cgi-bin/message/custom/send" && c.body.text?.content === "公众号回复"),
      (c) => c !== undefined,
    );
    expect(oa!.body.touser).toBe(openId);
    expect(wecomApi.calls.some((c) => c.body?.text?.content === "公众号回复")).toBe(false);
  });
});
