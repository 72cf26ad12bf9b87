import { and, desc, eq, inArray, or, sql } from "drizzle-orm";
import type { Executor, Tx } from "../db/connect.ts";
import { contacts, conversations, inboxes, timelineItems, type Conversation } from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { parseInput } from "../platform/validation.ts";
import { appendItem } from "./append-item.ts";
import { NormalizedInbound, type NormalizedInbound as InboundInput } from "./channel.ts";
import { resolveContact } from "./contact.ts";
import {
  contactOf,
  conversationView,
  OPEN_STATUSES,
  scopeOf,
  summarize,
  type ConversationView,
} from "./conversation.ts";
import { takeSeqs } from "./event.ts";
import { loadTimelineItem, type TimelineView } from "./timeline.ts";
import { withEvents, type Core } from "./transaction.ts";

class DuplicateDelivery extends Error {}

export type IngestResult = {
  duplicate: boolean;
  conversation: ConversationView;
  item: TimelineView;
  contactId: string;
};

export function validateInbound(input: InboundInput) {
  return parseInput(NormalizedInbound, input);
}

/**
 * How a channel with threading of its own (email) places a message, decided inside the ingest
 * transaction once the contact is known and locked: an existing conversation (reopened if resolved),
 * or a new one. Without it, the contact's open conversation is used, as for chat.
 */
export type Placement = { conversationId: string; keepStatus?: boolean } | { newConversation: true } | undefined;

export type IngestOptions = {
  /**
   * The caller has just looked and found nothing stored under this external id (email does, before
   * its own rules): the first look is skipped. A concurrent delivery is still caught by the unique key.
   */
  checked?: boolean;
  place?: (tx: Tx, contactId: string) => Promise<Placement>;
  /** Runs in the same transaction once the message is stored (a channel's own index of it). */
  stored?: (tx: Tx, stored: { conversationId: string; itemId: string; contactId: string }) => Promise<void>;
};

/**
 * One inbound message, in one transaction: contact by identity, the contact's open conversation (or
 * a new one), the message, and the events. Idempotent on (inbox, external id): a provider's retry
 * returns the stored message and changes nothing.
 */
export async function ingestInbound(
  core: Core,
  workspaceId: string,
  input: InboundInput,
  options: IngestOptions = {},
): Promise<IngestResult> {
  const inbound = validateInbound(input);
  const existing = options.checked
    ? undefined
    : await findDelivered(core.db, workspaceId, inbound.channelAccountId, inbound.externalId);
  if (existing) return existing;
  try {
    return await withEvents(core, async (tx, events) => {
      const [inbox] = await tx
        .select({ id: inboxes.id })
        .from(inboxes)
        .where(and(eq(inboxes.id, inbound.channelAccountId), eq(inboxes.workspaceId, workspaceId)));
      if (!inbox) throw new NotFound("Inbox", "channelAccountId");
      const { contactId } = await resolveContact(tx, workspaceId, inbound.from);
      // Serializes ingest per contact, so two first messages racing open one conversation, not two.
      const [locked] = await tx
        .select({ id: contacts.id, name: contacts.name })
        .from(contacts)
        .where(eq(contacts.id, contactId))
        .for("update");
      const contact = locked!;
      const placement = options.place ? await options.place(tx, contactId) : undefined;
      let [conversation] = !placement
        ? await tx
            .select()
            .from(conversations)
            .where(and(eq(conversations.contactId, contactId), inArray(conversations.status, OPEN_STATUSES)))
            .orderBy(desc(conversations.lastActivityAt))
            .limit(1)
            // Locks are always taken contact → conversation → workspace counter (nextSeq), the order
            // agent actions use too, so an inbound message and an agent's change cannot deadlock.
            .for("update")
        : "conversationId" in placement
          ? await tx
              .select()
              .from(conversations)
              .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.id, placement.conversationId)))
              .for("update")
          : [];
      // A new conversation takes its event's seq and the message's in one bump of the counter.
      let itemSeq: number | undefined;
      if (!conversation) {
        [conversation] = await tx
          .insert(conversations)
          .values({ workspaceId, contactId, inboxId: inbound.channelAccountId, channel: inbound.channel })
          .returning();
        const seq = await takeSeqs(tx, workspaceId, 2);
        itemSeq = seq + 1;
        await events.append(workspaceId, {
          seq,
          type: "conversation.created",
          conversationId: conversation!.id,
          payload: { conversation: conversationView(conversation!, contact), scope: scopeOf(conversation!) },
        });
      }
      const text = inbound.text ?? null;
      const appended = await appendItem(
        tx,
        events,
        conversation!,
        {
          type: "message",
          direction: "in",
          channel: inbound.channel,
          inboxId: inbound.channelAccountId,
          externalId: inbound.externalId,
          senderType: "contact",
          senderId: contactId,
          text,
          html: inbound.html ?? null,
          data: {
            senderName: contact.name ?? inbound.from.displayName ?? null,
            ...(inbound.threadKey ? { threadKey: inbound.threadKey } : {}),
            ...inbound.data,
          },
          createdAt: inbound.sentAt,
        },
        { ids: inbound.attachments, owner: { contactId } },
        itemSeq,
      );
      if (!appended) throw new DuplicateDelivery();
      await options.stored?.(tx, { conversationId: conversation!.id, itemId: appended.row.id, contactId });
      const files = appended.view.attachments;
      // An automatic message (an out-of-office reply) joins its conversation without reopening it.
      const keep = !!placement && "conversationId" in placement && placement.keepStatus === true;
      const [updated] = await tx
        .update(conversations)
        .set({
          ...(keep
            ? {}
            : {
                // A customer writing again reopens a pending or snoozed conversation.
                status: "open" as const,
                snoozedUntil: null,
                resolvedAt: null,
                // The customer waits from their first message that no agent has answered yet.
                waitingSince: sql`COALESCE(${conversations.waitingSince}, ${appended.row.createdAt.toISOString()}::timestamptz)`,
              }),
          inboxId: inbound.channelAccountId,
          channel: inbound.channel,
          lastMessageText: summarize(text, files.length),
          lastActivityAt: new Date(),
        })
        .where(eq(conversations.id, conversation!.id))
        .returning();
      const view = conversationView(updated!, contact);
      if (conversation!.status !== updated!.status) {
        await events.append(workspaceId, {
          type: "conversation.updated",
          conversationId: updated!.id,
          payload: { conversation: view, changes: { status: "open" }, scope: scopeOf(updated!) },
        });
      }
      return { duplicate: false, conversation: view, item: appended.view, contactId };
    });
  } catch (err) {
    // A concurrent delivery of the same external id committed first: answer as for any retry.
    if (err instanceof DuplicateDelivery)
      return (await findDelivered(core.db, workspaceId, inbound.channelAccountId, inbound.externalId))!;
    throw err;
  }
}

