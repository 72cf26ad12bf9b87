import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createHash } from "node:crypto";
import { eq, like, sql } from "drizzle-orm";
import { parsePushXml, toInbound } from "../../../channels/wechat/parse.ts";
import { withPendingMedia } from "../../../channels/wechat/media.ts";
import { ingestInbound } from "../../../conversations/ingest.ts";
import { attachments, inboxes as inboxTable, leases, timelineItems } from "../../../db/schema/index.ts";
import { until } from "../../../test/poll.ts";
import { api, openSocket, startTestServer, wsUrl, type TestServer } from "../../../test/server.ts";
import { queueMediaDownload, retryMediaDownloads } from "./media.ts";
import { lookUpUnionId } from "./union-id.ts";

const TOKEN = "media-wechat-token";
const APP_A = "wx00112233445566aa";
const APP_B = "wx00112233445566bb";
const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 7, 7, 7]);
/** A real AMR-NB recording (the decoder package's sample), cut to about 5 s. */
const AMR = new Uint8Array(
  await Bun.file(Bun.resolveSync("benz-amr-recorder/res/mario.amr", import.meta.dir)).arrayBuffer(),
).subarray(0, 8000);

/** WeChat's Official Account API as this file needs it, recording every request. */
type Sent = { path: string; query: Record<string, string>; body?: any; file?: { name: string; bytes: number[] } };
const recorded: Sent[] = [];
/** media/get answers by media id; an unknown id is WeChat's 40007. */
const mediaFiles = new Map<string, () => Response>();
/** user/info: the UnionID WeChat knows for an OpenID. */
const unionIds = new Map<string, string>();
let uploaded = 0;
const wechatApi = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const sent: Sent = { path: url.pathname, query: Object.fromEntries(url.searchParams) };
    if ((req.headers.get("content-type") ?? "").startsWith("multipart/")) {
      const file = (await req.formData()).get("media") as File;
      sent.file = { name: file.name, bytes: [...new Uint8Array(await file.arrayBuffer())] };
    } else if (req.method === "POST") sent.body = await req.json();
    recorded.push(sent);
    switch (url.pathname) {
      case "/cgi-bin/token":
      case "/cgi-bin/stable_token":
        return Response.json({ access_token: "media-token", expires_in: 7200 });
      case "/cgi-bin/media/get":
        return (
          mediaFiles.get(sent.query.media_id!)?.() ??
          new Response(JSON.stringify({ errcode: 40007, errmsg: "invalid media_id hint: [x]" }), {
            headers: { "content-type": "text/plain" },
          })
        );
      case "/cgi-bin/media/upload":
        return Response.json({ type: "image", media_id: `uploaded-${++uploaded}`, created_at: 1 });
      case "/cgi-bin/user/info": {
        if (sent.query.openid!.startsWith("oDenied"))
          return Response.json({ errcode: 48001, errmsg: "api unauthorized" });
        const unionid = unionIds.get(sent.query.openid!);
        return Response.json({ subscribe: 1, openid: sent.query.openid, ...(unionid ? { unionid } : {}) });
      }
      default:
        return Response.json({ errcode: 0, errmsg: "ok" });
    }
  },
});

let s: TestServer;
let admin: string;
const inboxes: Record<string, { id: string; webhook: string }> = {};

beforeAll(async () => {
  s = await startTestServer({ env: { WECHAT_API_BASE: `http://127.0.0.1:${wechatApi.port}` } });
  admin = await s.login(s.admin.email, s.admin.password);
  for (const [appId, name] of [
    [APP_A, "公众号 A"],
    [APP_B, "公众号 B"],
  ] as const) {
    const created = await api(`${s.url}/api/v1/inboxes`, {
      token: admin,
      body: { name, channel: "wechat", token: TOKEN, appId, appSecret: "secret", encodingAesKey: AES_KEY },
    });
    expect(created.status).toBe(201);
    inboxes[appId] = { id: created.body.id, webhook: `${s.url}/webhooks/wechat/${created.body.id}` };
  }
});
afterAll(async () => {
  await s.stop();
  wechatApi.stop(true);
});

