import { PermanentSendError } from "../../conversations/channel.ts";
import { apiUrl, callWechat, errcodeOf } from "./api.ts";

/**
 * Which endpoint gives an Official Account its access token:
 * - `stable_token` (the default): WeChat hands every caller the same token until it expires, so several
 *   nodes (or another system on the same account) do not retire each other's tokens. A refused token is
 *   replaced with `force_refresh: true`, once per refusal (WeChat rations forced refreshes).
 * - `token`: the older `/cgi-bin/token`, where each fetch retires the previous token after a short grace.
 */
export const tokenApis = ["stable_token", "token"] as const;
export type TokenApi = (typeof tokenApis)[number];

/** An Official Account as its API knows it: the AppID and AppSecret from WeChat's console. */
export type WechatApp = {
  appId: string;
  appSecret: string;
  /** The inbox: its row of the shared store holds the token when the runtime gives a store. */
  inboxId?: string;
  tokenApi?: TokenApi;
};

/** A WeCom app (a customer-service secret of a corp): tokens from `/cgi-bin/gettoken`. */
export type WecomApp = { corpId: string; secret: string; inboxId?: string };

/** A token as fetched or stored: the token and when it stops being usable (ms since the epoch). */
export type StoredToken = { token: string; expiresAt: number };

/**
 * Where nodes share their tokens (implemented with the database outside channels/, see
 * conversations/access-token-store.ts), so that one node fetches and the others reuse.
 */
export type SharedTokenStore = {
  /** The token stored for the inbox, or null. */
  read(inboxId: string): Promise<StoredToken | null>;
  /**
   * Runs `refresh` one caller at a time per inbox across nodes. It gets the stored token as re-read
   * once it holds the lock (another node may have just refreshed it) and returns the token to keep;
   * a token other than the stored one is stored.
   */
  update(inboxId: string, refresh: (stored: StoredToken | null) => Promise<StoredToken>): Promise<StoredToken>;
};

/**
 * One app's tokens: a cache key, the secret (a changed secret drops the cached token), the inbox whose
 * stored row holds it (if shared), and how to fetch one (`forceRefresh` after WeChat refused the token).
 */
export type TokenSource = {
  key: string;
  secret: string;
  inboxId?: string;
  fetch(forceRefresh: boolean): Promise<StoredToken>;
};

export type TokenCache = {
  /** A valid token: the cached one, the shared store's, or one fetch shared by every caller waiting. */
  get(source: TokenSource): Promise<string>;
  /**
   * Forgets the key's token after WeChat refused it. With `staleToken`, only if the cache still holds
   * that token: of several sends refused with the same old token, the first refetches and the others
   * keep the new token instead of each fetching one more.
   */
  invalidate(key: string, staleToken?: string): void;
};

export type TokenCacheOptions = {
  /** Milliseconds since the epoch (tests pass their own clock). */
  now?: () => number;
  /** Shared by the nodes; without it each node keeps its own tokens. */
  store?: SharedTokenStore;
};

/** Tokens are dropped this long before WeChat says they expire, so none expires on its way to WeChat. */
export const EXPIRY_MARGIN_MS = 60_000;

/** When a token fetched now with `expiresIn` seconds left stops being used. */
export function expiryOf(now: number, expiresInSeconds: number) {
  const life = expiresInSeconds * 1000;
  // stable_token hands out the current token with what remains of its life; near its end the margin
  // would leave nothing, and every send would fetch again. Half of what remains still keeps it safe.
  return now + Math.max(life - EXPIRY_MARGIN_MS, life / 2);
}

type CachedToken = StoredToken & { secret: string };

/**
 * Access tokens cached in this process until a minute before they expire, one fetch at a time per key.
 *
 * WeChat keeps one valid token per app and rations fetches per day, so concurrent sends share one fetch.
 * With a shared store, a node whose cached token is missing, expiring or refused reads the store; only
 * when the stored one is expired or was refused does it refresh, under the store's lock, so concurrent
 * nodes make one fetch between them.
 */
export function createTokenCache(options: TokenCacheOptions = {}): TokenCache {
  const now = options.now ?? Date.now;
  const store = options.store;
  const cache = new Map<string, CachedToken>();
  const inFlight = new Map<string, Promise<string>>();
  /** The token WeChat last refused per key, until a refresh replaced it: it is never used again. */
  const refused = new Map<string, string>();

  const usable = (t: StoredToken | null, key: string) => !!t && now() < t.expiresAt && refused.get(key) !== t.token;

  async function obtain(source: TokenSource): Promise<string> {
    const { key } = source;
    let token: StoredToken;
    if (store && source.inboxId) {
      const inboxId = source.inboxId;
      const stored = await store.read(inboxId);
      token =
        stored && usable(stored, key)
          ? stored
          : await store.update(inboxId, async (current) => {
              if (current && usable(current, key)) return current;
              // Forced only when the stored token is the very one WeChat refused (once per refusal).
              return source.fetch(refused.has(key) && current?.token === refused.get(key));
            });
    } else {
      token = await source.fetch(refused.has(key));
    }
    if (refused.get(key) !== token.token) refused.delete(key);
    cache.set(key, { ...token, secret: source.secret });
    return token.token;
  }

  return {
    get(source) {
      const cached = cache.get(source.key);
      // A changed secret (the admin rotated it) makes the cached token one we may no longer use.
      if (cached && cached.secret === source.secret && now() < cached.expiresAt) return Promise.resolve(cached.token);
      let pending = inFlight.get(source.key);
      if (!pending) {
        pending = obtain(source).finally(() => inFlight.delete(source.key));
        inFlight.set(source.key, pending);
      }
      return pending;
    },
    invalidate(key, staleToken) {
      const cached = cache.get(key);
      if (cached && (staleToken === undefined || cached.token === staleToken)) {
        cache.delete(key);
        refused.set(key, cached.token);
      }
    },
  };
}

