import { and, desc, eq, inArray, isNull, lte, ne, sql, type SQLWrapper } from "drizzle-orm";
import { combined, rowsOf, type Executor, type Tx } from "../db/connect.ts";
import { insertRecords } from "../db/records.ts";
import {
  attachments,
  contacts,
  conversations,
  inboxes,
  outbox,
  teams,
  timelineItems,
  users,
  type Conversation,
  type ConversationStatus,
  type TimelineItem,
} from "../db/schema/index.ts";
import { Forbidden, Invalid, NotFound } from "../platform/errors.ts";
import { can } from "../platform/permission.ts";
import { parseInput } from "../platform/validation.ts";
import { canSeeConversation, type Actor } from "./actor.ts";
import { NormalizedInbound, MAX_TEXT, type NormalizedInbound as InboundInput } from "./channel.ts";
import { resolveContact } from "./contact.ts";
import type { DomainEvent, EventLog, EventScope } from "./event.ts";
import { firstSeq, nextSeq, seqsQuery, takeSeqs } from "./event.ts";
import { attachmentView, isPublicItem, loadTimelineItem, timelineView, type TimelineView } from "./timeline.ts";
import { withEvents, type Core } from "./transaction.ts";

export type ConversationView = ReturnType<typeof conversationView>;

export function conversationView(c: Conversation, contact: { id: string; name: string | null }) {
  return {
    id: c.id,
    status: c.status,
    channel: c.channel,
    inboxId: c.inboxId,
    priority: c.priority,
    assigneeId: c.assigneeId,
    teamId: c.teamId,
    queueId: c.queueId,
    labels: c.labels,
    contact: { id: contact.id, name: contact.name },
    lastMessage: { text: c.lastMessageText },
    lastActivityAt: c.lastActivityAt.toISOString(),
    waitingSince: c.waitingSince?.toISOString() ?? null,
    createdAt: c.createdAt.toISOString(),
    firstResponseAt: c.firstResponseAt?.toISOString() ?? null,
    resolvedAt: c.resolvedAt?.toISOString() ?? null,
    snoozedUntil: c.snoozedUntil?.toISOString() ?? null,
  };
}

export function scopeOf(c: Pick<Conversation, "contactId" | "assigneeId" | "teamId">): EventScope {
  return { contactId: c.contactId, assigneeId: c.assigneeId, teamId: c.teamId };
}

export const OPEN_STATUSES: ConversationStatus[] = ["open", "pending", "snoozed"];

export async function contactOf(db: Executor, contactId: string) {
  const [row] = await db
    .select({ id: contacts.id, name: contacts.name })
    .from(contacts)
    .where(eq(contacts.id, contactId));
  return row!;
}

/**
 * Appends a timeline item with the next seq, attaches the uploaded files, and logs its `item.created`
 * event under the same seq — with the files, so live clients see exactly what a reload shows.
 */
