import { describe, expect, it } from "bun:test";
import { PermanentSendError, type OutboundMessage } from "../../conversations/channel.ts";
import {
  sendWecom,
  SERVICE_STATE,
  syncMsg,
  syncMsgBody,
  transServiceState,
  WecomSyncError,
  wecomMsgIdOf,
  wecomReplyPrefixOf,
  type WecomTokenSource,
} from "./wecom-api.ts";

type Call = { path: string; query: Record<string, string>; body: any };

/** A recording stand-in of WeCom's API, answering each path from a queue (then `{errcode: 0}`). */
function standIn(answers: Record<string, unknown[]> = {}) {
  const calls: Call[] = [];
  const doFetch = (async (input: URL | RequestInfo, init?: RequestInit) => {
    const url = new URL(String(input));
    const body =
      init?.body instanceof FormData
        ? { file: ((f) => ({ name: f.name, type: f.type }))(init.body.get("media") as File) }
        : JSON.parse(String(init?.body));
    calls.push({ path: url.pathname, query: Object.fromEntries(url.searchParams), body });
    const next = answers[url.pathname]?.shift() ?? { errcode: 0, errmsg: "ok" };
    return Response.json(next);
  }) as typeof fetch;
  return { calls, doFetch };
}

/** Tokens t1, t2… : each invalidation makes the next call fetch a new one. */
function tokens(): WecomTokenSource & { fetched: number } {
  let current: string | null = null;
  const source = {
    fetched: 0,
    async tokenFor() {
      if (!current) current = `t${++source.fetched}`;
      return current;
    },
    invalidate(_app: unknown, stale?: string) {
      if (!stale || stale === current) current = null;
    },
  };
  return source;
}

const inbox = {
  id: "3b2f1e0d-1111-4222-8333-944455556666",
  channel: "wechat",
  settings: { kind: "wecom", corpId: "ww0123456789abcdef", openKfid: "wkTEST0123456789" },
  credentials: { secret: "kf-secret", token: "t", encodingAesKey: "k" },
};
const reply = (over: Partial<OutboundMessage> = {}): OutboundMessage => ({
  idempotencyKey: "7d6f4a2e-0b1c-4d5e-8f90-123456789abc",
  inbox,
  conversationId: "c",
  to: [{ kind: "wecom", value: "wmCustomer1" }],
  text: "您好，已为您查询",
  html: null,
  attachments: [],
  ...over,
});
const app = { corpId: "ww0123456789abcdef", secret: "kf-secret" };

describe("sync_msg", () => {
  it("sends the cursor, the callback's token, the limit and the account; reads has_more and next_cursor", async () => {
    const { calls, doFetch } = standIn({
      "/cgi-bin/kf/sync_msg": [{ errcode: 0, next_cursor: "c2", has_more: 1, msg_list: [{ msgid: "m1" }] }],
    });
    const page = await syncMsg(
      app,
      { cursor: "c1", token: "cbToken", openKfid: "wk1" },
      { apiBase: "http://w", fetch: doFetch, tokens: tokens() },
    );
    expect(page).toEqual({ nextCursor: "c2", hasMore: true, messages: [{ msgid: "m1" }] });
    expect(calls[0]).toEqual({
      path: "/cgi-bin/kf/sync_msg",
      query: { access_token: "t1" },
      body: { cursor: "c1", token: "cbToken", limit: 1000, voice_format: 0, open_kfid: "wk1" },
    });
  });

  it("leaves out a missing cursor and token", () => {
    expect(syncMsgBody({ openKfid: "wk1", limit: 5000 })).toEqual({ limit: 1000, voice_format: 0, open_kfid: "wk1" });
  });

  it("fetches a new access token once when WeCom refuses it, then pulls", async () => {
    const { calls, doFetch } = standIn({
      "/cgi-bin/kf/sync_msg": [{ errcode: 42001, errmsg: "access_token expired" }],
    });
    const t = tokens();
    const page = await syncMsg(app, { openKfid: "wk1" }, { apiBase: "http://w", fetch: doFetch, tokens: t });
    expect(page.hasMore).toBe(false);
    expect(calls.map((c) => c.query.access_token)).toEqual(["t1", "t2"]);
  });

  it("reports WeCom's error with its code", async () => {
    const { doFetch } = standIn({ "/cgi-bin/kf/sync_msg": [{ errcode: 95007, errmsg: "invalid msg token" }] });
    const pulled = syncMsg(
      app,
      { openKfid: "wk1", token: "old" },
      { apiBase: "http://w", fetch: doFetch, tokens: tokens() },
    );
    expect(pulled).rejects.toBeInstanceOf(WecomSyncError);
    expect(pulled).rejects.toMatchObject({ errcode: 95007 });
  });
});