export async function findDelivered(
  db: Executor,
  workspaceId: string,
  inboxId: string,
  externalId: string,
): Promise<IngestResult | undefined> {
  const [row] = await db
    .select({ id: timelineItems.id })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.workspaceId, workspaceId),
        eq(timelineItems.inboxId, inboxId),
        eq(timelineItems.externalId, externalId),
      ),
    );
  if (!row) return undefined;
  const item = (await loadTimelineItem(db, row.id))!;
  const [c] = await db.select().from(conversations).where(eq(conversations.id, item.conversationId));
  const contact = await contactOf(db, c!.contactId);
  return { duplicate: true, conversation: conversationView(c!, contact), item, contactId: contact.id };
}

/**
 * The open conversations of many contacts at once (batched ingest, batched call starts), locked in
 * the order message ingest takes its locks (contacts, then conversations, each sorted): per contact
 * its most recently active open conversation, else a new one made from `fresh(contactId)`; and the
 * contacts' names. Contacts this transaction has just created (`newContacts`) need no lock and have
 * no conversation yet.
 */
export async function openConversationsOf(
  tx: Tx,
  workspaceId: string,
  contactIds: string[],
  fresh: (contactId: string) => Omit<typeof conversations.$inferInsert, "workspaceId" | "contactId">,
  newContacts: Set<string> = new Set(),
  /**
   * Messages a channel placed itself (a Slack thread's conversation): their writers are locked and
   * named with the others, and these conversations locked with the open ones, each kind in one
   * statement in id order, so two batches cannot lock them in opposite orders.
   */
  placed: { contactIds: string[]; conversationIds: string[] } = { contactIds: [], conversationIds: [] },
) {
  const all = [...new Set(contactIds)].sort();
  const known = all.filter((id) => !newContacts.has(id));
  const lockedContacts = [...new Set([...known, ...placed.contactIds.filter((id) => !newContacts.has(id))])];
  const placedIds = [...new Set(placed.conversationIds)];
  const [locked, lockedConversations] = await Promise.all([
    lockedContacts.length
      ? tx
          .select({ id: contacts.id, name: contacts.name })
          .from(contacts)
          .where(inArray(contacts.id, lockedContacts))
          .orderBy(contacts.id)
          .for("update")
      : [],
    known.length || placedIds.length
      ? tx
          .select()
          .from(conversations)
          .where(
            or(
              known.length
                ? and(inArray(conversations.contactId, known), inArray(conversations.status, OPEN_STATUSES))
                : undefined,
              placedIds.length
                ? and(eq(conversations.workspaceId, workspaceId), inArray(conversations.id, placedIds))
                : undefined,
            ),
          )
          .orderBy(conversations.id)
          .for("update")
      : [],
  ]);
  const nameOf = new Map<string, string | null>(locked.map((c) => [c.id, c.name]));
  const conversationOf = new Map<string, Conversation>();
  const placedById = new Map<string, Conversation>();
  const knownSet = new Set(known);
  const placedSet = new Set(placedIds);
  for (const c of lockedConversations) {
    if (placedSet.has(c.id)) placedById.set(c.id, c);
    // Only an open conversation of a contact looked up for one counts as theirs.
    if (!knownSet.has(c.contactId) || !OPEN_STATUSES.includes(c.status)) continue;
    const current = conversationOf.get(c.contactId);
    if (!current || c.lastActivityAt > current.lastActivityAt) conversationOf.set(c.contactId, c);
  }
  const created = new Set<string>();
  const missing = all.filter((id) => !conversationOf.has(id));
  if (missing.length) {
    for (const c of await tx
      .insert(conversations)
      .values(missing.map((contactId) => ({ ...fresh(contactId), workspaceId, contactId })))
      .returning()) {
      conversationOf.set(c.contactId, c);
      created.add(c.id);
    }
  }
  return { nameOf, conversationOf, created, placedById };
}
