import { and, asc, desc, eq } from "drizzle-orm";
import { priorityName, type ConditionSubject } from "../conversations/condition.ts";
import type { Executor } from "../db/connect.ts";
import {
  contacts,
  conversations,
  queues,
  tickets,
  timelineItems,
  workspaceSettings,
  type Conversation,
  type Ticket,
} from "../db/schema/index.ts";
import { isOpen } from "../routing/hours.ts";

/** What conditions read of a conversation, its contact and the moment; built once per event. */
export type ConversationFacts = { subject: ConditionSubject; conversation: Conversation };

async function businessHoursAt(db: Executor, workspaceId: string, queueId: string | null, at: Date) {
  if (queueId) {
    const [q] = await db.select({ hours: queues.businessHours }).from(queues).where(eq(queues.id, queueId));
    if (q?.hours) return isOpen(q.hours, at);
  }
  const [settings] = await db
    .select({ calendar: workspaceSettings.calendar })
    .from(workspaceSettings)
    .where(eq(workspaceSettings.workspaceId, workspaceId));
  return isOpen(settings?.calendar ?? null, at);
}

/**
 * A conversation as conditions see it. `text`: the message the event is about; without one, the
 * first customer message (what `conversation.created` rules read: "the first customer message").
 */
export async function conversationFacts(
  db: Executor,
  conversationId: string,
  options: { text?: string | null; at?: Date } = {},
): Promise<ConversationFacts | undefined> {
  const [c] = await db.select().from(conversations).where(eq(conversations.id, conversationId));
  if (!c) return undefined;
  const [[contact], first] = await Promise.all([
    db.select({ attributes: contacts.attributes }).from(contacts).where(eq(contacts.id, c.contactId)),
    options.text === undefined
      ? db
          .select({ text: timelineItems.text, data: timelineItems.data })
          .from(timelineItems)
          .where(
            and(
              eq(timelineItems.conversationId, c.id),
              eq(timelineItems.type, "message"),
              eq(timelineItems.direction, "in"),
            ),
          )
          .orderBy(asc(timelineItems.seq))
          .limit(1)
      : Promise.resolve([]),
  ]);
  const attributes = (contact?.attributes ?? {}) as Record<string, unknown>;
  const text = options.text !== undefined ? options.text : (first[0]?.text ?? null);
  const languageCode = first[0]?.data.languageCode;
  return {
    conversation: c,
    subject: {
      kind: "conversation",
      channel: c.channel,
      inboxId: c.inboxId,
      text,
      language:
        typeof attributes.language === "string"
          ? attributes.language
          : typeof languageCode === "string"
            ? languageCode.toLowerCase()
            : null,
      status: c.status,
      priority: priorityName(c.priority),
      labels: c.labels,
      queueId: c.queueId,
      teamId: c.teamId,
      assigneeId: c.assigneeId,
      vip: attributes.vip === true || c.priority >= 10,
      businessHours: await businessHoursAt(db, c.workspaceId, c.queueId, options.at ?? new Date()),
      contact: attributes,
    },
  };
}

/** A ticket as conditions see it; channel and inbox are its conversation's, when it has one. */
export async function ticketFacts(db: Executor, ticketId: string, at = new Date()) {
  const [t] = await db.select().from(tickets).where(eq(tickets.id, ticketId));
  if (!t) return undefined;
  const [[contact], [c]] = await Promise.all([
    t.contactId
      ? db.select({ attributes: contacts.attributes }).from(contacts).where(eq(contacts.id, t.contactId))
      : Promise.resolve([]),
    t.conversationId
      ? db.select().from(conversations).where(eq(conversations.id, t.conversationId))
      : Promise.resolve([] as Conversation[]),
  ]);
  const attributes = (contact?.attributes ?? {}) as Record<string, unknown>;
  const subject: ConditionSubject = {
    kind: "ticket",
    channel: c?.channel ?? null,
    inboxId: c?.inboxId ?? null,
    text: `${t.title}\n${t.description}`,
    language: typeof attributes.language === "string" ? attributes.language : null,
    status: t.status,
    priority: t.priority,
    labels: c?.labels ?? [],
    queueId: c?.queueId ?? null,
    teamId: t.teamId,
    assigneeId: t.assigneeId,
    ticketType: t.type,
    vip: attributes.vip === true,
    businessHours: await businessHoursAt(db, t.workspaceId, c?.queueId ?? null, at),
    contact: attributes,
  };
  return { subject, ticket: t as Ticket, conversation: c };
}

/** The newest inbound message of a conversation (dry-run's text for an existing conversation). */
export async function lastCustomerText(db: Executor, conversationId: string) {
  const [last] = await db
    .select({ text: timelineItems.text })
    .from(timelineItems)
    .where(and(eq(timelineItems.conversationId, conversationId), eq(timelineItems.direction, "in")))
    .orderBy(desc(timelineItems.seq))
    .limit(1);
  return last?.text ?? null;
}
