import { eq, inArray, isNull, or, type SQL } from "drizzle-orm";
import type { Role } from "../db/schema/index.ts";
import { conversations } from "../db/schema/index.ts";
import type { DomainEvent } from "./event.ts";

/** The signed-in user acting on conversations, with what decides what they may see. */
export type Actor = { userId: string; workspaceId: string; role: Role; name: string; teamIds: string[] };

/**
 * Admins and supervisors see every conversation of their workspace; agents see theirs, unassigned
 * ones and their teams'; knowledge editors work on articles and see none.
 */
export function canSeeConversation(actor: Actor, c: { assigneeId: string | null; teamId: string | null }) {
  if (actor.role === "admin" || actor.role === "supervisor") return true;
  if (actor.role !== "agent") return false;
  return c.assigneeId === null || c.assigneeId === actor.userId || (c.teamId !== null && actor.teamIds.includes(c.teamId));
}

/** The same rule as a SQL condition, for lists. */
export function visibleConversations(actor: Actor): SQL | undefined {
  if (actor.role === "admin" || actor.role === "supervisor") return undefined;
  if (actor.role !== "agent") return eq(conversations.id, "00000000-0000-0000-0000-000000000000");
  const own = or(isNull(conversations.assigneeId), eq(conversations.assigneeId, actor.userId));
  return actor.teamIds.length ? or(own, inArray(conversations.teamId, actor.teamIds)) : own;
}

/** Realtime: an event reaches an agent only if its conversation scope would be visible to them. */
export function canSeeEvent(actor: Actor, event: DomainEvent) {
  const { scope, previousScope } = event.payload;
  // Addressed to one person (a browser call's signalling): nobody else, whatever else they may see.
  const onlyFor = event.payload.onlyFor as { userId?: string } | undefined;
  if (onlyFor) return onlyFor.userId === actor.userId;
  if (!event.conversationId || !scope) return actor.role !== "knowledge_editor";
  // An agent who could see the conversation before a reassignment is told it moved away.
  return [scope, previousScope].some(
    (s) => s !== undefined && canSeeConversation(actor, { assigneeId: s.assigneeId ?? null, teamId: s.teamId ?? null }),
  );
}
