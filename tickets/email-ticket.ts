import { and, asc, eq } from "drizzle-orm";
import {
  conversations,
  inboxes,
  ticketConversations,
  tickets,
  timelineItems,
  type Conversation,
} from "../db/schema/index.ts";
import { timelineView } from "../conversations/timeline.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { changeTicket } from "./change-ticket.ts";
import { insertTicket } from "./create-ticket.ts";
import { carryCustomerMessage } from "./customer-reply.ts";

/** `[#1042]` in a subject: the ticket a customer's mail is about. */
export const ticketNumberIn = (subject: string) => {
  const m = /\[#(\d{1,9})\]/.exec(subject);
  return m ? Number(m[1]) : undefined;
};

const isTicketAddress = (settings: Record<string, unknown>) => settings.createsTickets === true;

/**
 * Mail to a ticket address (an email inbox with `createsTickets`): each new conversation it receives
 * becomes a ticket — title the subject, description the mail — unless its subject names a ticket of the
 * workspace that is not closed (`Re: … [#1042]` from a mail program that broke the thread), which it
 * joins instead. Once per conversation however often the event is heard: the conversation's row is
 * locked and a ticket already linked to it ends the work.
 */
export async function ticketFromMail(core: Core, workspaceId: string, conversationId: string) {
  const [head] = await core.db
    .select({ channel: conversations.channel, settings: inboxes.settings })
    .from(conversations)
    .innerJoin(inboxes, eq(inboxes.id, conversations.inboxId))
    .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.id, conversationId)));
  if (head?.channel !== "email" || !isTicketAddress(head.settings as Record<string, unknown>)) return;
  await withEvents(core, async (tx, events) => {
    const [conversation] = await tx
      .select()
      .from(conversations)
      .where(eq(conversations.id, conversationId))
      .for("update");
    if (!conversation) return;
    const [linked] = await tx
      .select({ id: ticketConversations.ticketId })
      .from(ticketConversations)
      .where(eq(ticketConversations.conversationId, conversationId))
      .limit(1);
    if (linked) return;
    const [first] = await tx
      .select()
      .from(timelineItems)
      .where(
        and(
          eq(timelineItems.conversationId, conversationId),
          eq(timelineItems.type, "message"),
          eq(timelineItems.direction, "in"),
        ),
      )
      .orderBy(asc(timelineItems.seq))
      .limit(1);
    if (!first) return;
    const subject = String((first.data as { subject?: unknown }).subject ?? "").trim();
    const number = ticketNumberIn(subject);
    if (number !== undefined && (await joinTicket(tx, events, conversation, number, first))) return;
    const text = first.text ?? "";
    await insertTicket(
      tx,
      events,
      workspaceId,
      {
        title: (subject || text.split("\n")[0]?.trim() || "(no subject)").slice(0, 300),
        description: text.slice(0, 20_000),
        conversationId,
        source: { kind: "email" },
      },
      "system",
    );
  });
}

/** The mail joins ticket #number (not closed) of the conversation's workspace: false if there is none. */
async function joinTicket(
  tx: Parameters<Parameters<typeof withEvents>[1]>[0],
  events: Parameters<Parameters<typeof withEvents>[1]>[1],
  conversation: Conversation,
  number: number,
  first: typeof timelineItems.$inferSelect,
) {
  const [ticket] = await tx
    .select()
    .from(tickets)
    .where(and(eq(tickets.workspaceId, conversation.workspaceId), eq(tickets.number, number)))
    .for("update");
  if (!ticket || ticket.status === "closed") return false;
  await tx
    .insert(ticketConversations)
    .values({ workspaceId: ticket.workspaceId, ticketId: ticket.id, conversationId: conversation.id })
    .onConflictDoNothing();
  await carryCustomerMessage(tx, ticket, timelineView(first, []));
  if (ticket.status === "pending_customer")
    await changeTicket(tx, events, ticket.workspaceId, ticket.id, { status: "open" }, "system");
  else await tx.update(tickets).set({ updatedAt: new Date() }).where(eq(tickets.id, ticket.id));
  return true;
}
