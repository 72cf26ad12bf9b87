import { and, desc, eq, ne } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { contacts, conversations, type Conversation, type ConversationStatus } from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { canSeeConversation, type Actor } from "./actor.ts";
import type { EventScope } from "./event.ts";

export type ConversationView = ReturnType<typeof conversationView>;

export function conversationView(c: Conversation, contact: { id: string; name: string | null }) {
  return {
    id: c.id,
    status: c.status,
    channel: c.channel,
    inboxId: c.inboxId,
    priority: c.priority,
    assigneeId: c.assigneeId,
    teamId: c.teamId,
    queueId: c.queueId,
    labels: c.labels,
    contact: { id: contact.id, name: contact.name },
    lastMessage: { text: c.lastMessageText },
    lastActivityAt: c.lastActivityAt.toISOString(),
    waitingSince: c.waitingSince?.toISOString() ?? null,
    createdAt: c.createdAt.toISOString(),
    firstResponseAt: c.firstResponseAt?.toISOString() ?? null,
    resolvedAt: c.resolvedAt?.toISOString() ?? null,
    snoozedUntil: c.snoozedUntil?.toISOString() ?? null,
  };
}

export function scopeOf(c: Pick<Conversation, "contactId" | "assigneeId" | "teamId">): EventScope {
  return { contactId: c.contactId, assigneeId: c.assigneeId, teamId: c.teamId };
}

export const OPEN_STATUSES: ConversationStatus[] = ["open", "pending", "snoozed"];

export async function contactOf(db: Executor, contactId: string) {
  const [row] = await db
    .select({ id: contacts.id, name: contacts.name })
    .from(contacts)
    .where(eq(contacts.id, contactId));
  return row!;
}

export function summarize(text: string | null, files: number) {
  if (text) return text.length > 200 ? text.slice(0, 200) + "…" : text;
  return files ? `[${files} attachment${files > 1 ? "s" : ""}]` : null;
}

/** A conversation the actor may see, locked for the rest of the transaction when `lock`. */
export async function visibleConversation(db: Executor, actor: Actor, conversationId: string, lock = false) {
  const q = db
    .select()
    .from(conversations)
    .where(and(eq(conversations.workspaceId, actor.workspaceId), eq(conversations.id, conversationId)));
  const [c] = lock ? await q.for("update") : await q;
  if (!c || !canSeeConversation(actor, c)) throw new NotFound("Conversation");
  return c;
}

export async function getConversation(db: Executor, actor: Actor, conversationId: string) {
  const c = await visibleConversation(db, actor, conversationId);
  return conversationView(c, await contactOf(db, c.contactId));
}

/** The conversation row for access checks elsewhere (timeline). */
export async function requireConversation(db: Executor, actor: Actor, conversationId: string) {
  return visibleConversation(db, actor, conversationId);
}

/** Used by the widget: the visitor's own conversation, if one is open. */
export async function openConversationOf(db: Executor, workspaceId: string, contactId: string) {
  const [c] = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(
      and(
        eq(conversations.workspaceId, workspaceId),
        eq(conversations.contactId, contactId),
        ne(conversations.status, "resolved"),
      ),
    )
    .orderBy(desc(conversations.lastActivityAt))
    .limit(1);
  return c?.id ?? null;
}
