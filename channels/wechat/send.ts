import { PermanentSendError, type OutboundMessage, type SendResult } from "../../conversations/channel.ts";
import { apiUrl, callWechat, errcodeOf } from "./api.ts";
import { tokenApis, type AccessTokens, type TokenApi, type WechatApp } from "./token.ts";

export type WechatSendOptions = { apiBase: string; fetch?: typeof fetch; tokens: AccessTokens };

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
 * Sends an agent's reply as a customer-service message (`/cgi-bin/message/custom/send`) to the
 * customer's OpenID. Text only in this increment: a reply of files alone is refused; with text, the text
 * goes. A refused access token is fetched again and the message retried once.
 */
export async function sendWechat(outbound: OutboundMessage, options: WechatSendOptions): Promise<SendResult> {
  const app = wechatAppOf(outbound.inbox);
  const openId = outbound.to.find((identity) => identity.kind === "wechat")?.value;
  if (!openId) throw new PermanentSendError("The conversation has no WeChat OpenID to reply to");
  const text = outbound.text?.trim() ? outbound.text : null;
  if (!text) {
    if (outbound.attachments.length)
      throw new PermanentSendError(
        "Images and files are not sent to WeChat yet; only text goes out. Write the reply as text.",
      );
    throw new PermanentSendError("The reply has no text to send to WeChat");
  }
  const body = JSON.stringify({ touser: openId, msgtype: "text", text: { content: text } });

  let token = await options.tokens.tokenFor(app);
  let reply = await postCustomMessage(token, body, options);
  let errcode = errcodeOf(reply.answer);
  if (STALE_TOKEN.has(errcode)) {
    options.tokens.invalidate(app.appId, token);
    token = await options.tokens.tokenFor(app);
    reply = await postCustomMessage(token, body, options);
    errcode = errcodeOf(reply.answer);
  }
  if (errcode === 0) return { externalId: msgIdOf(reply.raw) ?? outbound.idempotencyKey, status: "sent" };

  const wechatSays = `WeChat ${errcode}: ${String(reply.answer.errmsg ?? "").trim() || "no reason given"}`;
  const refusal = REFUSALS[errcode];
  if (refusal) throw new PermanentSendError(`${wechatSays}. ${refusal}`);
  if (STALE_TOKEN.has(errcode)) throw new Error(`${wechatSays} (again, with a freshly fetched access token)`);
  throw new Error(wechatSays);
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
