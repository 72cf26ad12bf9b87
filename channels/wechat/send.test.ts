import { afterAll, beforeEach, describe, expect, it } from "bun:test";
import { PermanentSendError, type OutboundMessage } from "../../conversations/channel.ts";
import { createAccessTokens, createWechatAdapter } from "./index.ts";

const APP_ID = "wx0123456789abcdef";
const APP_SECRET = "demo-wechat-secret";
const OPEN_ID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";

type Recorded = { method: string; path: string; query: Record<string, string>; body: unknown };
/** A scripted answer: a JSON object, raw text (to keep a 64-bit number exact), or an HTTP status alone. */
type Scripted = Record<string, unknown> | { raw: string } | { status: number };

/**
 * A local stand-in of WeChat's Official Account API. It records every request and hands out access
 * tokens `token-1`, `token-2`… valid for 7200 s; message sends are answered from a script, then `ok`.
 */
class WechatStandIn {
  requests: Recorded[] = [];
  tokenScript: Scripted[] = [];
  sendScript: Scripted[] = [];
  tokenDelayMs = 0;
  issued = 0;
  private readonly server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (req) => {
      const url = new URL(req.url);
      const text = req.method === "POST" ? await req.text() : "";
      this.requests.push({
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        body: text ? JSON.parse(text) : undefined,
      });
      if (url.pathname === "/cgi-bin/token") {
        await Bun.sleep(this.tokenDelayMs);
        return answer(this.tokenScript.shift() ?? { access_token: `token-${++this.issued}`, expires_in: 7200 });
      }
      if (url.pathname === "/cgi-bin/message/custom/send") return answer(this.sendScript.shift() ?? ok);
      return new Response("not found", { status: 404 });
    },
  });
  readonly base = `http://127.0.0.1:${this.server.port}`;

  tokenRequests() {
    return this.requests.filter((r) => r.path === "/cgi-bin/token");
  }
  sendRequests() {
    return this.requests.filter((r) => r.path === "/cgi-bin/message/custom/send");
  }
  stop() {
    this.server.stop(true);
  }
}

const ok = { errcode: 0, errmsg: "ok" };

function answer(scripted: Scripted) {
  if ("status" in scripted && typeof scripted.status === "number")
    return new Response("upstream trouble", { status: scripted.status });
  if ("raw" in scripted && typeof scripted.raw === "string")
    return new Response(scripted.raw, { headers: { "Content-Type": "application/json" } });
  return Response.json(scripted);
}

function reply(overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  return {
    idempotencyKey: "outbox-1",
    // The older /cgi-bin/token here; stable_token (the default) is tested in token.test.ts.
    inbox: {
      id: "inbox-1",
      channel: "wechat",
      settings: { appId: APP_ID, tokenApi: "token" },
      credentials: { appSecret: APP_SECRET },
    },
    conversationId: "conversation-1",
    to: [{ kind: "wechat", value: OPEN_ID }],
    text: "您好，您的订单已发货。",
    html: null,
    attachments: [],
    ...overrides,
  };
}

const photo = { id: "a1", name: "receipt.png", contentType: "image/png", size: 1200, url: "/files/a1" };

/** The error a promise rejects with (and fails the test if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected the send to fail, and it succeeded");
}

const wechat = new WechatStandIn();
afterAll(() => wechat.stop());
beforeEach(() => {
  wechat.requests = [];
  wechat.tokenScript = [];
  wechat.sendScript = [];
  wechat.tokenDelayMs = 0;
  wechat.issued = 0;
});

/** A fresh adapter (empty token cache) against the stand-in, on a clock the test moves. */
function adapter(clock = { now: Date.parse("2026-12-07T12:00:00Z") }) {
  return createWechatAdapter({ apiBase: wechat.base, now: () => clock.now });
}

describe("the WeChat adapter", () => {
  it("is the wechat channel, sending text and images (media.test.ts sends them)", () => {
    const { channel, capabilities } = createWechatAdapter();
    expect(channel).toBe("wechat");
    expect(capabilities.text).toBe(true);
    expect(capabilities.media).toBe(true);
  });
});