const now = () => String(Math.floor(Date.now() / 1000));
const openIdNew = () => `oMedia${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
const msgIdNew = () => String(Math.floor(Math.random() * 1e15) + 1e18);
const xml = (openId: string, fields: string, createTime = now()) =>
  `<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[${openId}]]></FromUserName>` +
  `<CreateTime>${createTime}</CreateTime>${fields}</xml>`;
const imageXml = (openId: string, mediaId: string, msgId = msgIdNew()) =>
  xml(
    openId,
    `<MsgType>image</MsgType><PicUrl>http://x.test/p.jpg</PicUrl><MediaId>${mediaId}</MediaId><MsgId>${msgId}</MsgId>`,
  );

/** A plaintext push, signed as WeChat signs it. */
async function push(body: string, appId = APP_A) {
  const timestamp = now();
  const nonce = String(Math.floor(Math.random() * 1e10));
  const signature = createHash("sha1").update([TOKEN, timestamp, nonce].sort().join("")).digest("hex");
  const res = await fetch(`${inboxes[appId]!.webhook}?signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`, {
    method: "POST",
    headers: { "content-type": "text/xml" },
    body,
  });
  expect(res.status).toBe(200);
  expect(await res.text()).toBe("success");
}

async function conversationsOf(openId: string) {
  return (await api(`${s.url}/api/v1/conversations?channel=wechat&q=${openId}`, { token: admin })).body.items as any[];
}
async function incoming(openId: string) {
  const [conversation] = await until(
    () => conversationsOf(openId),
    (l) => l.length > 0,
  );
  const items = (await api(`${s.url}/api/v1/conversations/${conversation.id}/timeline`, { token: admin })).body.items;
  return { conversation, item: (items as any[]).find((i) => i.direction === "in") };
}
async function itemById(conversationId: string, id: string) {
  const items = (await api(`${s.url}/api/v1/conversations/${conversationId}/timeline`, { token: admin })).body.items;
  return (items as any[]).find((i) => i.id === id);
}
const mediaGets = (mediaId: string) =>
  recorded.filter((r) => r.path === "/cgi-bin/media/get" && r.query.media_id === mediaId);
async function contactByOpenId(openId: string) {
  const found = (await api(`${s.url}/api/v1/contacts?q=${openId}`, { token: admin })).body.items as any[];
  return found[0] ? (await api(`${s.url}/api/v1/contacts/${found[0].id}`, { token: admin })).body : undefined;
}

