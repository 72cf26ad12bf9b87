import { decryptMessage } from "./crypto.ts";
import { encryptedOf, InvalidPush, parsePushXml } from "./parse.ts";
import { verifyPush, type PushVerdict } from "./verify.ts";

/**
 * WeCom customer service (微信客服) calls our URL in safe mode only: every request carries
 * `msg_signature` over (token, timestamp, nonce, encrypted payload), and the payload is encrypted for the
 * corp id. The callback itself carries no message: it says "there is something new for this account"
 * with a `Token` that lets `sync_msg` pull it (wecom-sync in the gateway).
 */

/** What a WeCom inbox's callback needs of its setup (channels/wechat/setup.ts `WecomSetup`). */
export type WecomCallbackSetup = { corpId: string; token: string; encodingAesKey: string };

export type WecomQuery = {
  msg_signature?: string;
  timestamp?: string;
  nonce?: string;
  echostr?: string;
};

/** How far a callback's timestamp may be from our clock, in seconds. */
export const WECOM_WINDOW_SECONDS = 300;

export type WecomUrlCheck = { ok: true; echo: string } | Exclude<PushVerdict, { ok: true }>;

/**
 * The URL check WeCom makes when an admin saves the callback URL: `echostr` is encrypted for the corp
 * id and the answer must be its plaintext. The signature covers the encrypted `echostr`.
 */
export function wecomUrlCheck(setup: WecomCallbackSetup, query: WecomQuery, now: number): WecomUrlCheck {
  const verdict = verifyPush({
    token: setup.token,
    timestamp: query.timestamp,
    nonce: query.nonce,
    signature: query.msg_signature,
    encrypt: query.echostr ?? "",
    now,
    maxSkewSeconds: WECOM_WINDOW_SECONDS,
  });
  if (!verdict.ok) return verdict;
  return { ok: true, echo: decryptMessage(setup.encodingAesKey, query.echostr!, setup.corpId) };
}

/** A verified callback's envelope: its `Encrypt` element, signature checked (not yet decrypted). */
export function verifyWecomCallback(
  setup: WecomCallbackSetup,
  query: WecomQuery,
  body: string,
  now: number,
): { ok: true; encrypt: string } | Exclude<PushVerdict, { ok: true }> {
  const encrypt = encryptedOf(body);
  const verdict = verifyPush({
    token: setup.token,
    timestamp: query.timestamp,
    nonce: query.nonce,
    signature: query.msg_signature,
    encrypt,
    now,
    maxSkewSeconds: WECOM_WINDOW_SECONDS,
  });
  return verdict.ok ? { ok: true, encrypt } : verdict;
}

export type WecomCallbackEvent =
  /** New messages or events wait for `openKfid`: pull them with `token` (valid 10 minutes). */
  | { kind: "kf_msg_or_event"; token: string; openKfid: string; createTime: string }
  /** Another event of the WeCom app (account or servicer changes): nothing to pull. */
  | { kind: "ignored"; event: string };

/** The decrypted callback (`<xml>… <Event>kf_msg_or_event</Event><Token>…</Token><OpenKfId>…</OpenKfId>`). */
export function wecomCallbackOf(setup: WecomCallbackSetup, encrypt: string): WecomCallbackEvent {
  const fields = parsePushXml(decryptMessage(setup.encodingAesKey, encrypt, setup.corpId));
  const event = fields.Event ?? "";
  if (fields.MsgType !== "event" || event !== "kf_msg_or_event") return { kind: "ignored", event: event || "none" };
  const token = fields.Token;
  const openKfid = fields.OpenKfId;
  // The token is short and opaque (sync_msg takes at most 128 bytes); anything else is not WeCom's.
  if (!token || token.length > 128)
    throw new InvalidPush("missing_field", "The callback has no usable <Token>", "Token");
  if (!openKfid || openKfid.length > 64)
    throw new InvalidPush("missing_field", "The callback has no usable <OpenKfId>", "OpenKfId");
  return { kind: "kf_msg_or_event", token, openKfid, createTime: fields.CreateTime ?? "" };
}
