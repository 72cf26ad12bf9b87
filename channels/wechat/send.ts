import { PermanentSendError, type OutboundMessage, type SendResult } from "../../conversations/channel.ts";
import { apiUrl, callWechat, errcodeOf } from "./api.ts";
import { UPLOADABLE_IMAGE, uploadImage } from "./media.ts";
import { tokenApis, type AccessTokens, type TokenApi, type WechatApp } from "./token.ts";

export type WechatSendOptions = {
  apiBase: string;
  fetch?: typeof fetch;
  tokens: AccessTokens;
  /** The bytes of a reply's attachment (the runtime reads its file store); without it images are refused. */
  readFile?: (file: OutboundMessage["attachments"][number]) => Promise<Uint8Array>;
};

/** WeChat refused the access token: another node fetched a newer one, or it expired early. */
const STALE_TOKEN = new Set([40001, 40014, 42001]);

/**
 * Refusals no later attempt can change, with what they mean for the agent who wrote the reply: WeChat's
 * own `errmsg` is terse English written for developers ("response out of time limit or subscription is
 * canceled" is the 48-hour rule).
 */
const REFUSALS: Record<number, string> = {
  40003:
    "WeChat does not know this customer's OpenID for this Official Account; the conversation may belong to " +
    "another account.",
  43004: "The customer no longer follows this Official Account, so it cannot send them messages.",
  45015:
    "The customer last wrote more than 48 hours ago (or unfollowed the account); WeChat accepts replies only " +
    "within 48 hours of the customer's last message. Reach them on another channel, or wait until they write again.",
  45047:
    "WeChat limits how many replies may follow one message of the customer, and this conversation has reached " +
    "the limit; wait until the customer writes again.",
  40004: "WeChat did not accept the file as an image.",
  40005: "WeChat did not accept the file's type; images must be JPEG, PNG or GIF.",
  40009: "The image is larger than WeChat accepts (10 MB); send a smaller one.",
  40007: "WeChat no longer knows the uploaded image (media_id); send the reply again.",
};

/** The AppID and AppSecret of the inbox a reply goes out through. */
export function wechatAppOf(inbox: OutboundMessage["inbox"]): WechatApp {
  const appId = inbox.settings.appId;
  if (typeof appId !== "string" || !appId.trim())
    throw new PermanentSendError("This WeChat inbox has no AppID (settings.appId)");
  const appSecret = inbox.credentials?.appSecret;
  if (typeof appSecret !== "string" || !appSecret.trim())
    throw new PermanentSendError("This WeChat inbox has no AppSecret (credentials.appSecret)");
  // stable_token unless the inbox chose /cgi-bin/token (settings.tokenApi).
  const tokenApi = tokenApis.includes(inbox.settings.tokenApi as TokenApi)
    ? (inbox.settings.tokenApi as TokenApi)
    : undefined;
  return { appId: appId.trim(), appSecret: appSecret.trim(), inboxId: inbox.id, tokenApi };
}

/**
 * Sends an agent's reply as customer-service messages (`/cgi-bin/message/custom/send`) to the customer's
 * OpenID for this account (`channelData.wechatOpenId`, chosen by the runtime's prepare step; else the
 * contact's first OpenID): the text, then each image as an `image` message of its own. The images are
 * uploaded first (`media/upload`), so a failed upload sends nothing and the outbox's retry repeats
 * nothing; a failure between two messages does resend the earlier ones on retry. A refused access token
 * is fetched again and the request retried once. Files other than images are refused: the
 * customer-service API has no message type for them.
 */
export async function sendWechat(outbound: OutboundMessage, options: WechatSendOptions): Promise<SendResult> {
  const app = wechatAppOf(outbound.inbox);
  const chosen = outbound.channelData?.wechatOpenId;
  const openId =
    typeof chosen === "string" && chosen ? chosen : outbound.to.find((identity) => identity.kind === "wechat")?.value;
  if (!openId) throw new PermanentSendError("The conversation has no WeChat OpenID to reply to");
  const text = outbound.text?.trim() ? outbound.text : null;
  const others = outbound.attachments.filter((file) => !UPLOADABLE_IMAGE.test(file.contentType));
  if (others.length)
    throw new PermanentSendError(
      `WeChat's customer-service messages carry text and images (JPEG, PNG, GIF) only; ` +
        `${others.map((f) => f.name).join(", ")} cannot be sent. Share a link instead, or use another channel.`,
    );
  if (!text && !outbound.attachments.length) throw new PermanentSendError("The reply has no text to send to WeChat");
  if (outbound.attachments.length && !options.readFile)
    throw new PermanentSendError("This server cannot read attachments for WeChat replies");

  const call = withToken(app, options);
  const mediaIds: string[] = [];
  for (const file of outbound.attachments) {
    const bytes = await options.readFile!(file);
    const uploaded = await call(
      (token) => uploadImage(options, token, { ...file, bytes }),
      (u) => (u.ok ? 0 : u.errcode),
    );
    if (!uploaded.ok) throw failure(uploaded.errcode, uploaded.errmsg, `uploading ${file.name}`);
    mediaIds.push(uploaded.mediaId);
  }
  const bodies = [
    ...(text ? [{ touser: openId, msgtype: "text", text: { content: text } }] : []),
    ...mediaIds.map((id) => ({ touser: openId, msgtype: "image", image: { media_id: id } })),
  ];
  let externalId: string | undefined;
  for (const body of bodies) {
    const reply = await call(
      (token) => postCustomMessage(token, JSON.stringify(body), options),
      (r) => errcodeOf(r.answer),
    );
    const errcode = errcodeOf(reply.answer);
    if (errcode !== 0) throw failure(errcode, String(reply.answer.errmsg ?? ""));
    externalId ??= msgIdOf(reply.raw);
  }
  return { externalId: externalId ?? outbound.idempotencyKey, status: "sent" };
}

/** Runs a request with the app's token; when WeChat refuses the token, once more with a fresh one. */
function withToken(app: WechatApp, options: WechatSendOptions) {
  return async <T>(request: (token: string) => Promise<T>, errcode: (answer: T) => number): Promise<T> => {
    const token = await options.tokens.tokenFor(app);
    const answer = await request(token);
    if (!STALE_TOKEN.has(errcode(answer))) return answer;
    options.tokens.invalidate(app.appId, token);
    return request(await options.tokens.tokenFor(app));
  };
}

/** WeChat's refusal as the outbox needs it: permanent with a sentence for the agent, or to be retried. */
function failure(errcode: number, errmsg: string, doing?: string) {
  const wechatSays = `WeChat ${errcode}${doing ? ` ${doing}` : ""}: ${errmsg.trim() || "no reason given"}`;
  const refusal = REFUSALS[errcode];
  if (refusal) return new PermanentSendError(`${wechatSays}. ${refusal}`);
  if (STALE_TOKEN.has(errcode)) return new Error(`${wechatSays} (again, with a freshly fetched access token)`);
  return new Error(wechatSays);
}

function postCustomMessage(token: string, body: string, options: WechatSendOptions) {
  const url = apiUrl(options.apiBase, "/cgi-bin/message/custom/send", { access_token: token });
  return callWechat(
    options.fetch ?? fetch,
    url,
    { method: "POST", headers: { "Content-Type": "application/json; charset=utf-8" }, body },
    "sending a message",
  );
}

/**
 * Customer-service messages usually come back without an id; when WeChat does send `msgid` it is a
 * 64-bit number that JSON.parse would round, so it is read from the raw answer.
 */
function msgIdOf(raw: string) {
  return /"msgid"\s*:\s*"?(\d+)/.exec(raw)?.[1];
}