describe("inbound media", () => {
  it("downloads an image after answering success, attaches the stand-in's bytes and tells open inboxes", async () => {
    const socket = await openSocket(`${wsUrl(s.url)}/api/v1/realtime?token=${admin}`);
    const openId = openIdNew();
    mediaFiles.set("img-1", () => new Response(JPEG, { headers: { "content-type": "image/jpeg" } }));
    await push(imageXml(openId, "img-1"));
    const { item } = await incoming(openId);
    expect(item.text).toBe("[图片]");

    const updated = await socket.waitFor((f) => f.type === "item.updated" && f.item.id === item.id);
    socket.close();
    expect(updated.item.data.media).toMatchObject({ state: "stored", attempts: 1 });
    expect(updated.item.attachments).toHaveLength(1);
    expect(updated.item.attachments[0]).toMatchObject({ contentType: "image/jpeg", size: JPEG.length });
    const file = await fetch(`${s.url}${updated.item.attachments[0].url}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(file.headers.get("content-type")).toBe("image/jpeg");
    expect([...new Uint8Array(await file.arrayBuffer())]).toEqual([...JPEG]);
    expect(mediaGets("img-1")).toHaveLength(1);
    expect(mediaGets("img-1")[0]!.query.access_token).toBe("media-token");
    // Done: nothing is left for housekeeping.
    expect(
      await s.rt.core.db
        .select()
        .from(leases)
        .where(eq(leases.name, `wechat-media:${item.id}`)),
    ).toEqual([]);
  });

  it("records WeChat's refusal of media/get on the item, with its code and text", async () => {
    const openId = openIdNew();
    await push(imageXml(openId, "no-such-media"));
    const { conversation, item } = await incoming(openId);
    const failed = await until(
      () => itemById(conversation.id, item.id),
      (i) => i.data.media?.state !== "pending",
    );
    expect(failed.data.media).toMatchObject({
      state: "failed",
      errcode: 40007,
      errmsg: "invalid media_id hint: [x]",
      reason: "WeChat 40007: invalid media_id hint: [x]",
    });
    expect(failed.attachments).toEqual([]);
  });

  it("makes a voice note playable: a WAV first, the AMR original beside it, WeChat's recognition as the text", async () => {
    const openId = openIdNew();
    mediaFiles.set("voice-1", () => new Response(AMR, { headers: { "content-type": "audio/amr" } }));
    await push(
      xml(
        openId,
        `<MsgType>voice</MsgType><MediaId>voice-1</MediaId><Format>amr</Format>` +
          `<Recognition><![CDATA[我要退款]]></Recognition><MsgId>${msgIdNew()}</MsgId>`,
      ),
    );
    const { conversation, item } = await incoming(openId);
    expect(item.text).toBe("我要退款");
    const stored = await until(
      () => itemById(conversation.id, item.id),
      (i) => i.data.media?.state === "stored",
    );
    expect(stored.attachments.map((a: any) => a.contentType)).toEqual(["audio/wav", "application/octet-stream"]);
    expect(stored.attachments[1].name).toEndWith(".amr");
    const wav = await fetch(`${s.url}${stored.attachments[0].url}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(wav.headers.get("content-type")).toBe("audio/wav");
    const bytes = new Uint8Array(await wav.arrayBuffer());
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("RIFF");
    expect(new DataView(bytes.buffer).getUint32(24, true)).toBe(8000);
  });

  it("is fetched once by housekeeping when the node died after storing the message", async () => {
    const openId = openIdNew();
    mediaFiles.set("img-orphan", () => new Response(JPEG, { headers: { "content-type": "image/jpeg" } }));
    // What the gateway commits before answering, without the follow-up a dead node never ran.
    const parsed = toInbound(parsePushXml(imageXml(openId, "img-orphan")), { inboxId: inboxes[APP_A]!.id });
    if (parsed.kind !== "message") throw new Error("not a message");
    const stored = await ingestInbound(s.rt.core, s.workspaceId, withPendingMedia(parsed.inbound), {
      stored: (tx, m) => queueMediaDownload(tx, s.workspaceId, m.itemId),
    });
    const name = `wechat-media:${stored.item.id}`;

    // Within its first minute the download belongs to the node that stored it.
    await retryMediaDownloads(s.rt);
    expect(mediaGets("img-orphan")).toHaveLength(0);

    // The node had written a file and died before putting it on the item: the next attempt removes it.
    const stray = await s.rt.files.saveStream(
      s.rt.core.db,
      s.workspaceId,
      {},
      { name: "half.jpg", contentType: "image/jpeg" },
      (async function* () {
        yield JPEG;
      })(),
      1000,
    );
    const pending = { state: "pending", attempts: 1, files: [stray.id] };
    await s.rt.core.db
      .update(timelineItems)
      .set({ data: sql`jsonb_set(${timelineItems.data}, '{media}', ${JSON.stringify(pending)}::jsonb)` })
      .where(eq(timelineItems.id, stored.item.id));
    await s.rt.core.db
      .update(leases)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(leases.name, name));
    // Two nodes' housekeeping at once: one of them takes it.
    await Promise.all([retryMediaDownloads(s.rt), retryMediaDownloads(s.rt)]);
    expect(mediaGets("img-orphan")).toHaveLength(1);
    const files = await s.rt.core.db.select().from(attachments).where(eq(attachments.timelineItemId, stored.item.id));
    expect(files.map((f) => f.contentType)).toEqual(["image/jpeg"]);
    expect(await s.rt.core.db.select().from(attachments).where(eq(attachments.id, stray.id))).toEqual([]);
    const [item] = await s.rt.core.db.select().from(timelineItems).where(eq(timelineItems.id, stored.item.id));
    expect(item!.data.media).toMatchObject({ state: "stored" });
    expect(await s.rt.core.db.select().from(leases).where(like(leases.name, name))).toEqual([]);
    await retryMediaDownloads(s.rt);
    expect(mediaGets("img-orphan")).toHaveLength(1);
  });
});

