import { and, desc, eq, inArray, isNull, lt, notInArray, or, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import {
  conversations,
  ticketConversations,
  ticketLinks,
  tickets,
  type TicketPriority,
  type TicketStatus,
} from "../db/schema/index.ts";
import { canSeeConversation, type Actor } from "../conversations/actor.ts";
import { Invalid } from "../platform/errors.ts";
import { ticketViewOf, ticketViews, visibleTicket, visibleTickets } from "./ticket.ts";

export const ticketViewNames = ["all", "mine", "unassigned", "overdue", "open"] as const;

export type TicketFilter = {
  status?: TicketStatus[];
  teamId?: string;
  /** A user id, "me" or "none". */
  assignee?: string;
  priority?: TicketPriority;
  type?: string;
  contactId?: string;
  /** The title's words, or a number (`1042`, `#1042`). */
  q?: string;
  view?: (typeof ticketViewNames)[number];
  cursor?: string;
  limit: number;
};

const DONE: TicketStatus[] = ["solved", "closed"];

function encodeCursor(t: { updatedAt: string; id: string }) {
  return Buffer.from(`${t.updatedAt}|${t.id}`).toString("base64url");
}

function decodeCursor(cursor: string) {
  const [at, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const date = new Date(at ?? "");
  if (!id || Number.isNaN(date.getTime()) || !/^[0-9a-f-]{36}$/.test(id))
    throw new Invalid("Malformed cursor", "cursor");
  return { at: date, id };
}

function viewCondition(actor: Actor, view: TicketFilter["view"]): SQL | undefined {
  switch (view) {
    case "mine":
      return and(eq(tickets.assigneeId, actor.userId), notInArray(tickets.status, DONE));
    case "unassigned":
      return and(isNull(tickets.assigneeId), notInArray(tickets.status, DONE));
    case "overdue":
      return and(lt(tickets.dueAt, new Date()), notInArray(tickets.status, DONE));
    case "open":
      return notInArray(tickets.status, DONE);
    default:
      return undefined;
  }
}

function matching(q: string): SQL | undefined {
  const text = q.trim();
  if (!text) return undefined;
  const number = /^#?(\d{1,9})$/.exec(text);
  const title = sql`strpos(lower(${tickets.title}), lower(${text})) > 0`;
  return number ? or(eq(tickets.number, Number(number[1])), title) : title;
}

/** The tickets the actor may see, most recently changed first, with a keyset cursor. */
export async function listTickets(db: Executor, actor: Actor, f: TicketFilter) {
  const conditions: (SQL | undefined)[] = [eq(tickets.workspaceId, actor.workspaceId), visibleTickets(actor)];
  if (f.status?.length) conditions.push(inArray(tickets.status, f.status));
  if (f.teamId) conditions.push(eq(tickets.teamId, f.teamId));
  if (f.assignee === "none") conditions.push(isNull(tickets.assigneeId));
  else if (f.assignee) conditions.push(eq(tickets.assigneeId, f.assignee === "me" ? actor.userId : f.assignee));
  if (f.priority) conditions.push(eq(tickets.priority, f.priority));
  if (f.type) conditions.push(eq(tickets.type, f.type));
  if (f.contactId) conditions.push(eq(tickets.contactId, f.contactId));
  if (f.q) conditions.push(matching(f.q));
  conditions.push(viewCondition(actor, f.view));
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    conditions.push(or(lt(tickets.updatedAt, c.at), and(eq(tickets.updatedAt, c.at), lt(tickets.id, c.id))));
  }
  const rows = await db
    .select()
    .from(tickets)
    .where(and(...conditions))
    .orderBy(desc(tickets.updatedAt), desc(tickets.id))
    .limit(f.limit + 1);
  const items = await ticketViews(db, rows.slice(0, f.limit));
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > f.limit && last ? encodeCursor(last) : null };
}

/** A contact's tickets the actor may see, newest first: the ticket on the contact's timeline. */
export async function contactTickets(db: Executor, actor: Actor, contactId: string) {
  const rows = await db
    .select()
    .from(tickets)
    .where(and(eq(tickets.workspaceId, actor.workspaceId), eq(tickets.contactId, contactId), visibleTickets(actor)))
    .orderBy(desc(tickets.createdAt))
    .limit(100);
  return { items: await ticketViews(db, rows) };
}

/**
 * One ticket with its links to other tickets (each seen from this side: `outgoing` when this ticket
 * is the child or the duplicate) and the conversations linked to it that the actor may see.
 */
export async function ticketDetail(db: Executor, actor: Actor, idOrNumber: string) {
  const row = await visibleTicket(db, actor, idOrNumber);
  const [outgoing, incoming, linked] = await Promise.all([
    db
      .select({ kind: ticketLinks.kind, other: tickets })
      .from(ticketLinks)
      .innerJoin(tickets, eq(tickets.id, ticketLinks.otherTicketId))
      .where(eq(ticketLinks.ticketId, row.id)),
    db
      .select({ kind: ticketLinks.kind, other: tickets })
      .from(ticketLinks)
      .innerJoin(tickets, eq(tickets.id, ticketLinks.ticketId))
      .where(eq(ticketLinks.otherTicketId, row.id)),
    db
      .select()
      .from(ticketConversations)
      .innerJoin(conversations, eq(conversations.id, ticketConversations.conversationId))
      .where(eq(ticketConversations.ticketId, row.id))
      .orderBy(ticketConversations.createdAt),
  ]);
  const link = (direction: "outgoing" | "incoming") => (l: (typeof outgoing)[number]) => ({
    ticketId: l.other.id,
    number: l.other.number,
    title: l.other.title,
    status: l.other.status,
    kind: l.kind,
    direction,
  });
  return {
    ...(await ticketViewOf(db, row)),
    links: [...outgoing.map(link("outgoing")), ...incoming.map(link("incoming"))],
    conversations: linked
      .map((l) => l.conversations)
      .filter((c) => canSeeConversation(actor, c))
      .map((c) => ({ id: c.id, channel: c.channel, status: c.status, lastMessageText: c.lastMessageText })),
  };
}
