import { afterAll, beforeEach, describe, expect, it } from "bun:test";
import { PermanentSendError } from "../../conversations/channel.ts";
import {
  createAccessTokens,
  createTokenCache,
  createWecomTokens,
  EXPIRY_MARGIN_MS,
  expiryOf,
  type SharedTokenStore,
  type StoredToken,
} from "./token.ts";

const APP = { appId: "wx0123456789abcdef", appSecret: "demo-wechat-secret" };
const T0 = Date.parse("2026-12-07T12:00:00Z");

type Recorded = { method: string; path: string; query: Record<string, string>; body: any };

/**
 * WeChat's token endpoints as they behave: `stable_token` hands every caller the current token with
 * what remains of its 7200 s until it expires, and a new one only with `force_refresh`; `token` and
 * WeCom's `gettoken` issue a new token each call. Time is the test's clock.
 */
class TokenStandIn {
  requests: Recorded[] = [];
  issued = 0;
  script: Record<string, unknown>[] = [];
  clock = { now: T0 };
  private current?: { token: string; until: number };
  private readonly server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (req) => {
      const url = new URL(req.url);
      const body = req.method === "POST" ? await req.json() : undefined;
      this.requests.push({ method: req.method, path: url.pathname, query: Object.fromEntries(url.searchParams), body });
      const scripted = this.script.shift();
      if (scripted) return Response.json(scripted);
      if (url.pathname === "/cgi-bin/stable_token") {
        if (!this.current || this.current.until <= this.clock.now || body.force_refresh) this.issue();
        const left = Math.round((this.current!.until - this.clock.now) / 1000);
        return Response.json({ access_token: this.current!.token, expires_in: left });
      }
      this.issue();
      return Response.json({ access_token: this.current!.token, expires_in: 7200 });
    },
  });
  readonly base = `http://127.0.0.1:${this.server.port}`;
  private issue() {
    this.current = { token: `token-${++this.issued}`, until: this.clock.now + 7200_000 };
  }
  reset() {
    this.requests = [];
    this.issued = 0;
    this.script = [];
    this.clock.now = T0;
    this.current = undefined;
  }
  stop() {
    this.server.stop(true);
  }
}

const wechat = new TokenStandIn();
afterAll(() => wechat.stop());
beforeEach(() => wechat.reset());

const tokens = (extra: { store?: SharedTokenStore } = {}) =>
  createAccessTokens({ apiBase: wechat.base, now: () => wechat.clock.now, ...extra });

describe("Official Account tokens from stable_token (the default)", () => {
  it("are asked for with a POST of the AppID and AppSecret, not forced", async () => {
    expect(await tokens().tokenFor(APP)).toBe("token-1");
    expect(wechat.requests).toEqual([
      {
        method: "POST",
        path: "/cgi-bin/stable_token",
        query: {},
        body: { grant_type: "client_credential", appid: APP.appId, secret: APP.appSecret, force_refresh: false },
      },
    ]);
  });

  it("are forced to refresh once after WeChat refused the token, and not again after", async () => {
    const cache = tokens();
    expect(await cache.tokenFor(APP)).toBe("token-1");
    cache.invalidate(APP.appId, "token-1");
    expect(await cache.tokenFor(APP)).toBe("token-2");
    // A later expiry is a plain fetch: WeChat rations forced refreshes.
    wechat.clock.now += 7200_000;
    expect(await cache.tokenFor(APP)).toBe("token-3");
    expect(wechat.requests.map((r) => r.body.force_refresh)).toEqual([false, true, false]);
  });

  it("are not forced by a late refusal of a token already replaced", async () => {
    const cache = tokens();
    await cache.tokenFor(APP);
    cache.invalidate(APP.appId, "token-0");
    await cache.tokenFor(APP);
    expect(wechat.requests).toHaveLength(1);
  });

  it("near the end of their life are kept for half of what remains, not fetched on every send", async () => {
    const cache = tokens();
    await cache.tokenFor({ ...APP, appId: "wx00000000000000aa" });
    // Another system fetched the same stable token long ago: 40 s remain when this node first asks.
    wechat.clock.now += 7160_000;
    await cache.tokenFor(APP);
    await cache.tokenFor(APP);
    expect(wechat.requests).toHaveLength(2);
    expect(expiryOf(T0, 40)).toBe(T0 + 20_000);
    expect(expiryOf(T0, 7200)).toBe(T0 + 7200_000 - EXPIRY_MARGIN_MS);
  });

  it("are refused for good when WeChat rejects the AppSecret", async () => {
    wechat.script = [{ errcode: 40125, errmsg: "invalid appsecret" }];
    const err = await tokens()
      .tokenFor(APP)
      .catch((e: Error) => e);
    expect(err).toBeInstanceOf(PermanentSendError);
    expect((err as Error).message).toContain("WeChat 40125");
  });
});