export async function appendItem(
  tx: Tx,
  events: EventLog,
  conversation: Conversation,
  item: Omit<typeof timelineItems.$inferInsert, "workspaceId" | "seq" | "conversationId">,
  files: { ids: string[]; owner: { contactId?: string; userId?: string } } = { ids: [], owner: {} },
  /** A seq the caller already took (with its neighbours, in one bump of the counter). */
  takenSeq?: number,
): Promise<{ row: TimelineItem; view: TimelineView } | undefined> {
  const seq = takenSeq ?? (await nextSeq(tx, conversation.workspaceId));
  const [row] = await tx
    .insert(timelineItems)
    .values({ ...item, workspaceId: conversation.workspaceId, conversationId: conversation.id, seq })
    .onConflictDoNothing()
    .returning();
  if (!row) return undefined;
  const view = timelineView(row, await linkAttachments(tx, conversation.workspaceId, row.id, files.ids, files.owner));
  await events.append(conversation.workspaceId, {
    seq,
    type: "item.created",
    conversationId: conversation.id,
    public: isPublicItem(row),
    payload: { item: view, scope: scopeOf(conversation) },
  });
  return { row, view };
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
) {
  const all = [...new Set(contactIds)].sort();
  const known = all.filter((id) => !newContacts.has(id));
  const [locked, open] = await Promise.all([
    known.length
      ? tx
          .select({ id: contacts.id, name: contacts.name })
          .from(contacts)
          .where(inArray(contacts.id, known))
          .orderBy(contacts.id)
          .for("update")
      : [],
    known.length
      ? tx
          .select()
          .from(conversations)
          .where(and(inArray(conversations.contactId, known), inArray(conversations.status, OPEN_STATUSES)))
          .orderBy(conversations.id)
          .for("update")
      : [],
  ]);
  const nameOf = new Map<string, string | null>(locked.map((c) => [c.id, c.name]));
  const conversationOf = new Map<string, Conversation>();
  for (const c of open) {
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
  return { nameOf, conversationOf, created };
}

/** An item `appendItems` writes: everything but what the conversation and the seq decide. */
export type NewItem = Pick<TimelineItem, "id" | "type" | "senderType"> &
  Partial<
    Pick<TimelineItem, "direction" | "channel" | "inboxId" | "externalId" | "senderId" | "text" | "eventType" | "data">
  >;

/** A system event item (IVR steps, queued, transferred…) for `appendItems`. */
export const systemItem = (eventType: string, data: Record<string, unknown>): NewItem => ({
  id: crypto.randomUUID(),
  type: "event",
  senderType: "system",
  eventType,
  data,
});

/** Items of one conversation, after `lead` events about the conversation itself (its creation or reopening). */
export type ItemWrites = {
  conversation: Conversation;
  items: NewItem[];
  lead?: { type: string; payload: DomainEvent["payload"] }[];
};

/** How many seqs `writes` take: their lead events and their items. */
export const seqsFor = (writes: ItemWrites[]) => writes.reduce((n, w) => n + (w.lead?.length ?? 0) + w.items.length, 0);

/**
 * Items (no files) and events of one or several conversations in three statements whatever their
 * number: the seqs taken at once, one insert of the items, one of the events. For hot paths that
 * append a few items in a row (a call's start with its IVR turn) and for batches of them. `before`:
 * the caller's last writes, not yet sent, which go out with the seqs' statement in one round trip.
 * Returns each write's item views, or undefined if an item's (inbox, external id) was taken.
 */
export async function appendItems(
  tx: Tx,
  events: EventLog,
  writes: ItemWrites[],
  now = new Date(),
  before: SQLWrapper[] = [],
): Promise<TimelineView[][] | undefined> {
  const count = seqsFor(writes);
  if (!count) {
    if (before.length) await tx.execute(combined(before));
    return writes.map(() => []);
  }
  const workspaceId = writes[0]!.conversation.workspaceId;
  // The caller's last writes and the seqs in one statement: the counter's row is the last lock a
  // transaction takes, and the statement's own rows are the counter's.
  const taken = rowsOf<{ seq: number | string }>(await tx.execute(combined(before, seqsQuery(tx, workspaceId, count))));
  return writeItems(tx, events, writes, firstSeq(taken, workspaceId, count), now);
}

/**
 * `appendItems` once its seqs are taken (`first` on, `seqsFor(writes)` of them): the items, the
 * events logged so far and `alongside` (more writes, not yet sent), in one statement.
 */
export async function writeItems(
  tx: Tx,
  events: EventLog,
  writes: ItemWrites[],
  first: number,
  now: Date,
  alongside: SQLWrapper[] = [],
): Promise<TimelineView[][] | undefined> {
  let seq = first;
  const rows: TimelineItem[] = [];
  const logged: DomainEvent[] = [];
  const views = writes.map(({ conversation, items, lead = [] }) => {
    const { workspaceId } = conversation;
    const scope = scopeOf(conversation);
    for (const e of lead)
      logged.push({
        workspaceId,
        seq: seq++,
        type: e.type,
        conversationId: conversation.id,
        public: false,
        payload: e.payload,
      });
    return items.map((item) => {
      const row: TimelineItem = {
        direction: null,
        channel: null,
        inboxId: null,
        externalId: null,
        senderId: null,
        text: null,
        eventType: null,
        data: {},
        ...item,
        workspaceId,
        conversationId: conversation.id,
        seq: seq++,
        html: null,
        deliveryStatus: null,
        deliveryError: null,
        createdAt: now,
      };
      const view = timelineView(row);
      rows.push(row);
      logged.push({
        workspaceId,
        seq: row.seq,
        type: "item.created",
        conversationId: conversation.id,
        public: isPublicItem(row),
        payload: { item: view, scope },
      });
      return view;
    });
  });
  await events.record(logged);
  const others = [events.unwrittenInsert(), ...alongside].filter((w) => w !== undefined);
  if (!rows.length) {
    if (others.length) await tx.execute(combined(others));
    return views;
  }
  // The items' ids come back: one whose (inbox, external id) was taken is missing.
  const inserted = rowsOf<{ id: string }>(
    await tx.execute(combined(others, sql`${insertRecords(timelineItems, rows)} ON CONFLICT DO NOTHING RETURNING id`)),
  );
  return inserted.length === rows.length ? views : undefined;
}

class DuplicateDelivery extends Error {}

export type IngestResult = {
  duplicate: boolean;
  conversation: ConversationView;
  item: TimelineView;
  contactId: string;
};

/**
 * One inbound message, in one transaction: contact by identity, the contact's open conversation (or
 * a new one), the message, and the events. Idempotent on (inbox, external id): a provider's retry
 * returns the stored message and changes nothing.
 */
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

export function summarize(text: string | null, files: number) {
  if (text) return text.length > 200 ? text.slice(0, 200) + "…" : text;
  return files ? `[${files} attachment${files > 1 ? "s" : ""}]` : null;
}

/** Attaches uploaded files to an item; only files the same uploader stored and not yet used. */
async function linkAttachments(
  tx: Tx,
  workspaceId: string,
  itemId: string,
  ids: string[],
  owner: { contactId?: string; userId?: string },
) {
  if (!ids.length) return [];
  const rows = await tx
    .update(attachments)
    .set({ timelineItemId: itemId })
    .where(
      and(
        eq(attachments.workspaceId, workspaceId),
        inArray(attachments.id, ids),
        isNull(attachments.timelineItemId),
        owner.contactId ? eq(attachments.contactId, owner.contactId) : eq(attachments.userId, owner.userId!),
      ),
    )
    .returning();
  if (rows.length !== new Set(ids).size) throw new Invalid("Unknown or already used attachment", "attachments");
  return rows.map(attachmentView);
}

/** A conversation the actor may see, locked for the rest of the transaction when `lock`. */
async function visibleConversation(db: Executor, actor: Actor, conversationId: string, lock = false) {
  const q = db
    .select()
    .from(conversations)
    .where(and(eq(conversations.workspaceId, actor.workspaceId), eq(conversations.id, conversationId)));
  const [c] = lock ? await q.for("update") : await q;
  if (!c || !canSeeConversation(actor, c)) throw new NotFound("Conversation");
  return c;
}

export async function getConversation(db: Executor, actor: Actor, conversationId: string) {
  const c = await visibleConversation(db, actor, conversationId);
  return conversationView(c, await contactOf(db, c.contactId));
}

/** The conversation row for access checks elsewhere (timeline). */
export async function requireConversation(db: Executor, actor: Actor, conversationId: string) {
  return visibleConversation(db, actor, conversationId);
}

export type ReplyInput = {
  text?: string;
  private?: boolean;
  attachments?: string[];
  inboxId?: string;
  /** Email addressing (recipients, subject, reply-all, forward), kept on the item for the sender. */
  email?: { to?: string[]; cc?: string[]; subject?: string; replyAll?: boolean; forward?: boolean };
};

/**
 * An agent's reply or private note. A reply goes out through the outbox, written in the same
 * transaction, on the conversation's current inbox or another inbox the agent picks.
 */
export async function reply(core: Core, actor: Actor, conversationId: string, input: ReplyInput) {
  const text = input.text?.trim() ? input.text : null;
  if (!text && !input.attachments?.length) throw new Invalid("A message needs text or an attachment", "text");
  if (text && text.length > MAX_TEXT) throw new Invalid(`Text is longer than ${MAX_TEXT} characters`, "text");
  return withEvents(core, async (tx, events) => {
    const conversation = await visibleConversation(tx, actor, conversationId, true);
    const isNote = input.private === true;
    let inbox = { id: conversation.inboxId, channel: conversation.channel };
    if (!isNote && input.inboxId && input.inboxId !== conversation.inboxId) {
      const [other] = await tx
        .select({ id: inboxes.id, channel: inboxes.channel })
        .from(inboxes)
        .where(and(eq(inboxes.workspaceId, actor.workspaceId), eq(inboxes.id, input.inboxId)));
      if (!other) throw new NotFound("Inbox", "inboxId");
      inbox = other;
    }
    const appended = (await appendItem(
      tx,
      events,
      conversation,
      {
        type: isNote ? "note" : "message",
        direction: isNote ? null : "out",
        channel: isNote ? null : inbox.channel,
        inboxId: isNote ? null : inbox.id,
        senderType: "agent",
        senderId: actor.userId,
        text,
        data: { senderName: actor.name, ...(!isNote && inbox.channel === "email" ? input.email : {}) },
        deliveryStatus: isNote ? null : "pending",
      },
      { ids: input.attachments ?? [], owner: { userId: actor.userId } },
    ))!;
    const files = appended.view.attachments;
    if (!isNote) {
      await tx.insert(outbox).values({
        workspaceId: actor.workspaceId,
        timelineItemId: appended.row.id,
        conversationId: conversation.id,
        inboxId: inbox.id,
        channel: inbox.channel,
      });
      await tx
        .update(conversations)
        .set({
          lastMessageText: summarize(text, files.length),
          lastActivityAt: new Date(),
          firstResponseAt: conversation.firstResponseAt ?? new Date(),
          // Answered: a private note is not, nor is an automatic message (sendSystemMessage).
          waitingSince: null,
        })
        .where(eq(conversations.id, conversation.id));
    }
    return appended.view;
  });
}

/**
 * A conversation an agent starts (a new outbound email to a contact): created assigned to the agent,
 * so routing leaves it with them, then the first message goes out as any reply does.
 */
export async function startConversation(
  core: Core,
  actor: Actor,
  input: { contactId: string; inboxId: string } & ReplyInput,
) {
  if (!input.text?.trim() && !input.attachments?.length)
    throw new Invalid("A message needs text or an attachment", "text");
  const conversation = await withEvents(core, async (tx, events) => {
    const [inbox] = await tx
      .select({ id: inboxes.id, channel: inboxes.channel })
      .from(inboxes)
      .where(and(eq(inboxes.workspaceId, actor.workspaceId), eq(inboxes.id, input.inboxId)));
    if (!inbox) throw new NotFound("Inbox", "inboxId");
    const [contact] = await tx
      .select({ id: contacts.id, name: contacts.name })
      .from(contacts)
      .where(and(eq(contacts.workspaceId, actor.workspaceId), eq(contacts.id, input.contactId)));
    if (!contact) throw new NotFound("Contact", "contactId");
    const [created] = await tx
      .insert(conversations)
      .values({
        workspaceId: actor.workspaceId,
        contactId: contact.id,
        inboxId: inbox.id,
        channel: inbox.channel,
        assigneeId: actor.userId,
      })
      .returning();
    await events.append(actor.workspaceId, {
      type: "conversation.created",
      conversationId: created!.id,
      payload: { conversation: conversationView(created!, contact), scope: scopeOf(created!) },
    });
    return created!;
  });
  const item = await reply(core, actor, conversation.id, { ...input, private: false, inboxId: undefined });
  return { conversation: await getConversation(core.db, actor, conversation.id), item };
}

/**
 * An automatic message to the customer (a queue's "we are busy" reply), sent like an agent's reply
 * through the outbox, inside a caller's transaction. It is not a first response: no agent wrote it.
 */
export async function sendSystemMessage(
  tx: Tx,
  events: EventLog,
  conversationId: string,
  text: string,
  // The knowledge bot's answers are "bot" messages, with the article they quote in data.
  from: { senderType: "system" | "bot"; data?: Record<string, unknown> } = { senderType: "system" },
) {
  const [conversation] = await tx
    .select()
    .from(conversations)
    .where(eq(conversations.id, conversationId))
    .for("update");
  if (!conversation) throw new NotFound("Conversation");
  // Mail-loop protection: an automatic message never answers one (an auto-reply, a bounce, a list).
  const [last] = await tx
    .select({ data: timelineItems.data })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.conversationId, conversationId),
        eq(timelineItems.type, "message"),
        eq(timelineItems.direction, "in"),
      ),
    )
    .orderBy(desc(timelineItems.seq))
    .limit(1);
  if (last?.data.automated) return undefined;
  const appended = (await appendItem(tx, events, conversation, {
    type: "message",
    direction: "out",
    channel: conversation.channel,
    inboxId: conversation.inboxId,
    senderType: from.senderType,
    text,
    data: from.data ?? {},
    deliveryStatus: "pending",
  }))!;
  await tx.insert(outbox).values({
    workspaceId: conversation.workspaceId,
    timelineItemId: appended.row.id,
    conversationId: conversation.id,
    inboxId: conversation.inboxId,
    channel: conversation.channel,
  });
  return appended.view;
}

