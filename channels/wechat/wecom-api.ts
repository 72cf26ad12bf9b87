import { createHash } from "node:crypto";
import { PermanentSendError, type OutboundMessage, type SendResult } from "../../conversations/channel.ts";
import { apiUrl, callWechat, errcodeOf, STALE_TOKEN, withFreshToken, type TokenLease } from "./api.ts";
import { uploadMedia, type UploadType } from "./media.ts";
import type { WecomSyncedMessage } from "./wecom-message.ts";

/**
 * WeCom's customer-service API (`/cgi-bin/kf/...`) as far as an inbox needs it: pulling messages
 * (`sync_msg`), replying (`send_msg`) and telling WeChat who serves the chat (`service_state/trans`).
 * WeCom answers HTTP 200 with `errcode`; a refused access token is fetched again once.
 */

export const WECOM_API_BASE = "https://qyapi.weixin.qq.com";

/** A WeCom customer-service app: the corp and the secret of its customer-service API. */
export type WecomApp = { corpId: string; secret: string; inboxId?: string };

/** Access tokens of WeCom apps (channels/wechat/token.ts `createWecomTokens` gives one). */
export type WecomTokenSource = {
  tokenFor(app: WecomApp): Promise<string>;
  invalidate(app: WecomApp, staleToken?: string): void;
};

export type WecomApiOptions = { apiBase: string; fetch?: typeof fetch; tokens: WecomTokenSource };

/** The app's tokens as one call needs them (api.ts `withFreshToken`). */
export function wecomTokenLease(app: WecomApp, options: WecomApiOptions): TokenLease {
  return { get: () => options.tokens.tokenFor(app), invalidate: (stale) => options.tokens.invalidate(app, stale) };
}

/** `errcode` of sync_msg when the callback's token is unknown or older than 10 minutes. */
export const SYNC_TOKEN_REFUSED = 95007;

/** What WeCom said, in the words the agent (or the log) sees: `WeCom <code>: <errmsg>.` */
export function wecomSays(answer: Record<string, unknown>) {
  const errmsg = String(answer.errmsg ?? "").trim() || "no reason given";
  return `WeCom ${errcodeOf(answer)}: ${errmsg}`;
}

/** One call with the app's token, and once more with a fresh token when WeCom refused it. */
export function callWithToken(app: WecomApp, path: string, body: unknown, options: WecomApiOptions, purpose: string) {
  const post = (token: string) =>
    callWechat(
      options.fetch ?? fetch,
      apiUrl(options.apiBase, path, { access_token: token }),
      {
        method: "POST",
        headers: { "Content-Type": "application/json; charset=utf-8" },
        body: JSON.stringify(body),
      },
      purpose,
    );
  return withFreshToken(wecomTokenLease(app, options), post, (reply) => errcodeOf(reply.answer));
}

// ---------------------------------------------------------------------------------------------------
// sync_msg

/** The most sync_msg returns per call (also its default). */
export const SYNC_LIMIT = 1000;

export type SyncRequest = {
  /** Where the last pull stopped (`next_cursor`); absent for the very first pull of the account. */
  cursor?: string | null;
  /** The callback's `Token`: without it sync_msg is strictly rate-limited. */
  token?: string | null;
  openKfid: string;
  limit?: number;
};

/** sync_msg's body: cursor and token only when there are some (WeCom refuses empty ones as invalid). */
export function syncMsgBody(request: SyncRequest) {
  return {
    ...(request.cursor ? { cursor: request.cursor } : {}),
    ...(request.token ? { token: request.token } : {}),
    limit: Math.min(Math.max(1, request.limit ?? SYNC_LIMIT), SYNC_LIMIT),
    voice_format: 0,
    open_kfid: request.openKfid,
  };
}

export type SyncPage = { nextCursor: string | null; hasMore: boolean; messages: WecomSyncedMessage[] };