describe("Official Account tokens from /cgi-bin/token (chosen per inbox)", () => {
  it("are asked for with a GET and the credentials in the query, and never forced", async () => {
    const cache = tokens();
    const app = { ...APP, tokenApi: "token" as const };
    expect(await cache.tokenFor(app)).toBe("token-1");
    cache.invalidate(APP.appId, "token-1");
    expect(await cache.tokenFor(app)).toBe("token-2");
    expect(wechat.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ["GET", "/cgi-bin/token", { grant_type: "client_credential", appid: APP.appId, secret: APP.appSecret }],
      ["GET", "/cgi-bin/token", { grant_type: "client_credential", appid: APP.appId, secret: APP.appSecret }],
    ]);
  });
});

describe("WeCom tokens", () => {
  const app = { corpId: "ww0123456789abcdef", secret: "kf-secret", inboxId: "inbox-w" };

  it("come from gettoken with the corp id and secret, cached per inbox until refused", async () => {
    const cache = createWecomTokens({ apiBase: wechat.base, now: () => wechat.clock.now });
    const [a, b] = await Promise.all([cache.tokenFor(app), cache.tokenFor(app)]);
    expect([a, b]).toEqual(["token-1", "token-1"]);
    expect(await cache.tokenFor(app)).toBe("token-1");
    cache.invalidate(app, "token-1");
    expect(await cache.tokenFor(app)).toBe("token-2");
    expect(wechat.requests.map((r) => [r.path, r.query])).toEqual([
      ["/cgi-bin/gettoken", { corpid: app.corpId, corpsecret: app.secret }],
      ["/cgi-bin/gettoken", { corpid: app.corpId, corpsecret: app.secret }],
    ]);
  });

  it("are refused for good when WeCom rejects the secret", async () => {
    wechat.script = [{ errcode: 40001, errmsg: "invalid credential" }];
    const cache = createWecomTokens({ apiBase: wechat.base });
    const err = await cache.tokenFor(app).catch((e: Error) => e);
    expect(err).toBeInstanceOf(PermanentSendError);
    expect((err as Error).message).toContain("secret");
  });
});

/** A store in memory with the database store's contract: `update` runs one refresh at a time. */
function memoryStore() {
  const rows = new Map<string, StoredToken>();
  let turn = Promise.resolve();
  const store: SharedTokenStore & { rows: typeof rows } = {
    rows,
    read: async (id) => rows.get(id) ?? null,
    update(id, refresh) {
      const run = turn.then(async () => {
        const next = await refresh(rows.get(id) ?? null);
        rows.set(id, next);
        return next;
      });
      turn = run.then(
        () => {},
        () => {},
      );
      return run;
    },
  };
  return store;
}

describe("a token cache with a shared store", () => {
  const shared = { ...APP, inboxId: "inbox-1" };

  it("takes another node's stored token instead of fetching", async () => {
    const store = memoryStore();
    store.rows.set("inbox-1", { token: "from-node-a", expiresAt: T0 + 3600_000 });
    expect(await tokens({ store }).tokenFor(shared)).toBe("from-node-a");
    expect(wechat.requests).toHaveLength(0);
  });

  it("fetches once for several caches (nodes) finding the stored token expired", async () => {
    const store = memoryStore();
    store.rows.set("inbox-1", { token: "old", expiresAt: T0 - 1 });
    const nodes = [tokens({ store }), tokens({ store }), tokens({ store })];
    const got = await Promise.all(nodes.map((n) => n.tokenFor(shared)));
    expect(got).toEqual(["token-1", "token-1", "token-1"]);
    expect(wechat.requests).toHaveLength(1);
    expect(store.rows.get("inbox-1")?.token).toBe("token-1");
  });

  it("after a refusal on two nodes, forces one refresh and both use the new token", async () => {
    const store = memoryStore();
    const [a, b] = [tokens({ store }), tokens({ store })];
    await Promise.all([a.tokenFor(shared), b.tokenFor(shared)]);
    a.invalidate(APP.appId, "token-1");
    b.invalidate(APP.appId, "token-1");
    expect(await Promise.all([a.tokenFor(shared), b.tokenFor(shared)])).toEqual(["token-2", "token-2"]);
    expect(wechat.requests.map((r) => r.body.force_refresh)).toEqual([false, true]);
  });

  it("without an inbox id keeps the token to itself", async () => {
    const cache = createTokenCache({ store: memoryStore() });
    const source = { key: "k", secret: "s", fetch: async () => ({ token: "t", expiresAt: Date.now() + 60_000 }) };
    expect(await cache.get(source)).toBe("t");
  });
});
