import { and, eq, notInArray } from "drizzle-orm";
import type { ConditionSubject } from "../conversations/condition.ts";
import type { Db } from "../db/connect.ts";
import {
  contacts,
  conversations,
  queues,
  ticketConversations,
  tickets,
  type SlaMetric,
  type Ticket,
} from "../db/schema/index.ts";
import {
  everStarted,
  liveClocks,
  nearestDueAt,
  pauseClocks,
  replanClocks,
  resumeClocks,
  startClock,
  stopClocks,
  type ClockSubject,
} from "./clock.ts";
import { activePolicies, choosePolicy } from "./policy.ts";
import { workspaceCalendar } from "./workspace-calendar.ts";

const ALL: SlaMetric[] = ["first_response", "next_response", "resolution"];
/** What an agent changes on a ticket that the customer sees (they are told of a status change). */
const VISIBLE_CHANGES = new Set(["status", "reply"]);

export type TicketEventPayload = {
  ticketId: string;
  changes?: { field: string }[];
  by?: { type: string };
};

/**
 * Brings a ticket's clocks in line with its state after a `ticket.created` / `ticket.updated`
 * (state, not event order, decides: events repeat and reach every node):
 * - the policy is chosen by the ticket's priority, type, team, contact (VIP) and its conversation's
 *   channel and queue; business hours are that queue's, else the workspace calendar;
 * - first response runs while the ticket is `new`, met by its first move out of `new` or an agent's
 *   change the customer sees;
 * - next response runs from a customer's message into the ticket after that, met by the next agent
 *   change the customer sees or an agent's reply on its conversation;
 * - resolution runs from creation (from now once reopened), met at solved or closed;
 * - `pending_customer` pauses the clocks; any other open status resumes them;
 * - `tickets.due_at` keeps the nearest running due time.
 */
export async function reconcileTicket(db: Db, workspaceId: string, event: TicketEventPayload) {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .select({
        ticket: tickets,
        attributes: contacts.attributes,
        channel: conversations.channel,
        queueId: conversations.queueId,
        queueHours: queues.businessHours,
      })
      .from(tickets)
      .leftJoin(contacts, eq(contacts.id, tickets.contactId))
      .leftJoin(conversations, eq(conversations.id, tickets.conversationId))
      .leftJoin(queues, and(eq(queues.id, conversations.queueId), eq(queues.workspaceId, tickets.workspaceId)))
      .where(and(eq(tickets.workspaceId, workspaceId), eq(tickets.id, event.ticketId)));
    if (!row) return;
    const t = row.ticket;
    const subject: ClockSubject = { workspaceId, ticketId: t.id };
    const now = new Date();
    const done = t.status === "solved" || t.status === "closed";
    if (done) await stopClocks(tx, subject, ALL, now);
    else {
      const attributes = row.attributes ?? {};
      const policy = choosePolicy(
        await activePolicies(tx, workspaceId),
        ticketSubject(t, attributes, row.channel, row.queueId),
      );
      if (policy) {
        const hours = policy.businessHours ? (row.queueHours ?? (await workspaceCalendar(tx, workspaceId))) : null;
        const clocks = await liveClocks(tx, subject);
        await replanClocks(tx, clocks, policy, hours, now);
        const waiting = t.status === "pending_customer";
        if (waiting) await pauseClocks(tx, clocks, now);
        else await resumeClocks(tx, clocks, now);
        if (!clocks.some((k) => k.metric === "resolution")) {
          const reopened = await everStarted(tx, subject, "resolution");
          await startClock(tx, subject, policy, "resolution", hours, reopened ? now : t.createdAt, waiting);
        }
        const agentAnswered =
          event.by?.type === "agent" && (event.changes ?? []).some((c) => VISIBLE_CHANGES.has(c.field));
        const answered = t.status !== "new" || agentAnswered;
        if (answered) await stopClocks(tx, subject, ["first_response"], now);
        else if (!(await everStarted(tx, subject, "first_response")))
          await startClock(tx, subject, policy, "first_response", hours, t.createdAt, waiting);
        // Next response: the customer wrote into the ticket after its first response; met by the next
        // agent change they see (or an agent's reply on its conversation: ticketsAnswered).
        if (agentAnswered) await stopClocks(tx, subject, ["next_response"], now);
        else if (
          (event.changes ?? []).some((c) => c.field === "customer_message") &&
          answered &&
          !(await liveClocks(tx, subject)).some((k) => k.metric === "next_response")
        )
          await startClock(tx, subject, policy, "next_response", hours, now, waiting);
      }
    }
    const due = done ? null : await nearestDueAt(tx, subject);
    if ((due?.getTime() ?? null) !== (t.dueAt?.getTime() ?? null))
      await tx.update(tickets).set({ dueAt: due }).where(eq(tickets.id, t.id));
  });
}

/** A ticket as SLA conditions read it. */
export function ticketSubject(
  t: Ticket,
  attributes: Record<string, unknown>,
  channel: string | null,
  queueId: string | null,
): ConditionSubject {
  return {
    kind: "ticket",
    channel,
    status: t.status,
    priority: t.priority,
    ticketType: t.type,
    teamId: t.teamId,
    assigneeId: t.assigneeId,
    queueId,
    vip: attributes.vip === true,
    contact: attributes,
  };
}

/**
 * An agent replied on a conversation: the open tickets it belongs to have had their answer too —
 * their first and next response clocks are met, and their due time follows.
 */
export async function ticketsAnswered(db: Db, workspaceId: string, conversationId: string, at: Date) {
  const linked = await db
    .select({ id: tickets.id })
    .from(ticketConversations)
    .innerJoin(tickets, eq(tickets.id, ticketConversations.ticketId))
    .where(
      and(
        eq(ticketConversations.workspaceId, workspaceId),
        eq(ticketConversations.conversationId, conversationId),
        notInArray(tickets.status, ["solved", "closed"]),
      ),
    );
  for (const { id } of linked)
    await db.transaction(async (tx) => {
      const subject: ClockSubject = { workspaceId, ticketId: id };
      await stopClocks(tx, subject, ["first_response", "next_response"], at);
      await tx
        .update(tickets)
        .set({ dueAt: await nearestDueAt(tx, subject) })
        .where(eq(tickets.id, id));
    });
}