export type AccessTokenOptions = TokenCacheOptions & {
  /** `https://api.weixin.qq.com`, or a local stand-in (`WECHAT_API_BASE`). */
  apiBase: string;
  fetch?: typeof fetch;
};

export type AccessTokens = {
  /** A valid access token for the Official Account (see TokenCache.get). */
  tokenFor(app: WechatApp): Promise<string>;
  /** Forgets the app's token after WeChat refused it (see TokenCache.invalidate). */
  invalidate(appId: string, staleToken?: string): void;
};

/**
 * Answers of the token endpoints that another attempt cannot fix: the inbox's credentials are wrong or
 * this server's address is not on the account's IP whitelist. The admin has to act, so the message says what.
 */
const TOKEN_REFUSALS: Record<number, string> = {
  40001: "the AppSecret is wrong; check the inbox's AppSecret in WeChat's console",
  40013: "the AppID is not a valid Official Account AppID",
  40125: "the AppSecret is not valid; check the inbox's AppSecret in WeChat's console",
  40164: "this server's IP address is not on the account's IP whitelist in WeChat's console",
  41002: "the AppID is missing",
  41004: "the AppSecret is missing",
};

/** WeCom's `gettoken` refusals (the corp id and secret of the inbox, or the server's IP). */
const WECOM_TOKEN_REFUSALS: Record<number, string> = {
  40001: "the secret is wrong; check the inbox's customer-service secret in WeCom's admin console",
  40013: "the corp id is not valid; check the inbox's corp id",
  40091: "the secret is not valid; check the inbox's customer-service secret in WeCom's admin console",
  41002: "the corp id is missing",
  41004: "the secret is missing",
  60020: "this server's IP address is not among the app's trusted IPs in WeCom's admin console",
};

/** One token request's answer as a StoredToken, or the error the outbox should see. */
function tokenOf(answer: Record<string, unknown>, at: number, refusals: Record<number, string>): StoredToken {
  const errcode = errcodeOf(answer);
  if (errcode !== 0) {
    const refusal = refusals[errcode];
    const text = `WeChat ${errcode} fetching an access token: ${String(answer.errmsg ?? "")}`;
    if (refusal) throw new PermanentSendError(`${text} (${refusal})`);
    throw new Error(text);
  }
  const token = answer.access_token;
  const expiresIn = Number(answer.expires_in);
  if (typeof token !== "string" || !token || !Number.isFinite(expiresIn) || expiresIn <= 0)
    throw new Error("WeChat answered the access token request without access_token and expires_in");
  return { token, expiresAt: expiryOf(at, expiresIn) };
}

/** Official Account tokens (`/cgi-bin/stable_token` by default, `/cgi-bin/token` when the inbox says so). */
export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const cache = createTokenCache(options);

  async function fetchToken(app: WechatApp, forceRefresh: boolean): Promise<StoredToken> {
    const at = now();
    if ((app.tokenApi ?? "stable_token") === "token") {
      const url = apiUrl(options.apiBase, "/cgi-bin/token", {
        grant_type: "client_credential",
        appid: app.appId,
        secret: app.appSecret,
      });
      const { answer } = await callWechat(doFetch, url, { method: "GET" }, "an access token");
      return tokenOf(answer, at, TOKEN_REFUSALS);
    }
    const body = JSON.stringify({
      grant_type: "client_credential",
      appid: app.appId,
      secret: app.appSecret,
      force_refresh: forceRefresh,
    });
    const { answer } = await callWechat(
      doFetch,
      apiUrl(options.apiBase, "/cgi-bin/stable_token", {}),
      { method: "POST", headers: { "Content-Type": "application/json; charset=utf-8" }, body },
      "an access token",
    );
    return tokenOf(answer, at, TOKEN_REFUSALS);
  }

  return {
    tokenFor: (app) =>
      cache.get({
        key: app.appId,
        secret: app.appSecret,
        inboxId: app.inboxId,
        fetch: (force) => fetchToken(app, force),
      }),
    invalidate: (appId, staleToken) => cache.invalidate(appId, staleToken),
  };
}

export type WecomTokenOptions = TokenCacheOptions & {
  /** `https://qyapi.weixin.qq.com`, or a local stand-in (`WECOM_API_BASE`). */
  apiBase: string;
  fetch?: typeof fetch;
};

export type WecomTokens = {
  tokenFor(app: WecomApp): Promise<string>;
  invalidate(app: WecomApp, staleToken?: string): void;
};

/** A WeCom app's cache key: per inbox when known (two inboxes may use two secrets of one corp). */
const wecomKey = (app: WecomApp) => `wecom:${app.inboxId ?? app.corpId}`;

/** WeCom access tokens from `GET /cgi-bin/gettoken?corpid=…&corpsecret=…`, shared like the Official Account's. */
export function createWecomTokens(options: WecomTokenOptions): WecomTokens {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const cache = createTokenCache(options);

  async function fetchToken(app: WecomApp): Promise<StoredToken> {
    const at = now();
    const url = apiUrl(options.apiBase, "/cgi-bin/gettoken", { corpid: app.corpId, corpsecret: app.secret });
    const { answer } = await callWechat(doFetch, url, { method: "GET" }, "a WeCom access token");
    return tokenOf(answer, at, WECOM_TOKEN_REFUSALS);
  }

  return {
    tokenFor: (app) =>
      cache.get({ key: wecomKey(app), secret: app.secret, inboxId: app.inboxId, fetch: () => fetchToken(app) }),
    invalidate: (app, staleToken) => cache.invalidate(wecomKey(app), staleToken),
  };
}
