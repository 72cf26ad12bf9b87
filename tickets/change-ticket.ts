import { eq } from "drizzle-orm";
import type { Tx } from "../db/connect.ts";
import { ticketEntries, tickets, type Ticket, type TicketPriority, type TicketStatus } from "../db/schema/index.ts";
import { isRule, type Actor, type ChangeBy } from "../conversations/actor.ts";
import type { EventLog } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { Conflict, Invalid } from "../platform/errors.ts";
import { assertTicketReferences, fieldDefinitions } from "./create-ticket.ts";
import { mergeFields } from "./field-value.ts";
import { sendTicketNotice } from "./notice.ts";
import { notify } from "./notification.ts";
import { authorOf, byOf, ticketRow, ticketScope, ticketViewOf, visibleTicket, type TicketView } from "./ticket.ts";

export type TicketPatch = {
  status?: TicketStatus;
  assigneeId?: string | null;
  teamId?: string | null;
  priority?: TicketPriority;
  type?: string | null;
  title?: string;
  description?: string;
  fields?: Record<string, unknown>;
};

const ATTRIBUTES = ["status", "assigneeId", "teamId", "priority", "type", "title", "description"] as const;

/**
 * Closed is final: a closed ticket changes no more, except that an agent may reopen it (to `open`) —
 * a customer coming back about the same matter, or a ticket closed by mistake. Rules and the system
 * never reopen one.
 */
function assertChangeable(before: Ticket, patch: TicketPatch, by: ChangeBy) {
  if (before.status !== "closed") return;
  const agent = by !== "system" && !isRule(by);
  const reopening = patch.status === "open";
  const onlyStatus = Object.entries(patch).every(([k, v]) => k === "status" || v === undefined);
  if (!(agent && reopening && onlyStatus))
    throw new Conflict("A closed ticket is final: an agent may only reopen it (status open)", "status");
}

/**
 * Changes a ticket inside the caller's transaction (agents, rules, the system), its row locked: one
 * `change` entry per changed attribute ("by rule X" when a rule did it), the customer told of a status
 * change, the new assignee notified, and one `ticket.updated` event listing the changes.
 */
export async function changeTicket(
  tx: Tx,
  events: EventLog,
  workspaceId: string,
  ticketId: string,
  patch: TicketPatch,
  by: ChangeBy,
): Promise<TicketView> {
  const before = await ticketRow(tx, workspaceId, ticketId, true);
  assertChangeable(before, patch, by);
  if (patch.title !== undefined && !patch.title.trim()) throw new Invalid("A ticket needs a title", "title");
  await assertTicketReferences(tx, workspaceId, patch);
  const next: Partial<Ticket> = {};
  const changes: { field: string; from: unknown; to: unknown }[] = [];
  for (const key of ATTRIBUTES) {
    const value = key === "title" ? patch.title?.trim() : patch[key];
    if (value === undefined || value === before[key]) continue;
    (next as Record<string, unknown>)[key] = value;
    changes.push({ field: key, from: before[key], to: value });
  }
  if (patch.fields) {
    const merged = mergeFields(await fieldDefinitions(tx, workspaceId), before.fields, patch.fields);
    for (const key of new Set([...Object.keys(before.fields), ...Object.keys(merged)]))
      if (before.fields[key] !== merged[key])
        changes.push({ field: `fields.${key}`, from: before.fields[key] ?? null, to: merged[key] ?? null });
    if (changes.some((c) => c.field.startsWith("fields."))) next.fields = merged;
  }
  if (!changes.length) return ticketViewOf(tx, before);
  const now = new Date();
  if (next.status) {
    next.statusChangedAt = now;
    if (next.status === "solved") next.solvedAt = now;
    if (next.status === "closed") next.closedAt = now;
    // Reopened: no longer solved or closed.
    if (next.status !== "solved" && next.status !== "closed") Object.assign(next, { solvedAt: null, closedAt: null });
  }
  const [after] = await tx
    .update(tickets)
    .set({ ...next, updatedAt: now })
    .where(eq(tickets.id, before.id))
    .returning();
  const ticket = after!;
  const rule = isRule(by) ? { rule: by.rule } : {};
  await tx.insert(ticketEntries).values(
    changes.map((c) => ({
      workspaceId,
      ticketId: ticket.id,
      kind: "change" as const,
      authorId: authorOf(by),
      body: c.field,
      data: { ...c, ...rule },
    })),
  );
  if (next.status) await sendTicketNotice(tx, events, ticket, next.status);
  if (next.assigneeId && next.assigneeId !== authorOf(by))
    await notify(tx, events, {
      workspaceId,
      userId: next.assigneeId,
      kind: "ticket_assigned",
      text: `#${ticket.number} ${ticket.title}`,
      ticketId: ticket.id,
    });
  const view = await ticketViewOf(tx, ticket);
  await events.append(workspaceId, {
    type: "ticket.updated",
    conversationId: null,
    payload: {
      ticketId: ticket.id,
      ticket: view,
      changes,
      by: byOf(by),
      scope: ticketScope(ticket),
      previousScope: ticketScope(before),
    },
  });
  return view;
}

/** An agent's change through the API: the ticket must be one they may see. */
export async function updateTicket(core: Core, actor: Actor, idOrNumber: string, patch: TicketPatch) {
  return withEvents(core, async (tx, events) => {
    const row = await visibleTicket(tx, actor, idOrNumber, true);
    return changeTicket(tx, events, actor.workspaceId, row.id, patch, actor);
  });
}
