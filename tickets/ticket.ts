import { and, eq, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { contacts, ticketConversations, tickets, type Ticket } from "../db/schema/index.ts";
import { canSeeConversation, isRule, type Actor, type ChangeBy } from "../conversations/actor.ts";
import type { EventScope } from "../conversations/event.ts";
import { NotFound } from "../platform/errors.ts";
import { can } from "../platform/permission.ts";

/** A ticket's SLA targets, filled by sla/ (the route layer); null where no policy applies. */
export type TicketSla = {
  policyId: string;
  firstResponseDueAt: string | null;
  nextResponseDueAt: string | null;
  resolutionDueAt: string | null;
  breached: string[];
} | null;

export type TicketView = ReturnType<typeof ticketView>;

/** What a ticket's JSON needs beyond its row: its contact and every conversation linked to it. */
export type TicketExtras = { contact: { id: string; name: string | null } | null; conversationIds: string[] };

export function ticketView(t: Ticket, extras: TicketExtras) {
  return {
    id: t.id,
    number: t.number,
    title: t.title,
    description: t.description,
    type: t.type,
    priority: t.priority,
    status: t.status,
    teamId: t.teamId,
    assigneeId: t.assigneeId,
    contactId: t.contactId,
    conversationId: t.conversationId,
    conversationIds: extras.conversationIds,
    source: t.source,
    fields: t.fields,
    dueAt: t.dueAt?.toISOString() ?? null,
    sla: null as TicketSla,
    solvedAt: t.solvedAt?.toISOString() ?? null,
    closedAt: t.closedAt?.toISOString() ?? null,
    statusChangedAt: t.statusChangedAt.toISOString(),
    createdAt: t.createdAt.toISOString(),
    updatedAt: t.updatedAt.toISOString(),
    contact: extras.contact ? { id: extras.contact.id, name: extras.contact.name } : null,
  };
}

/** Who may see a ticket's events: the conversation rule's two keys. */
export const ticketScope = (t: Pick<Ticket, "assigneeId" | "teamId">): EventScope => ({
  assigneeId: t.assigneeId,
  teamId: t.teamId,
});

/**
 * The one visibility rule of conversations applied to tickets (their assignee and team), for whoever
 * holds tickets.read.
 */
export const canSeeTicket = (actor: Actor, t: Pick<Ticket, "assigneeId" | "teamId">) =>
  can(actor, "tickets.read") && canSeeConversation(actor, t);

/** `canSeeTicket` as a SQL condition on `tickets`, for lists. */
export function visibleTickets(actor: Actor): SQL | undefined {
  if (!can(actor, "tickets.read")) return sql`false`;
  if (can(actor, "conversations.read_all")) return undefined;
  if (!can(actor, "conversations.read")) return sql`false`;
  const own = or(isNull(tickets.assigneeId), eq(tickets.assigneeId, actor.userId));
  return actor.teamIds.length ? or(own, inArray(tickets.teamId, actor.teamIds)) : own;
}

/** Views of several rows of one workspace, with their contacts and conversations in two queries. */
export async function ticketViews(db: Executor, rows: Ticket[]): Promise<TicketView[]> {
  if (!rows.length) return [];
  const ids = rows.map((r) => r.id);
  const contactIds = [...new Set(rows.flatMap((r) => (r.contactId ? [r.contactId] : [])))];
  const [links, people] = await Promise.all([
    db
      .select({ ticketId: ticketConversations.ticketId, conversationId: ticketConversations.conversationId })
      .from(ticketConversations)
      .where(inArray(ticketConversations.ticketId, ids))
      .orderBy(ticketConversations.createdAt),
    contactIds.length
      ? db.select({ id: contacts.id, name: contacts.name }).from(contacts).where(inArray(contacts.id, contactIds))
      : Promise.resolve([]),
  ]);
  const byContact = new Map(people.map((p) => [p.id, p]));
  return rows.map((r) =>
    ticketView(r, {
      contact: r.contactId ? (byContact.get(r.contactId) ?? null) : null,
      conversationIds: links.filter((l) => l.ticketId === r.id).map((l) => l.conversationId),
    }),
  );
}

export async function ticketViewOf(db: Executor, row: Ticket) {
  return (await ticketViews(db, [row]))[0]!;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A ticket of the workspace by id or by its number ("1042", "#1042"); another workspace's is not
 * found, whichever way it is named. Locked for the rest of the transaction when `lock`.
 */
export async function ticketRow(db: Executor, workspaceId: string, idOrNumber: string, lock = false) {
  const ref = idOrNumber.replace(/^#/, "");
  let key: SQL;
  if (UUID.test(ref)) key = eq(tickets.id, ref);
  else if (/^\d{1,9}$/.test(ref)) key = eq(tickets.number, Number(ref));
  else throw new NotFound("Ticket");
  const q = db
    .select()
    .from(tickets)
    .where(and(eq(tickets.workspaceId, workspaceId), key));
  const [row] = lock ? await q.for("update") : await q;
  if (!row) throw new NotFound("Ticket");
  return row;
}

/** A ticket the actor may see (else not found: its existence is not told either). */
export async function visibleTicket(db: Executor, actor: Actor, idOrNumber: string, lock = false) {
  const row = await ticketRow(db, actor.workspaceId, idOrNumber, lock);
  if (!canSeeTicket(actor, row)) throw new NotFound("Ticket");
  return row;
}

/** `by` of ticket events: who made the change, as the shared convention spells it. */
export function byOf(by: ChangeBy) {
  if (by === "system") return { type: "system" as const, id: null, name: "system" };
  // A rule's depth travels with its change: automation's loop guard stops chains by it.
  if (isRule(by)) return { type: "rule" as const, id: by.rule.id, name: by.rule.name, depth: by.rule.depth ?? 0 };
  return { type: "agent" as const, id: by.userId, name: by.name };
}

/** The user a change is attributed to on the ticket's history (none for the system or a rule). */
export const authorOf = (by: ChangeBy) => (by === "system" || isRule(by) ? null : by.userId);
