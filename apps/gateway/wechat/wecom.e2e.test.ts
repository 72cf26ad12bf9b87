import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import * as wecom from "@wecom/crypto";
import { and, eq, sql } from "drizzle-orm";
import { rowsOf } from "../../../db/connect.ts";
import { timelineItems } from "../../../db/schema/index.ts";
import { api, startTestServer, type TestServer } from "../../../test/server.ts";
import { until } from "../../../test/poll.ts";
import { startWechatListeners } from "../../server/listeners.ts";

const CORP_ID = "ww00112233445566aa";
const OPEN_KFID = "wkTestAccount0123456789";
const SECRET = "test-kf-secret";
const TOKEN = "wecomCallbackToken";
const AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/**
 * WeCom's customer-service API, recorded. sync_msg answers from `pages` by the cursor it is asked for
 * (an unknown cursor: an empty last page); `failAt` makes the page after that cursor fail, as a server
 * dying mid-pull would leave it.
 */
type Call = { path: string; query: Record<string, string>; body: any };
const calls: Call[] = [];
const pages = new Map<string, { next_cursor: string; has_more: 0 | 1; msg_list: unknown[] }>();
let failAt: string | null = null;
const wecomApi = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    const body = req.method === "POST" ? await req.json() : undefined;
    calls.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), body });
    if (url.pathname === "/cgi-bin/gettoken")
      return Response.json({ errcode: 0, errmsg: "ok", access_token: "stand-in-wecom-token", expires_in: 7200 });
    if (url.pathname === "/cgi-bin/kf/sync_msg") {
      const cursor = body.cursor ?? "";
      if (failAt !== null && cursor === failAt) return Response.json({ errcode: -1, errmsg: "system busy" });
      return Response.json({
        errcode: 0,
        errmsg: "ok",
        ...(pages.get(cursor) ?? { next_cursor: cursor, has_more: 0, msg_list: [] }),
      });
    }
    if (url.pathname === "/cgi-bin/kf/send_msg") return Response.json({ errcode: 0, errmsg: "ok", msgid: body.msgid });
    return Response.json({ errcode: 0, errmsg: "ok" });
  },
});
const apiBase = `http://127.0.0.1:${wecomApi.port}`;

let s: TestServer;
let admin: string;
let inboxId: string;
/** The inbox's workspace admin (the first server's); a restarted server serves the same workspace. */
let owner: TestServer["admin"];
const servers: TestServer[] = [];

async function server() {
  const started = await startTestServer({ env: { WECOM_API_BASE: apiBase } });
  servers.push(started);
  return started;
}

beforeAll(async () => {
  s = await server();
  owner = s.admin;
  admin = await s.login(owner.email, owner.password);
  const created = await api(`${s.url}/api/v1/inboxes`, {
    token: admin,
    body: {
      name: "微信客服",
      channel: "wechat",
      kind: "wecom",
      corpId: CORP_ID,
      secret: SECRET,
      openKfid: OPEN_KFID,
      token: TOKEN,
      encodingAesKey: AES_KEY,
    },
  });
  expect(created.status).toBe(201);
  inboxId = created.body.id;
});
afterAll(async () => {
  for (const started of servers) await started.stop().catch(() => {});
  wecomApi.stop(true);
});

const now = () => String(Math.floor(Date.now() / 1000));
const freshNonce = () => String(Math.floor(Math.random() * 1e10));
const webhookOf = (t: TestServer) => `${t.url}/webhooks/wechat/${inboxId}`;