/** Appends an event item (status changed, assigned…) and the conversation.updated event. */
async function recordChange(
  tx: Tx,
  events: EventLog,
  by: Actor | "system",
  before: Conversation,
  after: Conversation,
  eventType: string,
  data: Record<string, unknown>,
) {
  const item = (await appendItem(tx, events, after, {
    type: "event",
    senderType: by === "system" ? "system" : "agent",
    senderId: by === "system" ? null : by.userId,
    eventType,
    data: { ...data, senderName: by === "system" ? null : by.name },
  }))!;
  const contact = await contactOf(tx, after.contactId);
  await events.append(after.workspaceId, {
    type: "conversation.updated",
    conversationId: after.id,
    payload: {
      conversation: conversationView(after, contact),
      changes: data,
      scope: scopeOf(after),
      previousScope: scopeOf(before),
    },
  });
  return item.view;
}

/**
 * A system event on a conversation's timeline (queued, offered, offer missed…) with its event, for
 * other domains such as routing, inside their transaction.
 */
export async function appendSystemEvent(
  tx: Tx,
  events: EventLog,
  conversationId: string,
  eventType: string,
  data: Record<string, unknown>,
) {
  // Locked before the item takes a seq (a no-op where the caller holds it, as it should): the item's
  // foreign key would otherwise wait on the conversation while holding the workspace counter.
  const [conversation] = await tx
    .select()
    .from(conversations)
    .where(eq(conversations.id, conversationId))
    .for("update");
  if (!conversation) throw new NotFound("Conversation");
  return (await appendItem(tx, events, conversation, { type: "event", senderType: "system", eventType, data }))!.view;
}