describe("sending a reply", () => {
  it("fetches a token with the inbox's AppID and AppSecret, then sends the text to the OpenID with it", async () => {
    const result = await adapter().send(reply());

    expect(wechat.requests).toEqual([
      {
        method: "GET",
        path: "/cgi-bin/token",
        query: { grant_type: "client_credential", appid: APP_ID, secret: APP_SECRET },
        body: undefined,
      },
      {
        method: "POST",
        path: "/cgi-bin/message/custom/send",
        query: { access_token: "token-1" },
        body: { touser: OPEN_ID, msgtype: "text", text: { content: "您好，您的订单已发货。" } },
      },
    ]);
    // Custom messages come back without an id: the outbox row's key stands in.
    expect(result).toEqual({ externalId: "outbox-1", status: "sent" });
  });

  it("keeps a 64-bit msgid exactly when WeChat returns one", async () => {
    wechat.sendScript = [{ raw: '{"errcode":0,"errmsg":"ok","msgid":3147483647123456789}' }];
    const result = await adapter().send(reply());
    expect(result.externalId).toBe("3147483647123456789");
  });

  it("picks the WeChat identity among the contact's others", async () => {
    await adapter().send(
      reply({
        to: [
          { kind: "email", value: "li@example.com" },
          { kind: "wechat", value: OPEN_ID },
        ],
      }),
    );
    expect((wechat.sendRequests()[0]!.body as { touser: string }).touser).toBe(OPEN_ID);
  });

  it("sends to the OpenID the runtime chose for this account (channelData.wechatOpenId)", async () => {
    const other = "oOtherAccountOpenId0000000001";
    await adapter().send(
      reply({
        to: [
          { kind: "wechat", value: other },
          { kind: "wechat", value: OPEN_ID },
        ],
        channelData: { wechatOpenId: OPEN_ID },
      }),
    );
    expect((wechat.sendRequests()[0]!.body as { touser: string }).touser).toBe(OPEN_ID);
  });

  it("accepts an API base with a trailing slash", async () => {
    await createWechatAdapter({ apiBase: `${wechat.base}/` }).send(reply());
    expect(wechat.requests.map((r) => r.path)).toEqual(["/cgi-bin/token", "/cgi-bin/message/custom/send"]);
  });
});

describe("access tokens", () => {
  it("are fetched once for five concurrent sends of one app, all five using that token", async () => {
    wechat.tokenDelayMs = 50;
    const wechatAdapter = adapter();
    const keys = ["k1", "k2", "k3", "k4", "k5"];
    await Promise.all(keys.map((k) => wechatAdapter.send(reply({ idempotencyKey: k }))));

    expect(wechat.tokenRequests()).toHaveLength(1);
    expect(wechat.sendRequests().map((r) => r.query.access_token)).toEqual(Array(5).fill("token-1"));
  });

  it("are cached across sends until a minute before they expire, then fetched again", async () => {
    const clock = { now: Date.parse("2026-12-07T12:00:00Z") };
    const wechatAdapter = adapter(clock);
    await wechatAdapter.send(reply());
    clock.now += (7200 - 61) * 1000;
    await wechatAdapter.send(reply());
    expect(wechat.tokenRequests()).toHaveLength(1);

    clock.now += 2000; // 59 s before WeChat's expiry
    await wechatAdapter.send(reply());
    expect(wechat.tokenRequests()).toHaveLength(2);
    expect(wechat.sendRequests().map((r) => r.query.access_token)).toEqual(["token-1", "token-1", "token-2"]);
  });

  it("are fetched again when the inbox's AppSecret changes", async () => {
    const wechatAdapter = adapter();
    await wechatAdapter.send(reply());
    await wechatAdapter.send(reply({ inbox: { ...reply().inbox, credentials: { appSecret: "rotated-secret" } } }));
    expect(wechat.tokenRequests().map((r) => r.query.secret)).toEqual([APP_SECRET, "rotated-secret"]);
  });

  it("are refused for good when WeChat rejects the AppSecret, saying what to check", async () => {
    wechat.tokenScript = [{ errcode: 40125, errmsg: "invalid appsecret" }];
    const err = await failure(adapter().send(reply()));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("WeChat 40125");
    expect(err.message).toContain("AppSecret");
    expect(err.message).not.toContain(APP_SECRET);
    expect(wechat.sendRequests()).toHaveLength(0);
  });

  it("are retried by the outbox when WeChat is busy, and a failed fetch is not cached", async () => {
    wechat.tokenScript = [{ errcode: -1, errmsg: "system error" }];
    const wechatAdapter = adapter();
    const err = await failure(wechatAdapter.send(reply()));
    expect(err).not.toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("WeChat -1");

    await wechatAdapter.send(reply());
    expect(wechat.tokenRequests()).toHaveLength(2);
  });
});

