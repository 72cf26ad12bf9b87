import { and, eq, ne, sql } from "drizzle-orm";
import type { Tx } from "../db/connect.ts";
import { ticketConversations, ticketEntries, tickets, type Ticket } from "../db/schema/index.ts";
import type { EventLog } from "../conversations/event.ts";
import type { TimelineView } from "../conversations/timeline.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { changeTicket } from "./change-ticket.ts";
import { ticketScope, ticketViewOf } from "./ticket.ts";

/**
 * Puts a customer's message on a ticket's history once (its item id in data), the ticket's row locked
 * so two nodes hearing the same event cannot both write it. Returns whether it was new.
 */
export async function carryCustomerMessage(tx: Tx, ticket: Ticket, item: TimelineView) {
  const [seen] = await tx
    .select({ id: ticketEntries.id })
    .from(ticketEntries)
    .where(and(eq(ticketEntries.ticketId, ticket.id), sql`${ticketEntries.data}->>'itemId' = ${item.id}`))
    .limit(1);
  if (seen) return false;
  await tx.insert(ticketEntries).values({
    workspaceId: ticket.workspaceId,
    ticketId: ticket.id,
    kind: "customer_message",
    body: item.text ?? "",
    data: {
      itemId: item.id,
      conversationId: item.conversationId,
      senderName: item.sender?.name ?? null,
      sentAt: item.createdAt,
      channel: item.channel,
    },
  });
  return true;
}

/**
 * A customer wrote on a conversation linked to tickets that are not closed: the message joins each
 * ticket's history, and a ticket waiting for the customer, or solved, is theirs to work again
 * (`open`, by the system).
 */
export async function customerReplied(core: Core, workspaceId: string, conversationId: string, item: TimelineView) {
  const linked = await core.db
    .select({ id: tickets.id })
    .from(ticketConversations)
    .innerJoin(tickets, eq(tickets.id, ticketConversations.ticketId))
    .where(
      and(
        eq(ticketConversations.workspaceId, workspaceId),
        eq(ticketConversations.conversationId, conversationId),
        ne(tickets.status, "closed"),
      ),
    );
  for (const { id } of linked)
    await withEvents(core, async (tx, events) => {
      const [ticket] = await tx.select().from(tickets).where(eq(tickets.id, id)).for("update");
      if (!ticket || ticket.status === "closed") return;
      if (!(await carryCustomerMessage(tx, ticket, item))) return;
      await touch(tx, events, ticket, item);
    });
}

async function touch(tx: Tx, events: EventLog, ticket: Ticket, item: TimelineView) {
  // As help desks do: a customer who writes again on a solved ticket has not been helped yet; a
  // closed ticket stays closed (a time-based rule can close solved tickets after a few days).
  if (ticket.status === "pending_customer" || ticket.status === "solved")
    await changeTicket(tx, events, ticket.workspaceId, ticket.id, { status: "open" }, "system");
  const [after] = await tx.update(tickets).set({ updatedAt: new Date() }).where(eq(tickets.id, ticket.id)).returning();
  // The customer's message is a change of its own: it starts the ticket's next-response clock (sla/)
  // and is a "ticket changed" for automation rules.
  await events.append(ticket.workspaceId, {
    type: "ticket.updated",
    conversationId: null,
    payload: {
      ticketId: ticket.id,
      ticket: await ticketViewOf(tx, after!),
      changes: [{ field: "customer_message", from: null, to: item.id }],
      by: { type: "contact", id: item.sender?.id ?? null, name: item.sender?.name ?? null },
      scope: ticketScope(after!),
    },
  });
}
