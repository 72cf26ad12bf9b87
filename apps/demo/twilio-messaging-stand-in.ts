import { and, inArray, sql } from "drizzle-orm";
import { Hono } from "hono";
import twilio from "twilio";
import { readCredentials } from "../../conversations/inbox.ts";
import { inboxes } from "../../db/schema/index.ts";
import { fakeSid } from "./twilio-stand-in.ts";
import { errorBody } from "../../platform/errors.ts";
import { log } from "../../platform/log.ts";
import type { Runtime } from "../server/runtime.ts";

/** The demo SMS and WhatsApp inboxes' API base when TWILIO_API_BASE is unset (a path on this server). */
export const MESSAGING_STAND_IN_PATH = "/simulator/twilio-messaging";
/** How many sent messages the stand-in remembers for `GET /simulator/messages`. */
const KEPT = 200;

type SentMessage = {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  body: string | null;
  contentSid: string | null;
  contentVariables: Record<string, string> | null;
  mediaUrls: string[];
  createdAt: string;
};

/**
 * The StatusCallback a reply names, if it is this server's own status route (reached at the address
 * the reply was posted to, or at PUBLIC_URL); anything else is not called.
 */
export function ownStatusCallback(given: string | null, requestUrl: string, publicUrl?: string) {
  if (!given || !URL.canParse(given)) return undefined;
  const url = new URL(given);
  const own = [new URL(requestUrl).origin, ...(publicUrl ? [new URL(publicUrl).origin] : [])];
  return own.includes(url.origin) && url.pathname === "/webhooks/twilio/messaging/status" ? given : undefined;
}

/**
 * Demo mode only: Twilio's Messages API for the demo's SMS and WhatsApp inboxes, without an account.
 * `POST …/2010-04-01/Accounts/{sid}/Messages.json` takes a reply as Twilio does (Basic auth with the
 * inbox's account and token), answers with a Message SID, and then reports it sent and delivered to its
 * StatusCallback, signed as Twilio signs. `GET /simulator/messages` lists what was sent, newest first.
 */
export function twilioMessagingStandIn(rt: Runtime) {
  const app = new Hono();
  const sent: SentMessage[] = [];
  const tokens = new Map<string, string>();

  app.post(`${MESSAGING_STAND_IN_PATH}/2010-04-01/Accounts/:sid/Messages.json`, async (c) => {
    const accountSid = c.req.param("sid");
    if (!/^AC[0-9a-fA-F]{32}$/.test(accountSid)) return c.json(errorBody("not_found", "No such account", "sid"), 404);
    const token = await tokenOf(accountSid);
    if (!token || c.req.header("authorization") !== `Basic ${btoa(`${accountSid}:${token}`)}`)
      return c.json({ code: 20003, message: "Authenticate", status: 401 }, 401);
    const form = new URLSearchParams(await c.req.text());
    const to = form.get("To");
    const from = form.get("From");
    if (!to || !from) return c.json({ code: 21604, message: "A 'To' and a 'From' are required", status: 400 }, 400);
    const message: SentMessage = {
      sid: fakeSid("SM"),
      accountSid,
      to,
      from,
      body: form.get("Body"),
      contentSid: form.get("ContentSid"),
      contentVariables: form.get("ContentVariables") ? JSON.parse(form.get("ContentVariables")!) : null,
      mediaUrls: form.getAll("MediaUrl"),
      createdAt: new Date().toISOString(),
    };
    sent.unshift(message);
    sent.length = Math.min(sent.length, KEPT);
    // Only this server's own status route is called back: the demo token is public, and the stand-in
    // must not become a way to make the server POST to any address.
    const callback = ownStatusCallback(form.get("StatusCallback"), c.req.url, rt.config.publicUrl);
    if (callback) void report(callback, message, token);
    return c.json({ sid: message.sid, account_sid: accountSid, to, from, body: message.body, status: "queued" }, 201);
  });

  app.get("/simulator/messages", (c) => c.json({ items: sent }));

  /** The auth token of a demo inbox's account (read from its sealed credentials). */
  async function tokenOf(accountSid: string) {
    if (tokens.has(accountSid)) return tokens.get(accountSid);
    const [row] = await rt.core.db
      .select()
      .from(inboxes)
      .where(
        and(inArray(inboxes.channel, ["sms", "whatsapp"]), sql`${inboxes.settings}->>'accountSid' = ${accountSid}`),
      )
      .limit(1);
    const token = row ? readCredentials(rt.keyring, row).authToken : undefined;
    if (typeof token === "string") tokens.set(accountSid, token);
    return typeof token === "string" ? token : undefined;
  }

  /** "sent", then "delivered", a moment apart, as a carrier would report them. */
  async function report(url: string, message: SentMessage, token: string) {
    for (const [status, delayMs] of [
      ["sent", 300],
      ["delivered", 700],
    ] as const) {
      await Bun.sleep(delayMs);
      const params = {
        MessageSid: message.sid,
        AccountSid: message.accountSid,
        From: message.from,
        To: message.to,
        MessageStatus: status,
      };
      await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-twilio-signature": twilio.getExpectedTwilioSignature(token, url, params),
        },
        body: new URLSearchParams(params),
        signal: AbortSignal.timeout(10_000),
      }).catch((err: unknown) => log.warn("twilio stand-in: status callback failed", { url, err: String(err) }));
    }
  }

  app.onError((err, c) => c.json(errorBody("invalid", err.message), 400));
  return app;
}
