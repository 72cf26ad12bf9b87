import { and, eq } from "drizzle-orm";
import { Hono, type Context } from "hono";
import { z } from "zod";
import {
  addressOf,
  consentChange,
  formParams,
  parseInboundMessage,
  parseStatusCallback,
  toInbound,
  verifyTwilioSignature,
  type TwilioMessage,
} from "../../../channels/twilio-messaging/index.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { provenRoute } from "../../../conversations/inbox-route.ts";
import { findDelivered, ingestInbound, type IngestResult } from "../../../conversations/ingest.ts";
import { inboxes } from "../../../db/schema/index.ts";
import { errorBody } from "../../../platform/errors.ts";
import { TtlCache } from "../../../platform/ttl-cache.ts";
import type { Runtime } from "../../server/runtime.ts";
import { announceContact, contactOfSender, linkToPhoneContact, setConsent } from "./contact-link.ts";
import { apiBaseOf, downloadMedia } from "./media.ts";
import { applyStatus } from "./status.ts";

const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>';
const twiml = (c: Context) => c.body(EMPTY_TWIML, 200, { "content-type": "text/xml; charset=utf-8" });
const forbidden = (c: Context) => c.json(errorBody("forbidden", "Invalid Twilio signature", "X-Twilio-Signature"), 403);
const ItemId = z.uuid();
const INBOX_CACHE_MS = 5000;

type MessagingInbox = {
  id: string;
  workspaceId: string;
  channel: "sms" | "whatsapp";
  settings: Record<string, unknown>;
};

/**
 * Twilio Messaging's webhooks for SMS and WhatsApp inboxes (set on the number or sender in Twilio's
 * console): `POST /webhooks/twilio/messaging` for each incoming message and `…/status` for the progress
 * of the replies we sent. The inbox is the one whose routing key is the webhook's AccountSid and our
 * number; its auth token must have signed the request, or nothing is read and the answer is 403.
 */
export function twilioMessagingWebhooks(rt: Runtime) {
  const app = new Hono();

  /** The URL exactly as Twilio requested it: PUBLIC_URL behind a proxy, else the request's own. */
  const signedUrl = (c: Context) => {
    const url = new URL(c.req.url);
    return rt.config.publicUrl ? `${rt.config.publicUrl}${url.pathname}${url.search}` : c.req.url;
  };

  // An inbox and its opened token for a few seconds: reading and unsealing them on every message costs
  // more than the rest of a webhook's checks. A changed token applies on every node within this time.
  const cache = new TtlCache<string, { inbox: MessagingInbox; authToken: string }>(INBOX_CACHE_MS);

  async function inboxOf(channel: "sms" | "whatsapp", key: string) {
    const route = await provenRoute(rt.core.db, channel, key);
    if (!route) return undefined;
    const [row] = await rt.core.db
      .select()
      .from(inboxes)
      .where(and(eq(inboxes.id, route.inboxId), eq(inboxes.workspaceId, route.workspaceId)));
    if (!row || row.channel !== channel) return undefined;
    const authToken = readCredentials(rt.keyring, row, rt.core.db).authToken;
    if (typeof authToken !== "string") return undefined;
    return { inbox: { id: row.id, workspaceId: row.workspaceId, channel, settings: row.settings }, authToken };
  }

  /** The inbox the request is for, if its token signed it; our number is `To` inbound, `From` in a status. */
  async function signedBy(c: Context, ours: "To" | "From") {
    const params = formParams(await c.req.parseBody());
    let number: { whatsapp: boolean; number: string };
    try {
      number = addressOf(params[ours] ?? "", ours);
    } catch {
      return undefined;
    }
    if (!params.AccountSid) return undefined;
    const channel = number.whatsapp ? "whatsapp" : "sms";
    const key = `${params.AccountSid}:${number.number}`.toLowerCase();
    const found = await cache.getOr(`${channel}:${key}`, () => inboxOf(channel, key));
    if (!found || !verifyTwilioSignature(found.authToken, c.req.header("x-twilio-signature"), signedUrl(c), params))
      return undefined;
    return { ...found, params };
  }

  app.post("/webhooks/twilio/messaging", async (c) => {
    const signed = await signedBy(c, "To");
    if (!signed) return forbidden(c);
    const { inbox, params, authToken } = signed;
    const message = parseInboundMessage(params);
    // A retry of a message with files already stored: answered as the first time, nothing downloaded
    // again. (Without files, ingest itself answers a retry with the stored message.)
    if (message.media.length && (await findDelivered(rt.core.db, inbox.workspaceId, inbox.id, message.messageSid)))
      return twiml(c);
    await receive(inbox, message, authToken);
    return twiml(c);
  });

  async function receive(inbox: MessagingInbox, message: TwilioMessage, authToken: string) {
    const ws = inbox.workspaceId;
    const identity = { kind: message.channel === "whatsapp" ? "whatsapp" : "phone", value: message.from } as const;
    const consent = consentChange(message.body);
    // A WhatsApp sender known by phone joins that contact; files need their owner before they are stored.
    if (message.channel === "whatsapp") await linkToPhoneContact(rt.core, ws, message.from);
    const contactId = message.media.length
      ? await contactOfSender(rt.core, ws, { ...identity, displayName: message.profileName })
      : undefined;
    const media =
      contactId && message.media.length
        ? await downloadMedia(
            rt,
            ws,
            contactId,
            { accountSid: message.accountSid, authToken, apiBaseUrl: apiBaseOf(rt, inbox.settings) },
            message,
          )
        : { ids: [], errors: [] };
    const inbound = toInbound(message, {
      inboxId: inbox.id,
      attachments: media.ids,
      data: {
        ...(media.errors.length ? { mediaErrors: media.errors } : {}),
        // Shown with the message: the customer opted out of (or back into) messages from us.
        ...(consent ? { consent } : {}),
      },
    });
    let stored: IngestResult;
    if (consent || media.ids.length) {
      // The opt-out is recorded in the message's own transaction: a stored STOP is always in force.
      stored = await ingestInbound(rt.core, ws, inbound, {
        stored: async (tx) => {
          if (consent) await setConsent(tx, ws, identity, consent);
        },
      });
      if (consent && !stored.duplicate) await announceContact(rt.core, ws, stored.contactId);
    } else {
      stored = await rt.inbound.submit(ws, inbound);
    }
    // Stored by a concurrent delivery of the same message: its files are not needed twice.
    if (stored.duplicate && media.ids.length) await rt.files.discard(rt.core.db, ws, media.ids);
  }

  app.post("/webhooks/twilio/messaging/status", async (c) => {
    const signed = await signedBy(c, "From");
    if (!signed) return forbidden(c);
    const report = parseStatusCallback(signed.params);
    if (report) {
      const item = ItemId.safeParse(c.req.query("item"));
      let to: string | undefined;
      try {
        to = signed.params.To ? addressOf(signed.params.To, "To").number : undefined;
      } catch {
        to = undefined;
      }
      await applyStatus(rt.core, signed.inbox, report, { itemId: item.success ? item.data : undefined, to });
    }
    return twiml(c);
  });

  return app;
}
