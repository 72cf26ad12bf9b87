import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { MAX_TEXT, type Identity, type NormalizedInbound } from "../../conversations/channel.ts";

/**
 * The API channel: a business's own app (or a channel we do not ship) posts its customers' messages
 * in with the inbox's token, and gets the agents' replies POSTed to its callback URL, signed with the
 * inbox's secret. Pure: parsing, the callback's body and its signature; the gateway does the rest.
 */

/** What the integration posts to `POST /api/v1/inboxes/:id/messages`. */
export const ApiInboundMessage = z.object({
  contact: z.object(
    {
      identifier: z.string().trim().min(1, "is required").max(320),
      name: z.string().trim().max(200).optional(),
      email: z.email().max(320).optional(),
      phone: z
        .string()
        .trim()
        .regex(/^\+?[0-9\s().-]{3,30}$/, "must be a phone number")
        .optional(),
    },
    { error: "is required" },
  ),
  text: z.string().max(MAX_TEXT, `must be at most ${MAX_TEXT} characters`),
  externalId: z.string().trim().min(1).max(200).optional(),
  /** Files the integration hosts: shown as links with the message (not downloaded). */
  attachments: z
    .array(
      z.object({
        url: z.url({ protocol: /^https?$/ }).max(2000),
        name: z.string().max(200).optional(),
        contentType: z.string().max(200).optional(),
      }),
    )
    .max(20)
    .optional(),
});
export type ApiInboundMessage = z.infer<typeof ApiInboundMessage>;

/** The inbox's own setting: where agents' replies go. */
export const ApiSetup = z.object({
  callbackUrl: z.url({ protocol: /^https?$/, error: "must be an http or https URL" }).max(2000),
});

/** The customer's identity (kind "api", the integration's identifier) and the others they gave, unverified. */
export function identitiesOf(contact: ApiInboundMessage["contact"]): { from: Identity; extra: Identity[] } {
  const from: Identity = { kind: "api", value: contact.identifier, displayName: contact.name, verified: true };
  const extra: Identity[] = [];
  if (contact.email) extra.push({ kind: "email", value: contact.email, verified: false });
  if (contact.phone) extra.push({ kind: "phone", value: contact.phone, verified: false });
  return { from, extra };
}

/**
 * The message as the core stores it. Without an externalId each post is a new message; with one, the
 * same id again is the same message (the integration's retry).
 */
export function toInbound(inboxId: string, message: ApiInboundMessage, fallbackId: string): NormalizedInbound {
  const { from } = identitiesOf(message.contact);
  return {
    channel: "api",
    channelAccountId: inboxId,
    externalId: message.externalId ?? `api:${fallbackId}`,
    from,
    text: message.text,
    data: message.attachments?.length ? { links: message.attachments } : undefined,
  };
}

/** The body POSTed to the callback URL for an agent's reply. */
export type CallbackEvent = {
  id: string;
  type: "message.created";
  createdAt: string;
  data: {
    conversationId: string;
    itemId: string;
    text: string | null;
    attachments: { id: string; name: string; contentType: string; size: number; url: string }[];
    contact: { id: string; identifier: string | null; name: string | null };
  };
};

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">` with the inbox secret. */
export function signature(secret: string, timestamp: number | string, rawBody: string) {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${rawBody}`).digest("hex")}`;
}

/** The headers that sign a callback body, for a timestamp in unix seconds. */
export function signedHeaders(secret: string, rawBody: string, nowSeconds = Math.floor(Date.now() / 1000)) {
  return {
    "content-type": "application/json",
    "x-switchboard-timestamp": String(nowSeconds),
    "x-switchboard-signature": signature(secret, nowSeconds, rawBody),
  };
}

/**
 * How a receiver checks a callback (documented in docs/channels/api.md; used by the tests): the
 * signature in constant time, and a timestamp within `toleranceSeconds` of now.
 */
export function verifySignature(
  secret: string,
  headers: { timestamp: string | null; signature: string | null },
  rawBody: string,
  options: { nowSeconds?: number; toleranceSeconds?: number } = {},
) {
  const { timestamp, signature: given } = headers;
  if (!timestamp || !given || !/^\d+$/.test(timestamp)) return false;
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(timestamp)) > (options.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signature(secret, timestamp, rawBody));
  const actual = Buffer.from(given);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
