import { PermanentSendError } from "../../conversations/channel.ts";
import { apiUrl, callWechat, errcodeOf } from "./api.ts";

/** An Official Account as its API knows it: the AppID and AppSecret from WeChat's console. */
export type WechatApp = { appId: string; appSecret: string };

export type AccessTokenOptions = {
  /** `https://api.weixin.qq.com`, or a local stand-in (`WECHAT_API_BASE`). */
  apiBase: string;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch (tests pass their own clock). */
  now?: () => number;
};

export type AccessTokens = {
  /** A valid access token for the app: the cached one, or one fetch shared by every caller waiting. */
  tokenFor(app: WechatApp): Promise<string>;
  /**
   * Forgets the app's token after WeChat refused it. With `staleToken`, only if the cache still holds
   * that token: of several sends refused with the same old token, the first refetches and the others
   * keep the new token instead of each fetching one more.
   */
  invalidate(appId: string, staleToken?: string): void;
};

/** Tokens are dropped this long before WeChat says they expire, so none expires on its way to WeChat. */
export const EXPIRY_MARGIN_MS = 60_000;

/**
 * Answers of `/cgi-bin/token` that another attempt cannot fix: the inbox's credentials are wrong or this
 * server's address is not on the account's IP whitelist. The admin has to act, so the message says what.
 */
const TOKEN_REFUSALS: Record<number, string> = {
  40001: "the AppSecret is wrong; check the inbox's AppSecret in WeChat's console",
  40013: "the AppID is not a valid Official Account AppID",
  40125: "the AppSecret is not valid; check the inbox's AppSecret in WeChat's console",
  40164: "this server's IP address is not on the account's IP whitelist in WeChat's console",
  41002: "the AppID is missing",
  41004: "the AppSecret is missing",
};

type CachedToken = { token: string; secret: string; expiresAt: number };

/**
 * Access tokens per AppID, cached in this process until a minute before they expire.
 *
 * WeChat keeps one valid token per app: fetching a new one retires the previous one (after a grace of a
 * few minutes), and the fetches are rationed per day. So concurrent sends share one fetch here. Nodes
 * still fetch independently and can retire each other's tokens; the send then sees 40001/42001, refetches
 * and retries once. One refresh at a time ACROSS nodes needs a lease (an advisory lock held while one
 * node fetches and stores the token for the others), which comes in a later increment of issue 20.
 */
export function createAccessTokens(options: AccessTokenOptions): AccessTokens {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const cache = new Map<string, CachedToken>();
  const inFlight = new Map<string, Promise<string>>();

  async function fetchToken(app: WechatApp): Promise<string> {
    const url = apiUrl(options.apiBase, "/cgi-bin/token", {
      grant_type: "client_credential",
      appid: app.appId,
      secret: app.appSecret,
    });
    const { answer } = await callWechat(doFetch, url, { method: "GET" }, "an access token");
    const errcode = errcodeOf(answer);
    if (errcode !== 0) {
      const refusal = TOKEN_REFUSALS[errcode];
      const text = `WeChat ${errcode} fetching an access token: ${String(answer.errmsg ?? "")}`;
      if (refusal) throw new PermanentSendError(`${text} (${refusal})`);
      throw new Error(text);
    }
    const token = answer.access_token;
    const expiresIn = Number(answer.expires_in);
    if (typeof token !== "string" || !token || !Number.isFinite(expiresIn))
      throw new Error("WeChat answered the access token request without access_token and expires_in");
    cache.set(app.appId, {
      token,
      secret: app.appSecret,
      expiresAt: now() + expiresIn * 1000 - EXPIRY_MARGIN_MS,
    });
    return token;
  }

  return {
    tokenFor(app) {
      const cached = cache.get(app.appId);
      // A changed AppSecret (the admin rotated it) makes the cached token one we may no longer use.
      if (cached && cached.secret === app.appSecret && now() < cached.expiresAt) return Promise.resolve(cached.token);
      let pending = inFlight.get(app.appId);
      if (!pending) {
        pending = fetchToken(app).finally(() => inFlight.delete(app.appId));
        inFlight.set(app.appId, pending);
      }
      return pending;
    },
    invalidate(appId, staleToken) {
      const cached = cache.get(appId);
      if (cached && (staleToken === undefined || cached.token === staleToken)) cache.delete(appId);
    },
  };
}
