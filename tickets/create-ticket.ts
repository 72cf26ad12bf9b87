import { and, desc, eq, gt, inArray, lt, sql } from "drizzle-orm";
import { rowsOf, type Tx } from "../db/connect.ts";
import {
  contacts,
  conversations,
  teams,
  ticketConversations,
  ticketEntries,
  ticketFields,
  tickets,
  timelineItems,
  users,
  type Conversation,
  type TicketPriority,
  type TicketSource,
} from "../db/schema/index.ts";
import type { Actor, ChangeBy } from "../conversations/actor.ts";
import { appendItem } from "../conversations/append-item.ts";
import { visibleConversation } from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import { mergeFields } from "./field-value.ts";
import { notify } from "./notification.ts";
import { authorOf, byOf, ticketScope, ticketViewOf, type TicketView } from "./ticket.ts";
import { assertTicketType } from "./ticket-types.ts";

export type NewTicket = {
  title: string;
  description?: string;
  type?: string | null;
  priority?: TicketPriority;
  teamId?: string | null;
  assigneeId?: string | null;
  contactId?: string | null;
  conversationId?: string | null;
  fields?: Record<string, unknown>;
  source: TicketSource;
  /** Customer messages of the conversation to carry into the ticket (default: its latest ones). */
  messageIds?: string[];
};

/** How many customer messages a ticket made from a conversation carries by default. */
const CARRIED_MESSAGES = 20;

/** Refuses an id of another workspace (or none) with an error naming the field. */
async function assertOwn(
  tx: Tx,
  table: typeof teams | typeof users | typeof contacts,
  workspaceId: string,
  id: string,
  field: string,
) {
  const [row] = await tx
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.workspaceId, workspaceId), eq(table.id, id)));
  if (!row) throw new Invalid(`No such ${field.replace(/Id$/, "")} in this workspace`, field);
}

/** Checks the references a ticket is given (team, assignee, type) in its workspace. */
export async function assertTicketReferences(
  tx: Tx,
  workspaceId: string,
  input: { teamId?: string | null; assigneeId?: string | null; type?: string | null },
) {
  if (input.teamId) await assertOwn(tx, teams, workspaceId, input.teamId, "teamId");
  if (input.assigneeId) await assertOwn(tx, users, workspaceId, input.assigneeId, "assigneeId");
  if (input.type) await assertTicketType(tx, workspaceId, input.type);
}

export async function fieldDefinitions(tx: Tx, workspaceId: string) {
  return tx.select().from(ticketFields).where(eq(ticketFields.workspaceId, workspaceId));
}

/** The next ticket number of the workspace: #1001 first. The counter row stays locked until commit. */
async function nextTicketNumber(tx: Tx, workspaceId: string) {
  const [row] = rowsOf<{ last_number: number }>(
    await tx.execute(sql`
      INSERT INTO ticket_counters (workspace_id, last_number) VALUES (${workspaceId}, 1001)
      ON CONFLICT (workspace_id) DO UPDATE SET last_number = ticket_counters.last_number + 1
      RETURNING last_number`),
  );
  return Number(row!.last_number);
}

/**
 * The customer messages a ticket carries: the ones named, or the conversation's latest (at most 20)
 * since it was last resolved before them — what the customer said about this matter.
 */
async function carriedMessages(tx: Tx, conversation: Conversation, messageIds: string[] | undefined) {
  const customer = and(
    eq(timelineItems.conversationId, conversation.id),
    eq(timelineItems.type, "message"),
    eq(timelineItems.direction, "in"),
  );
  if (messageIds) {
    if (!messageIds.length) return [];
    const rows = await tx
      .select()
      .from(timelineItems)
      .where(and(customer, inArray(timelineItems.id, messageIds)))
      .orderBy(timelineItems.seq);
    if (rows.length !== new Set(messageIds).size)
      throw new Invalid("Only the conversation's customer messages can be carried", "messageIds");
    return rows;
  }
  const [latest] = await tx
    .select({ seq: timelineItems.seq })
    .from(timelineItems)
    .where(customer)
    .orderBy(desc(timelineItems.seq))
    .limit(1);
  if (!latest) return [];
  const [resolved] = await tx
    .select({ seq: timelineItems.seq })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.conversationId, conversation.id),
        eq(timelineItems.eventType, "status_changed"),
        sql`${timelineItems.data}->>'to' = 'resolved'`,
        lt(timelineItems.seq, latest.seq),
      ),
    )
    .orderBy(desc(timelineItems.seq))
    .limit(1);
  const rows = await tx
    .select()
    .from(timelineItems)
    .where(and(customer, resolved ? gt(timelineItems.seq, resolved.seq) : undefined))
    .orderBy(desc(timelineItems.seq))
    .limit(CARRIED_MESSAGES);
  return rows.reverse();
}

