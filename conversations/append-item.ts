import { and, eq, inArray, isNull, sql, type SQLWrapper } from "drizzle-orm";
import { combined, rowsOf, type Tx } from "../db/connect.ts";
import { insertRecords } from "../db/records.ts";
import { attachments, conversations, timelineItems, type Conversation, type TimelineItem } from "../db/schema/index.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import { isRule, type ChangeBy } from "./actor.ts";
import { contactOf, conversationView, scopeOf } from "./conversation.ts";
import type { DomainEvent, EventLog } from "./event.ts";
import { firstSeq, nextSeq, seqsQuery } from "./event.ts";
import { attachmentView, isPublicItem, timelineView, type TimelineView } from "./timeline.ts";

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

/** Appends an event item (status changed, assigned…) and the conversation.updated event. */
export async function recordChange(
  tx: Tx,
  events: EventLog,
  by: ChangeBy,
  before: Conversation,
  after: Conversation,
  eventType: string,
  data: Record<string, unknown>,
) {
  const agent = by !== "system" && !isRule(by) ? by : undefined;
  const item = (await appendItem(tx, events, after, {
    type: "event",
    senderType: agent ? "agent" : "system",
    senderId: agent?.userId ?? null,
    eventType,
    // A rule's change names the rule, so the timeline says "by rule X".
    data: { ...data, senderName: agent?.name ?? null, ...(isRule(by) ? { rule: by.rule } : {}) },
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
      // Automation's loop guard reads who made the change (a rule never re-runs on its own change).
      ...(isRule(by) ? { by: { type: "rule", ...by.rule } } : {}),
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
