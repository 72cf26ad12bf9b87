import { z } from "zod";
import type { NormalizedInbound } from "../../conversations/channel.ts";
import type { DeliveryStatus } from "../../db/schema/index.ts";
import { Invalid } from "../../platform/errors.ts";

/**
 * Twilio's messaging webhooks (https://www.twilio.com/docs/messaging/guides/webhook-request): an
 * incoming SMS/MMS or WhatsApp message, and the status callbacks of messages we sent. Pure parsing; the
 * gateway verifies the signature first.
 */

const E164 = /^\+[1-9]\d{6,14}$/;
/** At most this many files per message (Twilio's MMS limit is 10). */
export const MAX_MEDIA = 10;

const Sid = (prefix: string, field: string) =>
  z.string().regex(new RegExp(`^${prefix}[0-9a-fA-F]{32}$`), `${field} must be a Twilio SID (${prefix}…)`);

const InboundParams = z.object({
  // SM… for SMS and WhatsApp, MM… for MMS: both are Message SIDs.
  MessageSid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/, "MessageSid must be a Twilio Message SID"),
  AccountSid: Sid("AC", "AccountSid"),
  From: z.string().min(1).max(100),
  To: z.string().min(1).max(100),
  Body: z.string().max(10_000).optional(),
  NumMedia: z.coerce.number().int().min(0).max(100).default(0),
  ProfileName: z.string().max(200).optional(),
  Latitude: z.string().max(40).optional(),
  Longitude: z.string().max(40).optional(),
  Address: z.string().max(500).optional(),
  Label: z.string().max(500).optional(),
  ButtonText: z.string().max(1000).optional(),
  MessageType: z.string().max(40).optional(),
});

export type TwilioMessage = {
  channel: "sms" | "whatsapp";
  messageSid: string;
  accountSid: string;
  /** The sender and our number, E.164 without the `whatsapp:` prefix. */
  from: string;
  to: string;
  body: string;
  media: { url: string; contentType: string }[];
  profileName?: string;
  location?: { latitude: string; longitude: string; address?: string; label?: string };
  buttonText?: string;
  messageType?: string;
};

/** A number as Twilio writes it (`whatsapp:+1415…`, `+1415…`) → which channel, and the E.164 number. */
export function addressOf(value: string, field: string): { whatsapp: boolean; number: string } {
  const whatsapp = /^whatsapp:/i.test(value);
  const number = value.replace(/^whatsapp:/i, "").trim();
  if (!E164.test(number)) throw new Invalid(`${field} must be an E.164 number (optionally whatsapp:…)`, field);
  return { whatsapp, number };
}

/** A NUL cannot be stored (PostgreSQL text): refused at the edge, naming the parameter. */
function refuseNul(params: Record<string, string>) {
  for (const [key, value] of Object.entries(params))
    if (value.includes("\u0000")) throw new Invalid(`${key} must not contain NUL characters`, key);
}

/** An incoming message's parameters (already signature-checked) → its fields; 400 naming the bad one. */
export function parseInboundMessage(params: Record<string, string>): TwilioMessage {
  refuseNul(params);
  const p = InboundParams.safeParse(params);
  if (!p.success) {
    const issue = p.error.issues[0]!;
    throw new Invalid(issue.message, String(issue.path[0] ?? "body"));
  }
  const d = p.data;
  const from = addressOf(d.From, "From");
  const to = addressOf(d.To, "To");
  if (from.whatsapp !== to.whatsapp) throw new Invalid("From and To must both be WhatsApp or both be phone", "From");
  const media: TwilioMessage["media"] = [];
  for (let i = 0; i < Math.min(d.NumMedia, MAX_MEDIA); i++) {
    const url = params[`MediaUrl${i}`];
    if (url) media.push({ url, contentType: params[`MediaContentType${i}`] || "application/octet-stream" });
  }
  return {
    channel: from.whatsapp ? "whatsapp" : "sms",
    messageSid: d.MessageSid,
    accountSid: d.AccountSid,
    from: from.number,
    to: to.number,
    body: d.Body ?? "",
    media,
    ...(d.ProfileName?.trim() ? { profileName: d.ProfileName.trim() } : {}),
    ...(d.Latitude && d.Longitude
      ? { location: { latitude: d.Latitude, longitude: d.Longitude, address: d.Address, label: d.Label } }
      : {}),
    ...(d.ButtonText ? { buttonText: d.ButtonText } : {}),
    ...(d.MessageType ? { messageType: d.MessageType } : {}),
  };
}

/** The routing key of the inbox a message was sent to (conversations/inbox-route.ts routeKeysOf). */
export function routeKeyOf(message: Pick<TwilioMessage, "accountSid" | "to">) {
  return `${message.accountSid}:${message.to}`.toLowerCase();
}

// Carriers' and Twilio's own opt-out and opt-in keywords (Advanced Opt-Out defaults), and the Chinese
// ones customers in China type. Matched on the whole trimmed message, case-insensitively.
const OPT_OUT = new Set(["stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订"]);
const OPT_IN = new Set(["start", "unstop", "yes", "订阅"]);

/** Whether a message's text is an opt-out (STOP, 退订…) or an opt-in (START, 订阅…) keyword. */
export function consentChange(body: string): "opted_out" | "opted_in" | undefined {
  const word = body.trim().toLowerCase();
  if (OPT_OUT.has(word)) return "opted_out";
  if (OPT_IN.has(word)) return "opted_in";
  return undefined;
}