/**
 * Makes a ticket inside the caller's transaction (agents, the API, mail to a ticket address, rules
 * and macros all come here): numbers it, checks its references and fields, links its conversation,
 * carries the customer's messages and tells the conversation's timeline.
 */
export async function insertTicket(
  tx: Tx,
  events: EventLog,
  workspaceId: string,
  input: NewTicket,
  by: ChangeBy,
): Promise<TicketView> {
  const title = input.title.trim();
  if (!title) throw new Invalid("A ticket needs a title", "title");
  if (title.length > 300) throw new Invalid("A title is at most 300 characters", "title");
  if ((input.description?.length ?? 0) > 20_000)
    throw new Invalid("A description is at most 20000 characters", "description");
  await assertTicketReferences(tx, workspaceId, input);
  let conversation: Conversation | undefined;
  if (input.conversationId) {
    [conversation] = await tx
      .select()
      .from(conversations)
      .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.id, input.conversationId)));
    if (!conversation) throw new Invalid("No such conversation in this workspace", "conversationId");
  }
  if (input.contactId) await assertOwn(tx, contacts, workspaceId, input.contactId, "contactId");
  const contactId = input.contactId ?? conversation?.contactId ?? null;
  const fields = mergeFields(await fieldDefinitions(tx, workspaceId), {}, input.fields ?? {});
  const carried = conversation ? await carriedMessages(tx, conversation, input.messageIds) : [];
  const number = await nextTicketNumber(tx, workspaceId);
  // Milliseconds, as the list's keyset cursor carries them (the database's default keeps microseconds).
  const now = new Date();
  const [row] = await tx
    .insert(tickets)
    .values({
      workspaceId,
      number,
      title,
      description: input.description ?? "",
      type: input.type ?? null,
      priority: input.priority ?? "normal",
      teamId: input.teamId ?? null,
      assigneeId: input.assigneeId ?? null,
      contactId,
      conversationId: conversation?.id ?? null,
      source: input.source,
      fields,
      createdBy: authorOf(by),
      statusChangedAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  const ticket = row!;
  if (conversation)
    await tx.insert(ticketConversations).values({ workspaceId, ticketId: ticket.id, conversationId: conversation.id });
  const rule = typeof by === "object" && "rule" in by ? { rule: by.rule } : {};
  await tx.insert(ticketEntries).values([
    {
      workspaceId,
      ticketId: ticket.id,
      kind: "change",
      authorId: authorOf(by),
      body: "created",
      data: { field: "created", source: input.source, ...rule },
    },
    ...carried.map((m) => ({
      workspaceId,
      ticketId: ticket.id,
      kind: "customer_message" as const,
      body: m.text ?? "",
      // Their own time: the history reads what the customer said, then the ticket made of it.
      createdAt: m.createdAt,
      data: {
        itemId: m.id,
        conversationId: m.conversationId,
        senderName: (m.data as { senderName?: string }).senderName ?? null,
        contactId: m.senderId,
        sentAt: m.createdAt.toISOString(),
        channel: m.channel,
      },
    })),
  ]);
  if (conversation)
    await appendItem(tx, events, conversation, {
      type: "event",
      senderType: authorOf(by) ? "agent" : "system",
      senderId: authorOf(by),
      eventType: "ticket_created",
      data: { ticketId: ticket.id, number, title, senderName: byOf(by).name, ...rule },
    });
  if (ticket.assigneeId && ticket.assigneeId !== authorOf(by))
    await notify(tx, events, {
      workspaceId,
      userId: ticket.assigneeId,
      kind: "ticket_assigned",
      text: `#${number} ${title}`,
      ticketId: ticket.id,
    });
  const view = await ticketViewOf(tx, ticket);
  await events.append(workspaceId, {
    type: "ticket.created",
    conversationId: null,
    payload: { ticketId: ticket.id, ticket: view, by: byOf(by), scope: ticketScope(ticket) },
  });
  return view;
}

/**
 * An agent's (or an API key's) new ticket. Made from a conversation, the conversation must be one
 * they may see (else 404, as everywhere).
 */
export async function createTicket(
  core: Core,
  actor: Actor,
  input: Omit<NewTicket, "source"> & { source?: TicketSource },
) {
  return withEvents(core, async (tx, events) => {
    if (input.conversationId)
      await visibleConversation(tx, actor, input.conversationId).catch(() => {
        throw new NotFound("Conversation", "conversationId");
      });
    return insertTicket(tx, events, actor.workspaceId, { ...input, source: input.source ?? { kind: "api" } }, actor);
  });
}