describe("send_msg", () => {
  it("sends text to the external_userid through the account with the outbox key as msgid", async () => {
    const { calls, doFetch } = standIn();
    const sent = await sendWecom(reply(), { apiBase: "http://w", fetch: doFetch, tokens: tokens() });
    expect(calls[0]!.body).toEqual({
      touser: "wmCustomer1",
      open_kfid: "wkTEST0123456789",
      msgid: "7d6f4a2e0b1c4d5e8f90123456789abc",
      msgtype: "text",
      text: { content: "您好，已为您查询" },
    });
    expect(sent).toEqual({ externalId: "7d6f4a2e0b1c4d5e8f90123456789abc", status: "sent" });
  });

  it("maps any idempotency key into WeCom's msgid alphabet, at most 32 characters, the same each time", () => {
    for (const key of ["a:b/c", "x".repeat(100), "订单-1"]) {
      const id = wecomMsgIdOf(key);
      expect(id).toMatch(/^[0-9a-zA-Z_-]{1,32}$/);
      expect(wecomMsgIdOf(key)).toBe(id);
    }
  });

  it("refreshes a refused token once, then sends", async () => {
    const { calls, doFetch } = standIn({
      "/cgi-bin/kf/send_msg": [{ errcode: 40014, errmsg: "invalid access_token" }],
    });
    await sendWecom(reply(), { apiBase: "http://w", fetch: doFetch, tokens: tokens() });
    expect(calls.map((c) => c.query.access_token)).toEqual(["t1", "t2"]);
  });

  it("fails for good with WeCom's code, its text and a sentence for the agent", async () => {
    for (const [errcode, meaning] of [
      [95018, /does not allow replies/],
      [95001, /at most 5 replies/],
      [95002, /48 hours/],
      [95013, /session has ended/],
    ] as const) {
      const { doFetch } = standIn({ "/cgi-bin/kf/send_msg": [{ errcode, errmsg: "refused" }] });
      const sent = sendWecom(reply(), { apiBase: "http://w", fetch: doFetch, tokens: tokens() });
      expect(sent).rejects.toBeInstanceOf(PermanentSendError);
      expect(sent).rejects.toThrow(new RegExp(`^WeCom ${errcode}: refused\\. `));
      await expect(sent).rejects.toThrow(meaning);
    }
  });

  it("leaves other errors to the outbox's retries", async () => {
    const { doFetch } = standIn({ "/cgi-bin/kf/send_msg": [{ errcode: -1, errmsg: "system busy" }] });
    const sent = sendWecom(reply(), { apiBase: "http://w", fetch: doFetch, tokens: tokens() });
    await expect(sent).rejects.toThrow("WeCom -1: system busy");
    await expect(sent).rejects.not.toBeInstanceOf(PermanentSendError);
  });

  it("refuses a reply without a WeCom customer, without text, or over 2048 bytes", async () => {
    const o = { apiBase: "http://w", fetch: standIn().doFetch, tokens: tokens() };
    await expect(sendWecom(reply({ to: [{ kind: "email", value: "a@b.c" }] }), o)).rejects.toBeInstanceOf(
      PermanentSendError,
    );
    await expect(sendWecom(reply({ text: "  " }), o)).rejects.toBeInstanceOf(PermanentSendError);
    await expect(sendWecom(reply({ text: "字".repeat(700) }), o)).rejects.toThrow(/2048 bytes/);
  });
});