describe("a token WeChat refuses mid-send", () => {
  it("is fetched again once and the message retried once (42001, expired)", async () => {
    wechat.sendScript = [{ errcode: 42001, errmsg: "access_token expired" }];
    const result = await adapter().send(reply());

    expect(result.status).toBe("sent");
    expect(wechat.requests.map((r) => [r.path, r.query.access_token])).toEqual([
      ["/cgi-bin/token", undefined],
      ["/cgi-bin/message/custom/send", "token-1"],
      ["/cgi-bin/token", undefined],
      ["/cgi-bin/message/custom/send", "token-2"],
    ]);
  });

  it("is fetched again once for two sends refused with the same token (40001)", async () => {
    const refused = { errcode: 40001, errmsg: "invalid credential, access_token is invalid or not latest" };
    wechat.sendScript = [refused, refused];
    const wechatAdapter = adapter();
    await Promise.all([wechatAdapter.send(reply()), wechatAdapter.send(reply())]);

    expect(wechat.tokenRequests()).toHaveLength(2);
    expect(wechat.sendRequests().map((r) => r.query.access_token)).toEqual([
      "token-1",
      "token-1",
      "token-2",
      "token-2",
    ]);
  });

  it("is forgotten only while the cache still holds it, so a late refusal does not discard a newer token", async () => {
    const tokens = createAccessTokens({ apiBase: wechat.base });
    const app = { appId: APP_ID, appSecret: APP_SECRET, tokenApi: "token" as const };
    expect(await tokens.tokenFor(app)).toBe("token-1");
    tokens.invalidate(APP_ID, "token-0");
    expect(await tokens.tokenFor(app)).toBe("token-1");
    tokens.invalidate(APP_ID, "token-1");
    expect(await tokens.tokenFor(app)).toBe("token-2");
    expect(wechat.tokenRequests()).toHaveLength(2);
  });

  it("fails for the outbox to retry when the fresh token is refused too, after one retry only", async () => {
    wechat.sendScript = [
      { errcode: 40014, errmsg: "invalid access_token" },
      { errcode: 40014, errmsg: "invalid access_token" },
    ];
    const err = await failure(adapter().send(reply()));
    expect(err).not.toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("WeChat 40014");
    expect(wechat.sendRequests()).toHaveLength(2);
    expect(wechat.tokenRequests()).toHaveLength(2);
  });
});

describe("WeChat's refusals", () => {
  it("outside the 48-hour window (45015) fail for good with WeChat's code and text, explained", async () => {
    wechat.sendScript = [{ errcode: 45015, errmsg: "response out of time limit or subscription is canceled" }];
    const err = await failure(adapter().send(reply()));

    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.message).toStartWith("WeChat 45015: response out of time limit or subscription is canceled. ");
    expect(err.message).toContain("48 hours");
    expect(wechat.sendRequests()).toHaveLength(1);
    expect(wechat.tokenRequests()).toHaveLength(1);
  });

  it.each([
    [45047, "out of send limit", "reached the limit"],
    [40003, "invalid openid", "OpenID"],
    [43004, "require subscribe", "no longer follows"],
  ])("%p (%s) fails for good, without a retry", async (errcode, errmsg, explained) => {
    wechat.sendScript = [{ errcode, errmsg }];
    const err = await failure(adapter().send(reply()));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.message).toStartWith(`WeChat ${errcode}: ${errmsg}. `);
    expect(err.message).toContain(explained);
    expect(wechat.sendRequests()).toHaveLength(1);
  });

  it("others (system busy, -1) fail for the outbox to retry", async () => {
    wechat.sendScript = [{ errcode: -1, errmsg: "system error" }];
    const err = await failure(adapter().send(reply()));
    expect(err).not.toBeInstanceOf(PermanentSendError);
    expect(err.message).toBe("WeChat -1: system error");
  });
});

describe("faults on the way", () => {
  it("an HTTP 500 fails for the outbox to retry", async () => {
    wechat.sendScript = [{ status: 500 }];
    const err = await failure(adapter().send(reply()));
    expect(err).not.toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("HTTP 500");
  });

  it("an answer that is not JSON fails for the outbox to retry", async () => {
    wechat.sendScript = [{ raw: "<html>gateway timeout</html>" }];
    const err = await failure(adapter().send(reply()));
    expect(err).not.toBeInstanceOf(PermanentSendError);
  });

  it("an unreachable WeChat fails for the outbox to retry, without the AppSecret in the reason", async () => {
    const gone = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("") });
    const base = `http://127.0.0.1:${gone.port}`;
    gone.stop(true);
    const err = await failure(createWechatAdapter({ apiBase: base }).send(reply()));
    expect(err).not.toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("WeChat could not be reached");
    expect(err.message).not.toContain(APP_SECRET);
  });
});

describe("replies that cannot go to WeChat", () => {
  it("an inbox without an AppSecret fails for good, naming the setting, before any request", async () => {
    const err = await failure(adapter().send(reply({ inbox: { ...reply().inbox, credentials: {} } })));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("credentials.appSecret");
    expect(wechat.requests).toHaveLength(0);
  });

  it("an inbox without an AppID fails for good, naming the setting", async () => {
    const err = await failure(adapter().send(reply({ inbox: { ...reply().inbox, settings: {} } })));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("settings.appId");
  });

  it("files other than images fail for good, naming them, before any request", async () => {
    const pdf = { ...photo, name: "invoice.pdf", contentType: "application/pdf" };
    const err = await failure(adapter().send(reply({ attachments: [photo, pdf] })));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("invoice.pdf");
    expect(wechat.requests).toHaveLength(0);
  });

  it("images fail for good when the adapter was given no way to read files", async () => {
    const err = await failure(adapter().send(reply({ text: null, attachments: [photo] })));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(wechat.requests).toHaveLength(0);
  });

  it("a contact without an OpenID fails for good", async () => {
    const err = await failure(adapter().send(reply({ to: [{ kind: "email", value: "li@example.com" }] })));
    expect(err).toBeInstanceOf(PermanentSendError);
    expect(err.message).toContain("OpenID");
  });
});