export async function setStatus(
  core: Core,
  actor: Actor,
  conversationId: string,
  status: ConversationStatus,
  snoozedUntil?: Date,
) {
  if (status === "snoozed" && !snoozedUntil) throw new Invalid("Snoozing needs snoozedUntil", "snoozedUntil");
  return withEvents(core, async (tx, events) => {
    const before = await visibleConversation(tx, actor, conversationId, true);
    if (before.status === status && status !== "snoozed") return getConversation(tx, actor, conversationId);
    const [after] = await tx
      .update(conversations)
      .set({
        status,
        snoozedUntil: status === "snoozed" ? snoozedUntil : null,
        resolvedAt: status === "resolved" ? new Date() : null,
        ...(status === "resolved" ? { waitingSince: null } : {}),
      })
      .where(eq(conversations.id, conversationId))
      .returning();
    await recordChange(tx, events, actor, before, after!, "status_changed", { from: before.status, to: status });
    return conversationView(after!, await contactOf(tx, after!.contactId));
  });
}

/** Assigns to an agent of the workspace, or unassigns with `null`. Agents may only take or drop work. */
export async function assign(core: Core, actor: Actor, conversationId: string, assigneeId: string | null) {
  if (!can(actor, "conversations.assign_any") && assigneeId !== null && assigneeId !== actor.userId)
    throw new Forbidden("Agents can assign conversations only to themselves");
  return withEvents(core, async (tx, events) => {
    await visibleConversation(tx, actor, conversationId, true);
    return assignWithin(tx, events, actor, conversationId, assigneeId);
  });
}