/**
 * What the agent sees of a message: its text; a shared location as text with a map link; a WhatsApp
 * button's label; and for what has neither text nor file (a sticker or contact card Twilio passes
 * without media) an "unsupported" line rather than an empty bubble.
 */
export function textOf(message: TwilioMessage): string | undefined {
  if (message.body.trim()) return message.body;
  if (message.location) {
    const { latitude, longitude, label, address } = message.location;
    const name = [label, address].filter(Boolean).join(", ");
    return `📍 ${name ? `${name} ` : ""}(${latitude}, ${longitude}) https://maps.google.com/?q=${latitude},${longitude}`;
  }
  if (message.buttonText) return message.buttonText;
  if (message.media.length) return undefined;
  return `[Unsupported ${message.messageType ?? "message"}: this content cannot be shown here]`;
}

/** The message as the conversations core takes it; `attachments` are the files already stored. */
export function toInbound(
  message: TwilioMessage,
  at: { inboxId: string; attachments?: string[]; data?: Record<string, unknown> },
): NormalizedInbound {
  const text = textOf(message);
  return {
    channel: message.channel,
    channelAccountId: at.inboxId,
    externalId: message.messageSid,
    from: {
      kind: message.channel === "whatsapp" ? "whatsapp" : "phone",
      value: message.from,
      ...(message.profileName ? { displayName: message.profileName } : {}),
    },
    kind: message.media.length ? "media" : "text",
    ...(text !== undefined ? { text } : {}),
    attachments: at.attachments ?? [],
    data: {
      from: message.from,
      to: message.to,
      ...(message.profileName ? { profileName: message.profileName } : {}),
      ...(message.location ? { location: message.location } : {}),
      ...(!message.body.trim() && !message.location && !message.buttonText && !message.media.length
        ? { unsupported: message.messageType ?? "unknown" }
        : {}),
      ...at.data,
    },
  };
}

// ── Status callbacks ─────────────────────────────────────────────────────────────────────────────

const StatusParams = z.object({
  MessageSid: z.string().regex(/^(SM|MM)[0-9a-fA-F]{32}$/, "MessageSid must be a Twilio Message SID"),
  AccountSid: Sid("AC", "AccountSid"),
  MessageStatus: z.string().min(1).max(40),
  ErrorCode: z.string().max(20).optional(),
  ErrorMessage: z.string().max(1000).optional(),
  From: z.string().max(100).optional(),
  To: z.string().max(100).optional(),
});

const STATUS: Record<string, DeliveryStatus> = {
  queued: "pending",
  accepted: "pending",
  scheduled: "pending",
  sending: "pending",
  sent: "sent",
  delivered: "delivered",
  read: "read",
  failed: "failed",
  undelivered: "failed",
  canceled: "failed",
};

/** How far along each status is: a late callback never moves a message back (delivered stays delivered). */
const RANK: Record<DeliveryStatus, number> = { pending: 0, sent: 1, delivered: 2, read: 3, failed: 4 };

/** Whether `next` may replace `current`: forward only; failure is final, and read is never undone. */
export function advances(current: DeliveryStatus | null, next: DeliveryStatus) {
  if (current === null) return true;
  if (current === "failed") return false;
  // A message the recipient read was delivered: a failure reported after that is stale.
  if (next === "failed") return current !== "read" && current !== "delivered";
  return RANK[next] > RANK[current];
}

/**
 * What Twilio's error codes mean, for the agent (https://www.twilio.com/docs/api/errors): the common
 * reasons a message does not arrive.
 */
export const ERROR_MEANINGS: Record<string, string> = {
  "21211": "Invalid 'To' phone number",
  "21408": "Sending to this region is not enabled on the Twilio account",
  "21610": "The recipient has opted out (replied STOP); they must send START first",
  "21614": "The 'To' number is not a mobile number",
  "30003": "Unreachable destination handset",
  "30004": "Message blocked by the recipient or carrier",
  "30005": "Unknown destination handset",
  "30006": "Landline or unreachable carrier",
  "30007": "Filtered by the carrier as spam",
  "30008": "Unknown error from the carrier",
  "63016": "Outside WhatsApp's 24-hour window: only an approved template can be sent",
};

export function errorText(code: string | undefined, message?: string) {
  if (!code) return message?.trim() || "Not delivered";
  return `${code}: ${ERROR_MEANINGS[code] ?? (message?.trim() || "see https://www.twilio.com/docs/api/errors/" + code)}`;
}

export type StatusReport = {
  messageSid: string;
  accountSid: string;
  /** Twilio's own word (sent, undelivered…) and ours. */
  twilioStatus: string;
  status: DeliveryStatus;
  errorCode?: string;
  /** "<ErrorCode>: <meaning>" for failures. */
  error?: string;
};

/** A status callback's parameters → the delivery state; undefined for a status we do not track. */
export function parseStatusCallback(params: Record<string, string>): StatusReport | undefined {
  refuseNul(params);
  const p = StatusParams.safeParse(params);
  if (!p.success) {
    const issue = p.error.issues[0]!;
    throw new Invalid(issue.message, String(issue.path[0] ?? "body"));
  }
  const twilioStatus = p.data.MessageStatus.toLowerCase();
  const status = STATUS[twilioStatus];
  if (!status) return undefined;
  const code = p.data.ErrorCode && p.data.ErrorCode !== "0" ? p.data.ErrorCode : undefined;
  return {
    messageSid: p.data.MessageSid,
    accountSid: p.data.AccountSid,
    twilioStatus,
    status,
    ...(code ? { errorCode: code } : {}),
    ...(status === "failed" ? { error: errorText(code, p.data.ErrorMessage) } : {}),
  };
}
