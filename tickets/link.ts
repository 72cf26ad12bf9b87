import { and, eq, or, sql } from "drizzle-orm";
import { rowsOf, type Tx } from "../db/connect.ts";
import { ticketConversations, ticketLinks, tickets, type TicketLinkKind } from "../db/schema/index.ts";
import { appendItem } from "../conversations/append-item.ts";
import type { Actor } from "../conversations/actor.ts";
import { visibleConversation } from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import { byOf, ticketScope, ticketViewOf, visibleTicket, type TicketView } from "./ticket.ts";
import type { Ticket } from "../db/schema/index.ts";

/** Whether `ancestor` is `ticketId` or one of its parents, grandparents… (parent links upwards). */
async function isAncestorOrSelf(tx: Tx, ticketId: string, ancestor: string) {
  const rows = rowsOf<{ id: string }>(
    await tx.execute(sql`
      WITH RECURSIVE up(id) AS (
        SELECT ${ticketId}::uuid
        UNION
        SELECT l.other_ticket_id FROM ticket_links l JOIN up ON l.ticket_id = up.id WHERE l.kind = 'parent'
      )
      SELECT id FROM up WHERE id = ${ancestor}::uuid LIMIT 1`),
  );
  return rows.length > 0;
}

async function touched(tx: Tx, events: EventLog, actor: Actor, ticket: Ticket, change: Record<string, unknown>) {
  const [row] = await tx.update(tickets).set({ updatedAt: new Date() }).where(eq(tickets.id, ticket.id)).returning();
  const view = await ticketViewOf(tx, row!);
  await events.append(actor.workspaceId, {
    type: "ticket.updated",
    conversationId: null,
    payload: { ticketId: ticket.id, ticket: view, changes: [change], by: byOf(actor), scope: ticketScope(ticket) },
  });
  return view;
}

/**
 * Links two tickets: `parent` (this one is a child of the other), `duplicate` (this one duplicates
 * the other), `related`. A ticket is never linked to itself, and parents never go round in a circle.
 */
export async function linkTickets(
  core: Core,
  actor: Actor,
  idOrNumber: string,
  input: { ticketId: string; kind: TicketLinkKind },
) {
  return withEvents(core, async (tx, events) => {
    const ticket = await visibleTicket(tx, actor, idOrNumber, true);
    const other = await visibleTicket(tx, actor, input.ticketId).catch(() => {
      throw new NotFound("Ticket", "ticketId");
    });
    if (other.id === ticket.id) throw new Invalid("A ticket cannot be linked to itself", "ticketId");
    if (input.kind === "parent" && (await isAncestorOrSelf(tx, other.id, ticket.id)))
      throw new Invalid(`#${other.number} is already below #${ticket.number}: parents cannot go round`, "ticketId");
    const [row] = await tx
      .insert(ticketLinks)
      .values({ workspaceId: actor.workspaceId, ticketId: ticket.id, otherTicketId: other.id, kind: input.kind })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new Conflict(`#${ticket.number} is already linked to #${other.number} that way`, "ticketId");
    await touched(tx, events, actor, ticket, {
      field: "link",
      from: null,
      to: { ticketId: other.id, kind: input.kind },
    });
    return { ticketId: ticket.id, otherTicketId: other.id, kind: row.kind, number: other.number, title: other.title };
  });
}

/** Removes every link between the two tickets, whichever side it was made from. */
export async function unlinkTickets(core: Core, actor: Actor, idOrNumber: string, otherId: string) {
  return withEvents(core, async (tx, events) => {
    const ticket = await visibleTicket(tx, actor, idOrNumber, true);
    const other = await visibleTicket(tx, actor, otherId);
    const removed = await tx
      .delete(ticketLinks)
      .where(
        or(
          and(eq(ticketLinks.ticketId, ticket.id), eq(ticketLinks.otherTicketId, other.id)),
          and(eq(ticketLinks.ticketId, other.id), eq(ticketLinks.otherTicketId, ticket.id)),
        ),
      )
      .returning();
    if (!removed.length) throw new NotFound("Link");
    await touched(tx, events, actor, ticket, { field: "link", from: { ticketId: other.id }, to: null });
  });
}

/**
 * Links one more conversation to a ticket (the customer wrote again elsewhere); its timeline shows
 * the ticket, and the customer's replies there reach the ticket too.
 */
export async function linkConversation(
  core: Core,
  actor: Actor,
  idOrNumber: string,
  conversationId: string,
): Promise<TicketView> {
  return withEvents(core, async (tx, events) => {
    const ticket = await visibleTicket(tx, actor, idOrNumber, true);
    const conversation = await visibleConversation(tx, actor, conversationId).catch(() => {
      throw new NotFound("Conversation", "conversationId");
    });
    const [row] = await tx
      .insert(ticketConversations)
      .values({ workspaceId: actor.workspaceId, ticketId: ticket.id, conversationId: conversation.id })
      .onConflictDoNothing()
      .returning();
    if (!row) throw new Conflict("The conversation is already linked to this ticket", "conversationId");
    await appendItem(tx, events, conversation, {
      type: "event",
      senderType: "agent",
      senderId: actor.userId,
      eventType: "ticket_linked",
      data: { ticketId: ticket.id, number: ticket.number, title: ticket.title, senderName: actor.name },
    });
    if (!ticket.conversationId || !ticket.contactId)
      await tx
        .update(tickets)
        .set({
          conversationId: ticket.conversationId ?? conversation.id,
          contactId: ticket.contactId ?? conversation.contactId,
        })
        .where(eq(tickets.id, ticket.id));
    return touched(tx, events, actor, ticket, { field: "conversation", from: null, to: conversation.id });
  });
}