describe("image replies", () => {
  it("upload the agent's image with media/upload, then send the text and an image message with its media_id", async () => {
    const openId = openIdNew();
    await push(xml(openId, `<MsgType>text</MsgType><Content>发张图</Content><MsgId>${msgIdNew()}</MsgId>`));
    const { conversation } = await incoming(openId);
    const form = new FormData();
    form.append("file", new Blob([JPEG], { type: "image/jpeg" }), "收据.jpg");
    const upload = await fetch(`${s.url}/api/v1/attachments`, {
      method: "POST",
      headers: { authorization: `Bearer ${admin}` },
      body: form,
    });
    expect(upload.status).toBe(201);
    const { id } = (await upload.json()) as { id: string };
    const reply = await api(`${s.url}/api/v1/conversations/${conversation.id}/messages`, {
      token: admin,
      body: { text: "这是您的收据", attachments: [id] },
    });
    expect(reply.status).toBe(201);
    const sends = await until(
      async () => recorded.filter((r) => r.path === "/cgi-bin/message/custom/send" && r.body?.touser === openId),
      (l) => l.length >= 2,
    );
    const upl = recorded.find((r) => r.path === "/cgi-bin/media/upload" && r.file?.name === "收据.jpg");
    expect(upl?.query).toMatchObject({ type: "image", access_token: "media-token" });
    expect(upl?.file?.bytes).toEqual([...JPEG]);
    const mediaId = `uploaded-${upl ? recorded.filter((r) => r.path === "/cgi-bin/media/upload").indexOf(upl) + 1 : 0}`;
    expect(sends.map((r) => r.body)).toEqual([
      { touser: openId, msgtype: "text", text: { content: "这是您的收据" } },
      { touser: openId, msgtype: "image", image: { media_id: mediaId } },
    ]);
  });
});

describe("followers", () => {
  const event = (openId: string, name: string, at: string, key = "") =>
    xml(openId, `<MsgType>event</MsgType><Event>${name}</Event><EventKey>${key}</EventKey>`, at);

  it("subscribe and unsubscribe mark the contact, idempotent on retries and in order, opening no conversation", async () => {
    const openId = openIdNew();
    const t0 = Number(now()) - 100;
    await push(event(openId, "subscribe", String(t0), "qrscene_spring-promo"));
    await push(event(openId, "subscribe", String(t0), "qrscene_spring-promo"));
    let contact = await contactByOpenId(openId);
    expect(contact.attributes[`wechat:${APP_A}`]).toMatchObject({
      following: true,
      since: new Date(t0 * 1000).toISOString(),
      scene: "spring-promo",
    });
    expect(await conversationsOf(openId)).toEqual([]);

    await push(event(openId, "unsubscribe", String(t0 + 50)));
    // A retry of the older subscribe arriving late changes nothing.
    await push(event(openId, "subscribe", String(t0), "qrscene_spring-promo"));
    contact = await contactByOpenId(openId);
    expect(contact.attributes[`wechat:${APP_A}`]).toMatchObject({
      following: false,
      unfollowedAt: new Date((t0 + 50) * 1000).toISOString(),
    });
    expect(contact.identities.map((i: any) => i.value)).toContain(openId);
  });
});