describe("send_msg with files", () => {
  const file = (name: string, contentType: string, id = name) => ({ id, name, contentType, size: 3, url: `/f/${id}` });
  const withFiles = reply({
    attachments: [file("收据.png", "image/png"), file("说明.pdf", "application/pdf"), file("v.mp4", "video/mp4")],
  });
  const readFile = async () => new Uint8Array([1, 2, 3]);

  it("uploads every file first, then sends the text and one message per file, each with its own msgid", async () => {
    const { calls, doFetch } = standIn({
      "/cgi-bin/media/upload": [
        { errcode: 0, type: "image", media_id: "M1" },
        { errcode: 0, type: "file", media_id: "M2" },
        { errcode: 0, type: "video", media_id: "M3" },
      ],
    });
    const sent = await sendWecom(withFiles, { apiBase: "http://w", fetch: doFetch, tokens: tokens(), readFile });
    expect(calls.map((c) => [c.path, c.query.type])).toEqual([
      ["/cgi-bin/media/upload", "image"],
      ["/cgi-bin/media/upload", "file"],
      ["/cgi-bin/media/upload", "video"],
      ["/cgi-bin/kf/send_msg", undefined],
      ["/cgi-bin/kf/send_msg", undefined],
      ["/cgi-bin/kf/send_msg", undefined],
      ["/cgi-bin/kf/send_msg", undefined],
    ]);
    expect(calls[0]!.body.file).toEqual({ name: "收据.png", type: "image/png" });
    const msgid = "7d6f4a2e0b1c4d5e8f90123456789abc";
    const to = { touser: "wmCustomer1", open_kfid: "wkTEST0123456789" };
    expect(calls.slice(3).map((c) => c.body)).toEqual([
      { ...to, msgid, msgtype: "text", text: { content: "您好，已为您查询" } },
      { ...to, msgid: `${msgid.slice(0, 28)}_p1`, msgtype: "image", image: { media_id: "M1" } },
      { ...to, msgid: `${msgid.slice(0, 28)}_p2`, msgtype: "file", file: { media_id: "M2" } },
      { ...to, msgid: `${msgid.slice(0, 28)}_p3`, msgtype: "video", video: { media_id: "M3" } },
    ]);
    expect(sent.externalId).toBe(msgid);
    // msg_send_fail of a file finds the reply it belongs to.
    expect(wecomReplyPrefixOf(`${msgid.slice(0, 28)}_p2`)).toBe(msgid.slice(0, 28));
    expect(wecomReplyPrefixOf(msgid)).toBeUndefined();
    for (const c of calls) expect(c.body.msgid ?? "").toMatch(/^[0-9a-zA-Z_-]{0,32}$/);
  });

  it("sends files without text, and sends nothing when an upload is refused", async () => {
    const alone = standIn({ "/cgi-bin/media/upload": [{ errcode: 0, media_id: "M1" }] });
    const o = { apiBase: "http://w", fetch: alone.doFetch, tokens: tokens(), readFile };
    await sendWecom(reply({ text: null, attachments: [file("a.jpg", "image/jpeg")] }), o);
    expect(alone.calls.map((c) => c.body.msgtype ?? c.path)).toEqual(["/cgi-bin/media/upload", "image"]);

    const refused = standIn({
      "/cgi-bin/media/upload": [
        { errcode: 0, media_id: "M1" },
        { errcode: 40006, errmsg: "invalid file size" },
      ],
    });
    const sent = sendWecom(withFiles, { apiBase: "http://w", fetch: refused.doFetch, tokens: tokens(), readFile });
    await expect(sent).rejects.toBeInstanceOf(PermanentSendError);
    await expect(sent).rejects.toThrow(/^WeCom 40006: invalid file size \(uploading 说明\.pdf\)\. /);
    expect(refused.calls.filter((c) => c.path === "/cgi-bin/kf/send_msg")).toEqual([]);
  });

  it("refuses files when the server cannot read them", async () => {
    const o = { apiBase: "http://w", fetch: standIn().doFetch, tokens: tokens() };
    await expect(sendWecom(withFiles, o)).rejects.toThrow(/cannot read attachments/);
  });
});

describe("service_state/trans", () => {
  it("posts the state for the customer, with the servicer when given", async () => {
    const { calls, doFetch } = standIn({ "/cgi-bin/kf/service_state/trans": [{ errcode: 0, msg_code: "MSG_CODE" }] });
    const out = await transServiceState(
      app,
      { openKfid: "wk1", externalUserId: "wm1", state: SERVICE_STATE.api },
      { apiBase: "http://w", fetch: doFetch, tokens: tokens() },
    );
    expect(out).toEqual({ ok: true, msgCode: "MSG_CODE" });
    expect(calls[0]!.body).toEqual({ open_kfid: "wk1", external_userid: "wm1", service_state: 1 });
  });

  it("says whether a refusal is permanent", async () => {
    const { doFetch } = standIn({
      "/cgi-bin/kf/service_state/trans": [
        { errcode: 95016, errmsg: "invalid state" },
        { errcode: -1, errmsg: "busy" },
      ],
    });
    const o = { apiBase: "http://w", fetch: doFetch, tokens: tokens() };
    const change = { openKfid: "wk1", externalUserId: "wm1", state: SERVICE_STATE.ended };
    expect(await transServiceState(app, change, o)).toMatchObject({
      ok: false,
      permanent: true,
      reason: expect.stringMatching(/^WeCom 95016/),
    });
    expect(await transServiceState(app, change, o)).toMatchObject({ ok: false, permanent: false });
  });
});
