import { DomainError } from "../platform/errors.ts";

/**
 * Reply windows: channels that let a business answer freely only for a while after the customer's last
 * message. WeChat allows customer-service messages (an Official Account's `custom/send`, WeCom's
 * `kf/send_msg`) within 48 hours of it; past that WeChat refuses with 45015. WhatsApp allows free-form
 * messages within 24 hours; past that only an approved template goes (Twilio error 63016 otherwise).
 * Knowing it here lets the composer say so and offer a template or another channel before the agent
 * writes, instead of a failed message. Pure rules over plain data; reading the rows is reply-window-of.ts.
 */

const HOUR_MS = 60 * 60 * 1000;
export const WECHAT_REPLY_WINDOW_MS = 48 * HOUR_MS;
export const WHATSAPP_REPLY_WINDOW_MS = 24 * HOUR_MS;

export type ReplyWindowCode = "wechat_48h" | "whatsapp_24h";
export type ReplyWindowRule = { code: ReplyWindowCode; lengthMs: number };

const WECHAT: ReplyWindowRule = { code: "wechat_48h", lengthMs: WECHAT_REPLY_WINDOW_MS };
const WHATSAPP: ReplyWindowRule = { code: "whatsapp_24h", lengthMs: WHATSAPP_REPLY_WINDOW_MS };

/** What the channel of each rule is called in a refusal, and how long its window is. */
const RULE_WORDS: Record<ReplyWindowCode, { channel: string; hours: number }> = {
  wechat_48h: { channel: "WeChat", hours: 48 },
  whatsapp_24h: { channel: "WhatsApp", hours: 24 },
};

/**
 * The window of an inbox, or null for channels without one. The WeChat kind is read as
 * channels/wechat/setup.ts's `wechatKindOf` reads it (a missing or unknown kind is an Official Account):
 * the core cannot import channel code. Wechaty speaks as a person's own account, which has no window.
 */
export function replyWindowRuleOf(inbox: {
  channel: string;
  settings: Record<string, unknown>;
}): ReplyWindowRule | null {
  if (inbox.channel === "whatsapp") return WHATSAPP;
  if (inbox.channel !== "wechat" || inbox.settings.kind === "wechaty") return null;
  return WECHAT;
}

/**
 * Open until `lengthMs` after the customer's last message through the inbox; at exactly that instant
 * it is closed (WeChat counts "within 48 hours", WhatsApp "within 24 hours"). With no message from the
 * customer yet there is no window at all.
 */
export function replyWindowAt(rule: ReplyWindowRule, lastInboundAt: Date | null, now: Date) {
  if (!lastInboundAt) return { open: false, closesAt: null };
  const closesAt = new Date(lastInboundAt.getTime() + rule.lengthMs);
  return { open: now.getTime() < closesAt.getTime(), closesAt };
}

export type ReplyAlternative = { kind: "email" | "phone"; value: string; action: "email" | "sms" | "callback" };

/**
 * Other ways to reach the contact when the window is closed: each of their email addresses and phone
 * numbers the workspace has an inbox to use with (email → an email inbox; phone → a voice inbox for a
 * callback, an SMS inbox for a text).
 */
export function replyAlternatives(
  identities: { kind: string; value: string }[],
  inboxChannels: ReadonlySet<string>,
): ReplyAlternative[] {
  const found: ReplyAlternative[] = [];
  const add = (a: ReplyAlternative) => {
    if (!found.some((f) => f.value === a.value && f.action === a.action)) found.push(a);
  };
  for (const i of identities)
    if (i.kind === "email" && inboxChannels.has("email")) add({ kind: "email", value: i.value, action: "email" });
  for (const i of identities) {
    if (i.kind !== "phone") continue;
    if (inboxChannels.has("voice")) add({ kind: "phone", value: i.value, action: "callback" });
    if (inboxChannels.has("sms")) add({ kind: "phone", value: i.value, action: "sms" });
  }
  return found;
}

const ACTION_WORDS: Record<ReplyAlternative["action"], (value: string) => string> = {
  email: (v) => `email ${v}`,
  sms: (v) => `text ${v}`,
  callback: (v) => `call ${v} back`,
};

/** What the agent reads when a reply is refused: why, and what to do instead. */
export function windowClosedMessage(rule: ReplyWindowRule, closesAt: Date | null, alternatives: ReplyAlternative[]) {
  const { channel, hours } = RULE_WORDS[rule.code];
  const why = closesAt
    ? `${channel} accepts replies only within ${hours} hours of the customer's last message; this conversation's window closed at ${closesAt.toISOString()}.`
    : `${channel} accepts replies only within ${hours} hours of a message from the customer, and they have not written through this ${rule.code === "whatsapp_24h" ? "number" : "account"} yet.`;
  // WhatsApp's own way out: a template Meta approved may start a conversation at any time.
  const template = rule.code === "whatsapp_24h" ? " An approved WhatsApp template can still be sent." : "";
  const instead = alternatives.length
    ? ` Reach them another way (${alternatives.map((a) => ACTION_WORDS[a.action](a.value)).join(", ")}), or wait until they write again.`
    : " Wait until they write again; the contact has no email address or phone number to reach them another way.";
  return `${why}${template}${instead} Internal notes are still allowed.`;
}

/** A customer reply refused because the channel's reply window is closed (409). */
export class ReplyWindowClosed extends DomainError {
  constructor(message: string) {
    super(409, "reply_window_closed", message, "text");
  }
}
