import { and, asc, desc, eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { contactIdentities, conversations, timelineItems } from "../db/schema/index.ts";
import { DomainError } from "../platform/errors.ts";
import { OPT_OUT_CHANNELS, recipientKindOf, recipientOf } from "./recipient.ts";

/**
 * Opt-out (SMS and WhatsApp): a customer who wrote STOP (退订) must get nothing more through that
 * channel until they write START. The gateway sets `contact_identities.opted_out_at`; a reply is refused
 * here when it is written, and the sender's preparation (apps/gateway/twilio-messaging/outbound.ts)
 * refuses again a reply queued before the STOP.
 */

const CHANNEL_WORDS: Record<string, string> = { sms: "SMS", whatsapp: "WhatsApp" };

/** What the agent reads: who opted out, when, and what lifts it. */
export function optedOutMessage(channel: string, value: string, optedOutAt: Date) {
  const name = CHANNEL_WORDS[channel] ?? channel;
  const day = optedOutAt.toISOString().slice(0, 10);
  return (
    `${value} replied STOP on ${day} and opted out of ${name} messages: nothing can be sent to them by ${name} ` +
    "until they write START. Reach them another way; internal notes are still allowed."
  );
}

/** A customer reply refused because its recipient opted out of the channel (409). */
export class OptedOut extends DomainError {
  constructor(message: string) {
    super(409, "opted_out", message, "inboxId");
  }
}

/**
 * The recipient of a reply through `inbox` in a conversation when they have opted out, else null: the
 * number the customer last wrote from through the inbox, else the contact's oldest of the kind.
 */
export async function optedOutRecipient(
  db: Executor,
  c: { workspaceId: string; contactId: string },
  inbox: { id: string; channel: string; settings: Record<string, unknown> },
): Promise<{ value: string; optedOutAt: Date } | null> {
  if (!OPT_OUT_CHANNELS.has(inbox.channel)) return null;
  const to = await recipientThrough(db, c, inbox);
  return to?.optedOutAt ? { value: to.value, optedOutAt: to.optedOutAt } : null;
}

/**
 * Who a reply through `inbox` goes to (recipient.ts's rule, read from the database): the identity the
 * customer last wrote from through the inbox, else the contact's oldest of the kind, with its opt-out.
 */
export async function recipientThrough(
  db: Executor,
  c: { workspaceId: string; contactId: string },
  inbox: { id: string; channel: string; settings: Record<string, unknown> },
): Promise<{ value: string; optedOutAt: Date | null } | undefined> {
  const kind = recipientKindOf(inbox);
  if (!kind) return undefined;
  const [identities, [last]] = await Promise.all([
    db
      .select({
        kind: contactIdentities.kind,
        value: contactIdentities.value,
        optedOutAt: contactIdentities.optedOutAt,
      })
      .from(contactIdentities)
      .where(
        and(
          eq(contactIdentities.workspaceId, c.workspaceId),
          eq(contactIdentities.contactId, c.contactId),
          eq(contactIdentities.kind, kind),
        ),
      )
      .orderBy(asc(contactIdentities.createdAt), asc(contactIdentities.id)),
    db
      .select({ data: timelineItems.data })
      .from(timelineItems)
      .innerJoin(conversations, eq(conversations.id, timelineItems.conversationId))
      .where(
        and(
          eq(conversations.workspaceId, c.workspaceId),
          eq(conversations.contactId, c.contactId),
          eq(timelineItems.inboxId, inbox.id),
          eq(timelineItems.type, "message"),
          eq(timelineItems.direction, "in"),
        ),
      )
      .orderBy(desc(timelineItems.seq))
      .limit(1),
  ]);
  const from = typeof last?.data.from === "string" ? last.data.from : null;
  return recipientOf(identities, kind, from);
}

/** Refuses a customer reply through `inbox` to a recipient who opted out (409 opted_out). Notes never come here. */
export async function assertNotOptedOut(
  db: Executor,
  c: { workspaceId: string; contactId: string },
  inbox: { id: string; channel: string; settings: Record<string, unknown> },
) {
  const out = await optedOutRecipient(db, c, inbox);
  if (out) throw new OptedOut(optedOutMessage(inbox.channel, out.value, out.optedOutAt));
}
