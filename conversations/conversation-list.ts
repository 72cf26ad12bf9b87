import { and, desc, eq, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import {
  contactIdentities,
  contacts,
  conversationReads,
  conversations,
  queues,
  slaClocks,
  timelineItems,
  type Conversation,
  type ConversationStatus,
} from "../db/schema/index.ts";
import { containsText } from "../db/text-search.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import { visibleConversations, type Actor } from "./actor.ts";
import { conversationView, requireConversation } from "./conversation.ts";

/** How long a waiting customer may wait for an answer when their conversation is in no queue. */
export const DEFAULT_SLA_SECONDS = 600;

/** When the waiting customer should have had an answer: their queue's service level, or the default. */
export function slaDueAt(waitingSince: Date | null, serviceLevelSeconds: number | null): Date | null {
  if (!waitingSince) return null;
  return new Date(waitingSince.getTime() + (serviceLevelSeconds ?? DEFAULT_SLA_SECONDS) * 1000);
}

export type ConversationFilter = {
  status?: ConversationStatus[];
  /** An agent id, "me", or "none" for unassigned. */
  assignee?: string;
  inboxId?: string;
  channel?: Conversation["channel"];
  teamId?: string;
  queueId?: string;
  label?: string;
  contactId?: string;
  /** Contact name or identity, or the text of a message or note. */
  q?: string;
  cursor?: string;
  limit: number;
};

function encodeCursor(c: { lastActivityAt: Date; id: string }) {
  return Buffer.from(`${c.lastActivityAt.toISOString()}|${c.id}`).toString("base64url");
}

function decodeCursor(cursor: string) {
  const [at, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const date = new Date(at ?? "");
  if (!id || Number.isNaN(date.getTime()) || !/^[0-9a-f-]{36}$/.test(id))
    throw new Invalid("Malformed cursor", "cursor");
  return { at: date, id };
}

/**
 * Conversations as the inbox lists them, in one query: the contact with a handle to show, the
 * caller's unread count and when the service level runs out: the nearest due time of its running
 * SLA clocks when it has any (null while they are paused), else its queue's service level.
 */
async function conversationItems(db: Executor, actor: Actor, where: SQL | undefined, limit: number) {
  const rows = await db
    .select({
      conversation: conversations,
      contact: { id: contacts.id, name: contacts.name },
      handle: sql<string | null>`(
        SELECT ${contactIdentities.value} FROM ${contactIdentities}
        WHERE ${contactIdentities.contactId} = ${contacts.id}
        ORDER BY ${contactIdentities.createdAt}, ${contactIdentities.id} LIMIT 1)`,
      unread: sql<number>`(
        SELECT count(*)::int FROM ${timelineItems}
        WHERE ${timelineItems.conversationId} = ${conversations.id} AND ${timelineItems.type} = 'message'
          AND ${timelineItems.direction} = 'in' AND ${timelineItems.seq} > COALESCE(${conversationReads.lastReadSeq}, -1))`,
      serviceLevelSeconds: queues.serviceLevelSeconds,
      // SLA clocks (sla/) take over from the queue's service level once a policy applies.
      liveClocks: sql<number>`(
        SELECT count(*)::int FROM ${slaClocks}
        WHERE ${slaClocks.conversationId} = ${conversations.id} AND ${slaClocks.stoppedAt} IS NULL)`,
      clockDueAt: sql<string | Date | null>`(
        SELECT min(${slaClocks.dueAt}) FROM ${slaClocks}
        WHERE ${slaClocks.conversationId} = ${conversations.id} AND ${slaClocks.stoppedAt} IS NULL)`,
    })
    .from(conversations)
    .innerJoin(contacts, eq(contacts.id, conversations.contactId))
    .leftJoin(
      conversationReads,
      and(eq(conversationReads.conversationId, conversations.id), eq(conversationReads.userId, actor.userId)),
    )
    .leftJoin(queues, and(eq(queues.id, conversations.queueId), eq(queues.workspaceId, conversations.workspaceId)))
    .where(where)
    .orderBy(desc(conversations.lastActivityAt), desc(conversations.id))
    .limit(limit);
  return rows.map((r) => {
    const view = conversationView(r.conversation, r.contact);
    return {
      ...view,
      contact: { ...view.contact, handle: r.handle },
      unread: Number(r.unread),
      slaDueAt:
        Number(r.liveClocks) > 0
          ? r.clockDueAt && new Date(r.clockDueAt).toISOString()
          : (slaDueAt(r.conversation.waitingSince, r.serviceLevelSeconds)?.toISOString() ?? null),
    };
  });
}

function matching(q: string) {
  return or(
    containsText(contacts.name, q),
    sql`EXISTS (SELECT 1 FROM ${contactIdentities} WHERE ${contactIdentities.contactId} = ${contacts.id}
      AND ${containsText(contactIdentities.value, q)})`,
    sql`EXISTS (SELECT 1 FROM ${timelineItems} WHERE ${timelineItems.conversationId} = ${conversations.id}
      AND ${timelineItems.type} IN ('message', 'note') AND ${containsText(timelineItems.text, q)})`,
  );
}

/** Conversations by last activity, newest first, with a keyset cursor (stable under inserts). */
export async function listConversations(db: Executor, actor: Actor, f: ConversationFilter) {
  const conditions: (SQL | undefined)[] = [
    eq(conversations.workspaceId, actor.workspaceId),
    visibleConversations(actor),
  ];
  if (f.status?.length) conditions.push(inArray(conversations.status, f.status));
  if (f.assignee === "none") conditions.push(isNull(conversations.assigneeId));
  else if (f.assignee) conditions.push(eq(conversations.assigneeId, f.assignee === "me" ? actor.userId : f.assignee));
  if (f.inboxId) conditions.push(eq(conversations.inboxId, f.inboxId));
  if (f.channel) conditions.push(eq(conversations.channel, f.channel));
  if (f.teamId) conditions.push(eq(conversations.teamId, f.teamId));
  if (f.queueId) conditions.push(eq(conversations.queueId, f.queueId));
  if (f.label) conditions.push(sql`${f.label} = ANY(${conversations.labels})`);
  if (f.contactId) conditions.push(eq(conversations.contactId, f.contactId));
  if (f.q) conditions.push(matching(f.q));
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    conditions.push(
      or(
        lt(conversations.lastActivityAt, c.at),
        and(eq(conversations.lastActivityAt, c.at), lt(conversations.id, c.id)),
      ),
    );
  }
  const rows = await conversationItems(db, actor, and(...conditions), f.limit + 1);
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    items: page,
    nextCursor:
      rows.length > f.limit && last
        ? encodeCursor({ lastActivityAt: new Date(last.lastActivityAt), id: last.id })
        : null,
  };
}

