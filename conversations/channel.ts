import { z } from "zod";
import { channels } from "../db/schema/inbox.ts";
import { identityKinds } from "../db/schema/contact.ts";

/**
 * The contract between channel adapters (channels/<name>) and the conversations core. Adapters parse
 * and send; they never touch the database.
 */
export const Identity = z.object({
  kind: z.enum(identityKinds),
  value: z.string().min(1).max(320),
  displayName: z.string().max(200).optional(),
  verified: z.boolean().optional(),
});
export type Identity = z.infer<typeof Identity>;

export const MAX_TEXT = 10_000;

export const NormalizedInbound = z.object({
  channel: z.enum(channels),
  /** The inbox (widget, number, mailbox, bot) it came through. */
  channelAccountId: z.uuid(),
  /** Provider's message or call id: the idempotency key, unique per inbox. */
  externalId: z.string().min(1).max(512),
  from: Identity,
  threadKey: z.string().max(998).optional(),
  kind: z.enum(["text", "media", "call_event", "status_update"]).default("text"),
  text: z.string().max(MAX_TEXT).optional(),
  html: z.string().optional(),
  /** Ids of attachments already stored (the gateway stores uploads before ingest). */
  attachments: z.array(z.uuid()).max(20).default([]),
  sentAt: z.date().optional(),
  raw: z.unknown().optional(),
  /** Channel fields the timeline shows with the message (an email's subject, from/to/cc, quote). */
  data: z.record(z.string(), z.unknown()).optional(),
});
export type NormalizedInbound = z.input<typeof NormalizedInbound>;

export type OutboundMessage = {
  /** Stable per outbox row: adapters pass it to providers that dedupe, since a crash can resend. */
  idempotencyKey: string;
  inbox: { id: string; channel: string; settings: Record<string, unknown>; credentials: Record<string, unknown> };
  conversationId: string;
  to: Identity[];
  text: string | null;
  html: string | null;
  attachments: { id: string; name: string; contentType: string; size: number; url: string }[];
  threadKey?: string;
  /** Who wrote it (the agent's name), for channels that show a sender. */
  senderName?: string | null;
  /** Channel-specific details prepared before sending (OutboxOptions.prepare), e.g. email headers. */
  channelData?: Record<string, unknown>;
};

export type SendResult = { externalId: string; status: "sent" | "delivered" };

/** Thrown by an adapter when retrying cannot help (bad address, rejected content). */
export class PermanentSendError extends Error {}

/**
 * Thrown by an adapter when the provider said when to try again (Telegram's 429 with `retry_after`):
 * the outbox waits at least that long before the next attempt instead of its own, shorter backoff.
 */
export class RetryLaterError extends Error {
  constructor(
    message: string,
    readonly afterMs: number,
  ) {
    super(message);
  }
}

export type ChannelCapabilities = {
  text: boolean;
  media: boolean;
  voice: boolean;
  typing: boolean;
  readReceipts: boolean;
  /** Seconds after which a sent message can no longer be edited; 0 = never editable. */
  editWindow: number;
};

/**
 * What the outbox needs of a channel. Ingress differs too much between channels to share a signature
 * (a signed webhook, an IMAP fetch, a Wechaty event, a visitor's token), so each channel folder
 * exports its own `verify` and `parse` producing NormalizedInbound, and the gateway wires them.
 */
export interface ChannelAdapter {
  readonly channel: z.infer<typeof NormalizedInbound>["channel"];
  readonly capabilities: ChannelCapabilities;
  send(outbound: OutboundMessage): Promise<SendResult>;
}
