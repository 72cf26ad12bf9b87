import { and, asc, eq, isNull } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { ticketEntries, tickets, users, type TicketEntry } from "../db/schema/index.ts";
import type { Actor } from "../conversations/actor.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { Invalid } from "../platform/errors.ts";
import { mentionedUsers } from "./mention.ts";
import { notify } from "./notification.ts";
import { byOf, ticketScope, ticketViewOf, visibleTicket } from "./ticket.ts";

export const MAX_COMMENT = 10_000;

export const entryView = (e: TicketEntry, author: { id: string; name: string } | null) => ({
  id: e.id,
  kind: e.kind,
  body: e.body,
  author,
  mentions: e.mentions,
  data: e.data,
  createdAt: e.createdAt.toISOString(),
});

/** A ticket's history, oldest first: comments, changes, the customer's messages, notices sent. */
export async function listEntries(db: Executor, actor: Actor, idOrNumber: string) {
  const ticket = await visibleTicket(db, actor, idOrNumber);
  const rows = await db
    .select({ entry: ticketEntries, author: { id: users.id, name: users.name } })
    .from(ticketEntries)
    .leftJoin(users, eq(users.id, ticketEntries.authorId))
    .where(eq(ticketEntries.ticketId, ticket.id))
    .orderBy(asc(ticketEntries.createdAt), asc(ticketEntries.id));
  return { items: rows.map((r) => entryView(r.entry, r.author?.id ? r.author : null)) };
}

/**
 * An internal comment. Whoever it @mentions (by name or email handle) gets a notification on their
 * bell and socket — only them.
 */
export async function addComment(core: Core, actor: Actor, idOrNumber: string, body: string) {
  const text = body.trim();
  if (!text) throw new Invalid("A comment needs text", "body");
  if (text.length > MAX_COMMENT) throw new Invalid(`A comment is at most ${MAX_COMMENT} characters`, "body");
  return withEvents(core, async (tx, events) => {
    const ticket = await visibleTicket(tx, actor, idOrNumber, true);
    const people = await tx
      .select({ id: users.id, name: users.name, email: users.email })
      .from(users)
      .where(and(eq(users.workspaceId, actor.workspaceId), isNull(users.disabledAt)));
    const mentions = mentionedUsers(text, people);
    const [row] = await tx
      .insert(ticketEntries)
      .values({
        workspaceId: actor.workspaceId,
        ticketId: ticket.id,
        kind: "comment",
        authorId: actor.userId,
        body: text,
        mentions,
      })
      .returning();
    for (const userId of mentions.filter((id) => id !== actor.userId))
      await notify(tx, events, {
        workspaceId: actor.workspaceId,
        userId,
        kind: "mention",
        text: `${actor.name} @ #${ticket.number} ${ticket.title}: ${text.slice(0, 200)}`,
        ticketId: ticket.id,
      });
    const [touched] = await tx
      .update(tickets)
      .set({ updatedAt: new Date() })
      .where(eq(tickets.id, ticket.id))
      .returning();
    await events.append(actor.workspaceId, {
      type: "ticket.updated",
      conversationId: null,
      payload: {
        ticketId: ticket.id,
        ticket: await ticketViewOf(tx, touched!),
        changes: [{ field: "comment", from: null, to: row!.id }],
        by: byOf(actor),
        scope: ticketScope(ticket),
      },
    });
    return entryView(row!, { id: actor.userId, name: actor.name });
  });
}