/** A kf_msg_or_event callback, encrypted for the corp and signed with @wecom/crypto. */
function callback(to: TestServer, syncToken: string, options: { token?: string; nonce?: string } = {}) {
  const xml =
    `<xml><ToUserName><![CDATA[${CORP_ID}]]></ToUserName><CreateTime>${now()}</CreateTime>` +
    `<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>` +
    `<Token><![CDATA[${syncToken}]]></Token><OpenKfId><![CDATA[${OPEN_KFID}]]></OpenKfId></xml>`;
  const encrypt = wecom.encrypt(AES_KEY, xml, CORP_ID);
  const timestamp = now();
  const nonce = options.nonce ?? freshNonce();
  const signature = wecom.getSignature(options.token ?? TOKEN, timestamp, nonce, encrypt);
  return fetch(`${webhookOf(to)}?msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`, {
    method: "POST",
    headers: { "content-type": "text/xml" },
    body:
      `<xml><ToUserName><![CDATA[${CORP_ID}]]></ToUserName><AgentID><![CDATA[]]></AgentID>` +
      `<Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
  });
}

const customer = `wmTest${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
const text = (msgid: string, content: string, at = Number(now())) => ({
  msgid,
  open_kfid: OPEN_KFID,
  external_userid: customer,
  send_time: at,
  origin: 3,
  msgtype: "text",
  text: { content },
});

async function storedTexts(t: TestServer) {
  const rows = await t.rt.core.db
    .select({ externalId: timelineItems.externalId, text: timelineItems.text })
    .from(timelineItems)
    .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.direction, "in")));
  return rows.map((r) => r.externalId!).sort();
}
async function cursorOf(t: TestServer) {
  const rows = rowsOf<{ cursor: string | null }>(
    await t.rt.core.db.execute(sql`SELECT cursor FROM inbox_states WHERE inbox_id = ${inboxId}`),
  );
  return rows[0]?.cursor ?? null;
}
const syncCalls = () => calls.filter((c) => c.path === "/cgi-bin/kf/sync_msg");

describe("a WeCom customer-service inbox", () => {
  it("answers WeCom's URL check with the decrypted echostr, and a forged one with 403", async () => {
    const echostr = wecom.encrypt(AES_KEY, "8217389127391", CORP_ID);
    const timestamp = now();
    const nonce = freshNonce();
    const good = await fetch(
      `${webhookOf(s)}?msg_signature=${wecom.getSignature(TOKEN, timestamp, nonce, echostr)}&timestamp=${timestamp}` +
        `&nonce=${nonce}&echostr=${encodeURIComponent(echostr)}`,
    );
    expect(good.status).toBe(200);
    expect(await good.text()).toBe("8217389127391");
    const forged = await fetch(
      `${webhookOf(s)}?msg_signature=${wecom.getSignature("forged", timestamp, nonce, echostr)}` +
        `&timestamp=${timestamp}` +
        `&nonce=${nonce}&echostr=${encodeURIComponent(echostr)}`,
    );
    expect(forged.status).toBe(403);
    expect((await forged.json()).error.code).toBe("forbidden");
  });

  it("refuses a forged callback with 403 and pulls nothing", async () => {
    const before = syncCalls().length;
    const forged = await callback(s, "tokenX", { token: "not-the-token" });
    expect(forged.status).toBe(403);
    expect((await forged.json()).error).toMatchObject({ code: "forbidden", field: "signature" });
    await Bun.sleep(200); // nothing may happen; give a wrongly started pull the time to show
    expect(syncCalls().length).toBe(before);
    expect(await storedTexts(s)).toEqual([]);
  });

  it("pulls page after page with the callback's token, and keeps the cursor across a restart", async () => {
    pages.set("", { next_cursor: "c1", has_more: 1, msg_list: [text("m1", "你好"), text("m2", "我想查询订单")] });
    pages.set("c1", {
      next_cursor: "c2",
      has_more: 1,
      msg_list: [text("m2", "我想查询订单"), text("m3", "订单号 123")],
    });
    pages.set("c2", { next_cursor: "c3", has_more: 0, msg_list: [text("m4", "谢谢")] });
    // The first server stores page one, saves its cursor, and dies before the next page.
    failAt = "c1";
    const answered = await callback(s, "syncToken1");
    expect(answered.status).toBe(200);
    expect(await answered.text()).toBe("success");
    expect(
      await until(
        () => cursorOf(s),
        (c) => c === "c1",
      ),
    ).toBe("c1");
    expect(await storedTexts(s)).toEqual(["m1", "m2"]);
    expect(syncCalls()[0]!.body).toEqual({ token: "syncToken1", limit: 1000, voice_format: 0, open_kfid: OPEN_KFID });
    expect(syncCalls()[0]!.query.access_token).toBe("stand-in-wecom-token");
    await until(async () => syncCalls().some((c) => c.body.cursor === "c1"), Boolean);
    await s.stop();

    // A new runtime on the same database goes on from the saved cursor: nothing twice, nothing missed.
    failAt = null;
    const restarted = await server();
    const pulledBefore = syncCalls().length;
    expect((await callback(restarted, "syncToken2")).status).toBe(200);
    expect(
      await until(
        () => storedTexts(restarted),
        (ids) => ids.length === 4,
      ),
    ).toEqual(["m1", "m2", "m3", "m4"]);
    const after = syncCalls().slice(pulledBefore);
    expect(after[0]!.body).toMatchObject({ cursor: "c1", token: "syncToken2" });
    expect(after.map((c) => c.body.cursor)).toEqual(["c1", "c2"]);
    expect(
      await until(
        () => cursorOf(restarted),
        (c) => c === "c3",
      ),
    ).toBe("c3");
    s = restarted;
    admin = await s.login(owner.email, owner.password);
  });

  it("sends an agent's reply with kf/send_msg, and tells WeChat when the chat is taken and resolved", async () => {
    const listeners = startWechatListeners(s.rt);
    try {
      const list = await api(`${s.url}/api/v1/conversations?channel=wechat&q=${customer}`, { token: admin });
      const conversation = (list.body.items as any[])[0];
      expect(conversation).toBeDefined();
      const timeline = await api(`${s.url}/api/v1/conversations/${conversation.id}/timeline`, { token: admin });
      expect((timeline.body.items as any[]).filter((i) => i.type === "message").map((i) => i.text)).toEqual([
        "你好",
        "我想查询订单",
        "订单号 123",
        "谢谢",
      ]);

      const assigned = await api(`${s.url}/api/v1/conversations/${conversation.id}/assign`, {
        token: admin,
        body: { assigneeId: owner.id },
      });
      expect(assigned.status).toBe(200);
      const trans = () => calls.filter((c) => c.path === "/cgi-bin/kf/service_state/trans").map((c) => c.body);
      expect(
        await until(
          async () => trans(),
          (t) => t.length >= 1,
        ),
      ).toEqual([{ open_kfid: OPEN_KFID, external_userid: customer, service_state: 1 }]);

      const replied = await api(`${s.url}/api/v1/conversations/${conversation.id}/messages`, {
        token: admin,
        body: { text: "您好，订单已发货" },
      });
      expect(replied.status).toBeLessThan(300);
      const sent = await until(
        async () => calls.filter((c) => c.path === "/cgi-bin/kf/send_msg"),
        (c) => c.length >= 1,
      );
      expect(sent).toHaveLength(1);
      expect(sent[0]!.body).toMatchObject({
        touser: customer,
        open_kfid: OPEN_KFID,
        msgtype: "text",
        text: { content: "您好，订单已发货" },
      });
      expect(sent[0]!.body.msgid).toMatch(/^[0-9a-zA-Z_-]{1,32}$/);

      // WeCom accepted the reply, then could not deliver it: the agent sees it failed, and why.
      pages.set("c3", {
        next_cursor: "c4",
        has_more: 0,
        msg_list: [
          {
            msgid: "evt1",
            send_time: Number(now()),
            origin: 4,
            msgtype: "event",
            event: {
              event_type: "msg_send_fail",
              external_userid: customer,
              fail_msgid: sent[0]!.body.msgid,
              fail_type: 4,
            },
          },
        ],
      });
      expect((await callback(s, "syncToken3")).status).toBe(200);
      const failed = await until(
        async () =>
          (await api(`${s.url}/api/v1/conversations/${conversation.id}/timeline`, { token: admin })).body.items.find(
            (i: any) => i.text === "您好，订单已发货",
          ),
        (i: any) => i?.status === "failed",
      );
      expect(failed).toMatchObject({ status: "failed" });
      expect(JSON.stringify(failed)).toContain("48 hours");

      const resolved = await api(`${s.url}/api/v1/conversations/${conversation.id}/status`, {
        token: admin,
        body: { status: "resolved" },
      });
      expect(resolved.status).toBe(200);
      expect(
        (
          await until(
            async () => trans(),
            (t) => t.length >= 2,
          )
        )[1],
      ).toEqual({
        open_kfid: OPEN_KFID,
        external_userid: customer,
        service_state: 4,
      });
    } finally {
      await listeners.stop();
    }
  });

  it("refuses a replayed callback (a nonce already used) with 403", async () => {
    const nonce = freshNonce();
    expect((await callback(s, "syncToken4", { nonce })).status).toBe(200);
    const replayed = await callback(s, "syncToken4", { nonce });
    expect(replayed.status).toBe(403);
    expect((await replayed.json()).error.field).toBe("nonce");
  });
});