/** One conversation in the shape of a list item, if the actor may see it. */
export async function conversationItem(db: Executor, actor: Actor, conversationId: string) {
  const [found] = await conversationItems(
    db,
    actor,
    and(
      eq(conversations.workspaceId, actor.workspaceId),
      eq(conversations.id, conversationId),
      visibleConversations(actor),
    ),
    1,
  );
  if (!found) throw new NotFound("Conversation");
  return found;
}

/**
 * Marks the conversation read up to `seq` for the actor. Never moves back: a late request from an
 * older tab cannot make read messages unread again.
 */
export async function markRead(db: Executor, actor: Actor, conversationId: string, seq: number) {
  const conversation = await requireConversation(db, actor, conversationId);
  const [row] = await db
    .insert(conversationReads)
    .values({
      userId: actor.userId,
      conversationId: conversation.id,
      workspaceId: conversation.workspaceId,
      lastReadSeq: seq,
    })
    .onConflictDoUpdate({
      target: [conversationReads.userId, conversationReads.conversationId],
      set: { lastReadSeq: sql`GREATEST(${conversationReads.lastReadSeq}, excluded.last_read_seq)` },
    })
    .returning({ lastReadSeq: conversationReads.lastReadSeq });
  return { lastReadSeq: Number(row!.lastReadSeq) };
}