export class WecomSyncError extends Error {
  constructor(
    readonly errcode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * sync_msg's answer as a page. `has_more` may be 1 with an empty `msg_list`: the caller keeps pulling
 * while it is 1, never judging by the list.
 */
export function syncPageOf(answer: Record<string, unknown>): SyncPage {
  const errcode = errcodeOf(answer);
  if (errcode !== 0) throw new WecomSyncError(errcode, `${wecomSays(answer)} (pulling messages)`);
  const list = Array.isArray(answer.msg_list) ? answer.msg_list : [];
  const nextCursor = typeof answer.next_cursor === "string" && answer.next_cursor ? answer.next_cursor : null;
  return {
    nextCursor,
    hasMore: Number(answer.has_more) === 1,
    messages: list.filter((m): m is WecomSyncedMessage => !!m && typeof m === "object" && !Array.isArray(m)),
  };
}

/** One page of messages after `cursor`. */
export async function syncMsg(app: WecomApp, request: SyncRequest, options: WecomApiOptions): Promise<SyncPage> {
  const reply = await callWithToken(app, "/cgi-bin/kf/sync_msg", syncMsgBody(request), options, "pulling messages");
  return syncPageOf(reply.answer);
}

// ---------------------------------------------------------------------------------------------------
// send_msg

/** send_msg takes at most 2048 bytes of text per message. */
export const MAX_TEXT_BYTES = 2048;

/**
 * Refusals no later attempt can change, with what they mean for the agent who wrote the reply.
 * WeCom lets a business reply only within 48 hours of the customer's last message, at most 5 replies
 * per customer message, and only while the chat is new (0) or served through the API (1).
 */
const SEND_REFUSALS: Record<number, string> = {
  40096: "WeCom does not know this customer (external_userid) for this account.",
  95000: "The inbox's open_kfid is not a valid customer-service account; check the inbox's settings.",
  95001:
    "WeCom allows at most 5 replies after each message of the customer, and this conversation has reached the " +
    "limit; wait until the customer writes again.",
  95002:
    "The customer last wrote more than 48 hours ago; WeCom accepts replies only within 48 hours of the " +
    "customer's last message. Reach them on another channel, or wait until they write again.",
  95004: "The inbox's customer-service account does not exist (any more) in WeCom.",
  95013: "The WeCom session has ended; the customer has to write again before a reply can reach them.",
  95018:
    "The session's state does not allow replies through the API: it waits in WeCom's queue or a WeCom member " +
    "serves it from WeCom's own client. It can be replied to again once the customer writes a new message.",
  40004: "WeCom did not accept the file's media type.",
  40005: "WeCom did not accept the file's type (images must be JPEG or PNG, videos MP4).",
  40006: "WeCom did not accept the file's size.",
  40009: "The image is larger than WeCom accepts (10 MB); send a smaller one.",
  40011: "The video is larger than WeCom accepts (10 MB); send a smaller one.",
  44001: "The file is empty.",
};

/**
 * WeCom's `msgid` for a reply: the outbox's idempotency key in WeCom's alphabet ([0-9a-zA-Z_-], at most
 * 32 bytes), so a resend after a crash carries the same msgid and WeCom does not deliver it twice. A
 * UUID without its dashes is exactly 32 hex digits; any other key is hashed.
 */
export function wecomMsgIdOf(idempotencyKey: string): string {
  const compact = idempotencyKey.replaceAll("-", "");
  if (/^[0-9a-zA-Z_]{1,32}$/.test(compact)) return compact;
  return createHash("sha256").update(idempotencyKey).digest("base64url").slice(0, 32);
}

/** send_msg's body for a text reply, or for a file uploaded as `msgtype` (image, video, file). */
export function sendMsgBody(
  to: { externalUserId: string; openKfid: string },
  msgId: string,
  content: string | { msgtype: UploadType; mediaId: string },
) {
  const head = { touser: to.externalUserId, open_kfid: to.openKfid, msgid: msgId };
  if (typeof content === "string") return { ...head, msgtype: "text", text: { content } };
  return { ...head, msgtype: content.msgtype, [content.msgtype]: { media_id: content.mediaId } };
}

/**
 * The `msgid` of each message of one reply: the text (or the first file) keeps the reply's own, so
 * `msg_send_fail` finds the reply by it; each further file takes its first 28 characters, `_p` and its
 * place, which the sync maps back to the reply (wecomReplyIdOf).
 */
export function wecomPartIdOf(replyMsgId: string, part: number) {
  return part === 0 ? replyMsgId : `${replyMsgId.slice(0, 28)}_p${part}`;
}

/** The reply's msgid prefix (28 characters) of a later part's msgid, or undefined for a reply's own. */
export function wecomReplyPrefixOf(msgId: string) {
  return /^(.{28})_p\d{1,2}$/.exec(msgId)?.[1];
}

/**
 * How a reply's file goes to the customer: JPEG and PNG as an image (all WeCom's `image` upload
 * takes), MP4 as a video that plays in the chat; anything else as a file, which WeCom delivers whatever
 * its type (a voice note is a file too: WeCom's `voice` wants AMR of at most 60 seconds).
 */
export function wecomMediaTypeOf(contentType: string): Exclude<UploadType, "voice"> {
  if (/^image\/(jpeg|png)$/.test(contentType)) return "image";
  if (contentType === "video/mp4") return "video";
  return "file";
}

/** The WeCom app and account of the inbox a reply goes out through (settings and sealed credentials). */
export function wecomAccountOf(inbox: OutboundMessage["inbox"]): { app: WecomApp; openKfid: string } {
  const { corpId, openKfid } = inbox.settings;
  const secret = inbox.credentials?.secret;
  if (typeof corpId !== "string" || !corpId) throw new PermanentSendError("This WeCom inbox has no corp id");
  if (typeof openKfid !== "string" || !openKfid) throw new PermanentSendError("This WeCom inbox has no open_kfid");
  if (typeof secret !== "string" || !secret) throw new PermanentSendError("This WeCom inbox has no secret");
  return { app: { corpId, secret, inboxId: inbox.id }, openKfid };
}

export type WecomSendOptions = WecomApiOptions & {
  /** The bytes of a reply's attachment (the runtime reads its file store); without it files are refused. */
  readFile?: (file: OutboundMessage["attachments"][number]) => Promise<Uint8Array>;
};

/**
 * Sends an agent's reply through the inbox's customer-service account (`kf/send_msg`) to the customer's
 * external_userid: `channelData.wecomExternalUserId` when the runtime's prepare step chose it (a contact
 * joined by UnionID may be a customer of two corps), else the contact's first `wecom` identity. The text
 * goes first, then each attached file as an image, video or file message. Every file is uploaded
 * (`media/upload`) before anything is sent, so a failed upload sends nothing; a failure between two
 * messages makes the outbox's retry send them again with the same msgids, which WeCom does not deliver twice.
 */
export async function sendWecom(outbound: OutboundMessage, options: WecomSendOptions): Promise<SendResult> {
  const { app, openKfid } = wecomAccountOf(outbound.inbox);
  const chosen = outbound.channelData?.wecomExternalUserId;
  const externalUserId =
    typeof chosen === "string" && chosen ? chosen : outbound.to.find((identity) => identity.kind === "wecom")?.value;
  if (!externalUserId) throw new PermanentSendError("The conversation has no WeCom customer (external_userid)");
  const text = outbound.text?.trim() ? outbound.text : null;
  if (!text && !outbound.attachments.length) throw new PermanentSendError("The reply has no text to send to WeCom");
  if (text && Buffer.byteLength(text, "utf8") > MAX_TEXT_BYTES)
    throw new PermanentSendError(
      `WeCom takes at most ${MAX_TEXT_BYTES} bytes of text per message (about 680 Chinese characters); ` +
        "shorten the reply or send it in parts.",
    );
  if (outbound.attachments.length && !options.readFile)
    throw new PermanentSendError("This server cannot read attachments for WeCom replies");

  const files: { msgtype: UploadType; mediaId: string }[] = [];
  for (const file of outbound.attachments) {
    const msgtype = wecomMediaTypeOf(file.contentType);
    const bytes = await options.readFile!(file);
    const uploaded = await withFreshToken(
      wecomTokenLease(app, options),
      (token) => uploadMedia(options, token, { ...file, bytes }, msgtype),
      (u) => (u.ok ? 0 : u.errcode),
    );
    if (!uploaded.ok)
      throw sendFailure({ errcode: uploaded.errcode, errmsg: uploaded.errmsg }, `uploading ${file.name}`);
    files.push({ msgtype, mediaId: uploaded.mediaId });
  }
  const msgId = wecomMsgIdOf(outbound.idempotencyKey);
  const contents = [...(text ? [text] : []), ...files];
  let externalId: string | undefined;
  for (const [part, content] of contents.entries()) {
    const body = sendMsgBody({ externalUserId, openKfid }, wecomPartIdOf(msgId, part), content);
    const { answer } = await callWithToken(app, "/cgi-bin/kf/send_msg", body, options, "sending a message");
    if (errcodeOf(answer) !== 0) throw sendFailure(answer);
    externalId ??= typeof answer.msgid === "string" && answer.msgid ? answer.msgid : msgId;
  }
  return { externalId: externalId ?? msgId, status: "sent" };
}

/** WeCom's refusal as the outbox needs it: permanent with a sentence for the agent, or to be retried. */
function sendFailure(answer: Record<string, unknown>, doing?: string) {
  const says = `${wecomSays(answer)}${doing ? ` (${doing})` : ""}`;
  const errcode = errcodeOf(answer);
  const refusal = SEND_REFUSALS[errcode];
  if (refusal) return new PermanentSendError(`${says}. ${refusal}`);
  if (STALE_TOKEN.has(errcode)) return new Error(`${says} (again, with a freshly fetched access token)`);
  return new Error(says);
}

// ---------------------------------------------------------------------------------------------------
// service_state/trans

/**
 * Session states of WeCom customer service: 0 new, 1 served through the API (智能助手接待), 2 waiting in
 * WeCom's queue, 3 served by a WeCom member in WeCom's client, 4 ended. send_msg works in 0 and 1 only.
 */
export const SERVICE_STATE = { new: 0, api: 1, queued: 2, servicer: 3, ended: 4 } as const;
export type ServiceState = (typeof SERVICE_STATE)[keyof typeof SERVICE_STATE];

export type ServiceStateChange = {
  openKfid: string;
  externalUserId: string;
  state: ServiceState;
  /** Required by WeCom for state 3: the WeCom member who serves the chat. */
  servicerUserId?: string;
};

export function serviceStateBody(change: ServiceStateChange) {
  return {
    open_kfid: change.openKfid,
    external_userid: change.externalUserId,
    service_state: change.state,
    ...(change.servicerUserId ? { servicer_userid: change.servicerUserId } : {}),
  };
}

/** Refusals of a state change that retrying cannot fix, with what they mean. */
const TRANS_REFUSALS: Record<number, string> = {
  95000: "the inbox's open_kfid is not a valid customer-service account",
  95004: "the inbox's customer-service account does not exist in WeCom",
  95013: "the WeCom session has already ended",
  95014: "the servicer is not a reception member of this account",
  95016: "WeCom does not allow this change from the session's current state",
};

export type TransOutcome = { ok: true; msgCode?: string } | { ok: false; permanent: boolean; reason: string };

/** Tells WeChat the session's new state (`kf/service_state/trans`). */
export async function transServiceState(
  app: WecomApp,
  change: ServiceStateChange,
  options: WecomApiOptions,
): Promise<TransOutcome> {
  const { answer } = await callWithToken(
    app,
    "/cgi-bin/kf/service_state/trans",
    serviceStateBody(change),
    options,
    "changing a session's state",
  );
  const errcode = errcodeOf(answer);
  if (errcode === 0) return { ok: true, ...(typeof answer.msg_code === "string" ? { msgCode: answer.msg_code } : {}) };
  const refusal = TRANS_REFUSALS[errcode];
  return { ok: false, permanent: !!refusal, reason: `${wecomSays(answer)}${refusal ? `. ${refusal}` : ""}` };
}