/**
 * The assignment itself, inside a caller's transaction: routing uses it when an agent accepts an
 * offer, so the work item and the conversation change together. `by` is who assigned.
 */
export async function assignWithin(
  tx: Tx,
  events: EventLog,
  by: Actor | "system",
  conversationId: string,
  assigneeId: string | null,
) {
  const [before] = await tx.select().from(conversations).where(eq(conversations.id, conversationId)).for("update");
  if (!before) throw new NotFound("Conversation");
  let assigneeName: string | null = null;
  if (assigneeId) {
    const [user] = await tx
      .select({ id: users.id, name: users.name })
      .from(users)
      .where(and(eq(users.workspaceId, before.workspaceId), eq(users.id, assigneeId), isNull(users.disabledAt)));
    if (!user) throw new NotFound("Agent", "assigneeId");
    assigneeName = user.name;
  }
  if (before.assigneeId === assigneeId) return conversationView(before, await contactOf(tx, before.contactId));
  const [after] = await tx
    .update(conversations)
    .set({ assigneeId })
    .where(eq(conversations.id, conversationId))
    .returning();
  await recordChange(tx, events, by, before, after!, "assigned", {
    assigneeId,
    assigneeName,
    previousAssigneeId: before.assigneeId,
  });
  return conversationView(after!, await contactOf(tx, after!.contactId));
}