describe("UnionID", () => {
  it("is looked up once per contact; WeChat's refusal (48001) is remembered and never fails the push", async () => {
    const openId = `oDenied${crypto.randomUUID().slice(0, 8)}`;
    await push(xml(openId, `<MsgType>text</MsgType><Content>你好</Content><MsgId>${msgIdNew()}</MsgId>`));
    const contact = await until(
      () => contactByOpenId(openId),
      (c) => !!c?.attributes[`wechat:${APP_A}`]?.unionIdCheckedAt,
    );
    expect(contact.attributes[`wechat:${APP_A}`].unionIdCheckedAt).toBeString();
    expect(contact.identities.map((i: any) => i.kind)).toEqual(["wechat"]);
    // What the next message's follow-up does, awaited here: the remembered lookup asks WeChat nothing.
    const [inbox] = await s.rt.core.db.select().from(inboxTable).where(eq(inboxTable.id, inboxes[APP_A]!.id));
    await lookUpUnionId(s.rt, inbox!, contact.id, openId);
    expect(recorded.filter((r) => r.path === "/cgi-bin/user/info" && r.query.openid === openId)).toHaveLength(1);
  });

  it("joins two Official Accounts' OpenIDs of one person into one contact, and replies go to each account's OpenID", async () => {
    const openA = openIdNew();
    const openB = openIdNew();
    const unionId = `uUnion${crypto.randomUUID().slice(0, 8)}`;
    unionIds.set(openA, unionId);
    unionIds.set(openB, unionId);

    await push(xml(openA, `<MsgType>text</MsgType><Content>A 号的问题</Content><MsgId>${msgIdNew()}</MsgId>`), APP_A);
    const first = await until(
      () => contactByOpenId(openA),
      (c) => c?.identities.some((i: any) => i.kind === "wechat_unionid"),
    );
    expect(first.identities.find((i: any) => i.kind === "wechat_unionid").value).toBe(unionId);
    // Looked up once: the next message asks WeChat nothing.
    await push(xml(openA, `<MsgType>text</MsgType><Content>再问一次</Content><MsgId>${msgIdNew()}</MsgId>`), APP_A);
    const { conversation: convA } = await incoming(openA);

    await push(xml(openB, `<MsgType>text</MsgType><Content>B 号的问题</Content><MsgId>${msgIdNew()}</MsgId>`), APP_B);
    const merged = await until(
      () => contactByOpenId(openB),
      (c) => c?.id === first.id,
    );
    expect(merged.id).toBe(first.id);
    expect(merged.identities.map((i: any) => i.value).sort()).toEqual([openA, openB, unionId].sort());
    expect(recorded.filter((r) => r.path === "/cgi-bin/user/info" && r.query.openid === openA)).toHaveLength(1);

    // Both conversations are the person's now. A reply where account B's customer wrote goes back through
    // account B to B's OpenID, although the contact's first OpenID is A's.
    const listed = await conversationsOf(openB);
    expect(listed.map((c) => c.id)).toContain(convA.id);
    expect(new Set(listed.map((c) => c.contact.id))).toEqual(new Set([first.id]));
    await push(xml(openB, `<MsgType>text</MsgType><Content>还在吗</Content><MsgId>${msgIdNew()}</MsgId>`), APP_B);
    const convB = listed.find((c) => c.id !== convA.id)!;
    await until(
      async () =>
        (await api(`${s.url}/api/v1/conversations/${convB.id}/timeline`, { token: admin })).body.items as any[],
      (items) => items.some((i) => i.text === "还在吗"),
    );
    await api(`${s.url}/api/v1/conversations/${convB.id}/messages`, { token: admin, body: { text: "在的" } });
    const sent = await until(
      async () => recorded.find((r) => r.path === "/cgi-bin/message/custom/send" && r.body?.text?.content === "在的"),
      (r) => r !== undefined,
    );
    expect(sent?.body.touser).toBe(openB);
  });
});
