import {
  PermanentSendError,
  type ChannelCapabilities,
  type OutboundMessage,
  type SendResult,
} from "../../conversations/channel.ts";
import { ERROR_MEANINGS } from "./parse.ts";

/**
 * Replies by SMS or WhatsApp through Twilio's Messages API
 * (`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, Basic auth with the account).
 * Twilio has no idempotency key: a node dying after Twilio accepted a message and before the outbox
 * recorded it sends that message again on the lease's expiry, as for every channel without one.
 */

export const TWILIO_API = "https://api.twilio.com";

/** Filled by the runtime's `prepare` (apps/gateway/twilio-messaging/outbound.ts) before each send. */
export type TwilioChannelData = {
  /** The inbox's API base, else TWILIO_API_BASE, else Twilio's. */
  apiBaseUrl?: string;
  /** Where Twilio reports the message's progress (`…/webhooks/twilio/messaging/status`). */
  statusCallback?: string;
  /** The number (E.164) this reply goes to: the one the customer last wrote from through this inbox. */
  to?: string;
  /** Absolute links Twilio can fetch the reply's files from, in the order of `attachments`. */
  mediaUrls?: string[];
};

/** A WhatsApp template send (Twilio Content API): `ContentSid` and its variables instead of a body. */
export type TemplateSend = { contentSid: string; variables?: Record<string, string> };

export const messagingCapabilities: ChannelCapabilities = {
  text: true,
  media: true,
  voice: false,
  typing: false,
  readReceipts: true,
  editWindow: 0,
};

/** Twilio's error codes after which sending the same message again cannot succeed. */
const PERMANENT_CODES = new Set(["21211", "21408", "21610", "21614", "63016"]);

function templateOf(channelData: Record<string, unknown> | undefined): TemplateSend | undefined {
  const t = channelData?.template as { contentSid?: unknown; variables?: unknown } | undefined;
  if (!t || typeof t.contentSid !== "string") return undefined;
  const variables: Record<string, string> = {};
  if (t.variables && typeof t.variables === "object")
    for (const [k, v] of Object.entries(t.variables)) if (v !== undefined && v !== null) variables[k] = String(v);
  return { contentSid: t.contentSid, variables };
}

/** The form Twilio is sent for one message (exported for tests and the docs' examples). */
export function messageForm(outbound: OutboundMessage, channel: "sms" | "whatsapp") {
  const settings = outbound.inbox.settings as { phoneNumber?: string };
  const twilio = (outbound.channelData?.twilio ?? {}) as TwilioChannelData;
  const kind = channel === "whatsapp" ? "whatsapp" : "phone";
  const to = twilio.to ?? outbound.to.find((i) => i.kind === kind)?.value;
  if (!to)
    throw new PermanentSendError(
      channel === "whatsapp"
        ? "This contact has no WhatsApp number: they must write to the WhatsApp inbox first"
        : "This contact has no phone number to text",
    );
  if (!settings.phoneNumber) throw new PermanentSendError("The inbox has no sender number");
  const prefix = channel === "whatsapp" ? "whatsapp:" : "";
  const form = new URLSearchParams({ To: prefix + to, From: prefix + settings.phoneNumber });
  const template = templateOf(outbound.channelData);
  if (template) {
    if (channel !== "whatsapp") throw new PermanentSendError("Templates are sent on WhatsApp only");
    form.set("ContentSid", template.contentSid);
    if (Object.keys(template.variables ?? {}).length) form.set("ContentVariables", JSON.stringify(template.variables));
  } else if (outbound.text?.trim()) {
    form.set("Body", outbound.text);
  }
  if (outbound.attachments.length) {
    const urls = twilio.mediaUrls ?? [];
    if (urls.length !== outbound.attachments.length || !urls.every((u) => /^https?:\/\//.test(u)))
      throw new PermanentSendError(
        "Files cannot be sent by Twilio from this server: it has no public address (set PUBLIC_URL)",
      );
    // Twilio takes one file per WhatsApp message and up to ten per MMS; more are refused by Twilio.
    for (const url of urls) form.append("MediaUrl", url);
  }
  if (!form.has("Body") && !form.has("ContentSid") && !form.has("MediaUrl"))
    throw new PermanentSendError("Nothing to send: the message has no text, file or template");
  if (twilio.statusCallback) form.set("StatusCallback", twilio.statusCallback);
  return form;
}

async function twilioError(res: Response) {
  const text = await res.text().catch(() => "");
  let body: { code?: number | string; message?: string } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // A proxy's HTML page: the status says enough.
  }
  const code = body.code === undefined ? undefined : String(body.code);
  const meaning = code ? (ERROR_MEANINGS[code] ?? body.message) : body.message;
  return { code, reason: `Twilio answered ${res.status}${code ? ` (${code}: ${meaning ?? "error"})` : ""}` };
}

export function createMessagingAdapter(channel: "sms" | "whatsapp", options: { fetch?: typeof fetch } = {}) {
  const doFetch = options.fetch ?? fetch;
  return {
    channel,
    capabilities: messagingCapabilities,
    async send(outbound: OutboundMessage): Promise<SendResult> {
      const settings = outbound.inbox.settings as { accountSid?: string; apiBaseUrl?: string };
      const authToken = outbound.inbox.credentials.authToken;
      if (!settings.accountSid || typeof authToken !== "string")
        throw new PermanentSendError("The inbox has no Twilio Account SID and auth token");
      const form = messageForm(outbound, channel);
      const twilio = (outbound.channelData?.twilio ?? {}) as TwilioChannelData;
      const base = (twilio.apiBaseUrl ?? settings.apiBaseUrl ?? TWILIO_API).replace(/\/$/, "");
      const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(settings.accountSid)}/Messages.json`;
      let res: Response;
      try {
        res = await doFetch(url, {
          method: "POST",
          headers: {
            authorization: `Basic ${btoa(`${settings.accountSid}:${authToken}`)}`,
            "content-type": "application/x-www-form-urlencoded",
            accept: "application/json",
          },
          body: form.toString(),
          redirect: "manual",
          signal: AbortSignal.timeout(15_000),
        });
      } catch (err) {
        // Network trouble or a timeout: the outbox tries again.
        throw new Error(`Twilio could not be reached: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (res.status === 429 || res.status >= 500) throw new Error((await twilioError(res)).reason);
      if (res.status >= 300) {
        const { code, reason } = await twilioError(res);
        // Any other refusal (bad number, opted out, outside the window, bad credentials) will not change
        // by retrying: failed with the reason, for the agent.
        if (code && PERMANENT_CODES.has(code)) throw new PermanentSendError(`${code}: ${ERROR_MEANINGS[code]}`);
        throw new PermanentSendError(reason);
      }
      const body = (await res.json().catch(() => ({}))) as { sid?: unknown };
      if (typeof body.sid !== "string") throw new Error("Twilio accepted the message but answered no sid");
      return { externalId: body.sid, status: "sent" };
    },
  } as const;
}
