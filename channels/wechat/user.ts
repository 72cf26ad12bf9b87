import { apiUrl, callWechat, errcodeOf } from "./api.ts";
import type { MediaApi } from "./media.ts";

/**
 * What `user/info` says of a follower: the UnionID when the Official Account is bound to a WeChat Open
 * Platform account (the same person's id across the company's accounts and mini programs), and whether
 * they follow the account. WeChat's refusal (48001: the account may not call this API) comes back as is.
 */
export type UserInfo =
  | { ok: true; unionId?: string; subscribed?: boolean }
  | { ok: false; errcode: number; errmsg: string };

export async function fetchUserInfo(api: MediaApi, token: string, openId: string): Promise<UserInfo> {
  const url = apiUrl(api.apiBase, "/cgi-bin/user/info", { access_token: token, openid: openId, lang: "zh_CN" });
  const { answer } = await callWechat(api.fetch ?? fetch, url, { method: "GET" }, "a follower's profile");
  const errcode = errcodeOf(answer);
  if (errcode !== 0) return { ok: false, errcode, errmsg: String(answer.errmsg ?? "").trim() || "no reason given" };
  const unionId = typeof answer.unionid === "string" && answer.unionid ? answer.unionid : undefined;
  const subscribed = answer.subscribe === undefined ? undefined : Number(answer.subscribe) === 1;
  return { ok: true, ...(unionId ? { unionId } : {}), ...(subscribed === undefined ? {} : { subscribed }) };
}