/**
 * Hands the conversation to a team, inside a caller's transaction: it leaves the current agent and
 * waits for the team. Routing (routing/work.ts `transferToTeam`) ends its queue entry first.
 */
export async function transferToTeamWithin(
  tx: Tx,
  events: EventLog,
  actor: Actor,
  conversationId: string,
  teamId: string,
  note?: string,
) {
  const before = await visibleConversation(tx, actor, conversationId, true);
  const [team] = await tx
    .select({ id: teams.id, name: teams.name })
    .from(teams)
    .where(and(eq(teams.workspaceId, actor.workspaceId), eq(teams.id, teamId)));
  if (!team) throw new NotFound("Team", "teamId");
  const [after] = await tx
    .update(conversations)
    .set({ teamId, assigneeId: null })
    .where(eq(conversations.id, conversationId))
    .returning();
  await recordChange(tx, events, actor, before, after!, "transferred", {
    teamId,
    teamName: team.name,
    note: note ?? null,
  });
  return conversationView(after!, await contactOf(tx, after!.contactId));
}

export async function setLabels(core: Core, actor: Actor, conversationId: string, labels: string[]) {
  return withEvents(core, async (tx, events) => {
    const before = await visibleConversation(tx, actor, conversationId, true);
    const [after] = await tx
      .update(conversations)
      .set({ labels: [...new Set(labels)] })
      .where(eq(conversations.id, conversationId))
      .returning();
    await recordChange(tx, events, actor, before, after!, "labels_changed", { labels: after!.labels });
    return conversationView(after!, await contactOf(tx, after!.contactId));
  });
}

/**
 * Reopens snoozed conversations whose time has come. Safe on many nodes at once: the UPDATE's row
 * locks let each conversation wake exactly once.
 */
export async function wakeSnoozed(core: Core, now = new Date()) {
  return withEvents(core, async (tx, events) => {
    const woken = await tx
      .update(conversations)
      .set({ status: "open", snoozedUntil: null })
      .where(and(eq(conversations.status, "snoozed"), lte(conversations.snoozedUntil, now)))
      .returning();
    for (const after of woken) {
      const before = { ...after, status: "snoozed" as const };
      await recordChange(tx, events, "system", before, after, "status_changed", {
        from: "snoozed",
        to: "open",
        reason: "snooze_ended",
      });
    }
    return woken.length;
  });
}

/** Used by the widget: the visitor's own conversation, if one is open. */
export async function openConversationOf(db: Executor, workspaceId: string, contactId: string) {
  const [c] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(
      and(
        eq(conversations.workspaceId, workspaceId),
        eq(conversations.contactId, contactId),
        ne(conversations.status, "resolved"),
      ),
    )
    .orderBy(desc(conversations.lastActivityAt))
    .limit(1);
  return c?.id ?? null;
}
