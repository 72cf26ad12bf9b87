import { and, eq, inArray, isNull, or, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import type { ApiKeyScope, Attachment, Role } from "../db/schema/index.ts";
import { conversations, emailQuarantine, timelineItems } from "../db/schema/index.ts";
import { can, type Permission } from "../platform/permission.ts";
import type { DomainEvent } from "./event.ts";

/**
 * The signed-in user acting on conversations, with what decides what they may see. `scopes`: an API
 * key's, when the user is the key's service user (conversations/api-key.ts requireScope).
 */
export type Actor = {
  userId: string;
  workspaceId: string;
  role: Role;
  name: string;
  teamIds: string[];
  scopes?: ApiKeyScope[];
};

/**
 * Who made a change: an agent (their Actor), the system (a timer, a provider), or an automation
 * rule, which the timeline shows as done "by rule <name>".
 */
export type ChangeBy = Actor | "system" | { rule: RuleRef };
/** A rule acting; `depth`: how many rule runs led to this one (automation's loop guard). */
export type RuleRef = { id: string; name: string; depth?: number };

export const isRule = (by: ChangeBy): by is { rule: RuleRef } => typeof by === "object" && "rule" in by;

/**
 * The visibility rule, one for lists, timelines, contacts, files, search and sockets: whoever holds
 * conversations.read_all (supervisors, admins) sees every conversation of their workspace; whoever
 * holds conversations.read (agents) sees their own, unassigned ones and their teams'; anyone else
 * (knowledge editors) sees none.
 */
export function canSeeConversation(actor: Actor, c: { assigneeId: string | null; teamId: string | null }) {
  if (can(actor, "conversations.read_all")) return true;
  if (!can(actor, "conversations.read")) return false;
  const teams = c.teamId !== null && actor.teamIds.includes(c.teamId);
  return c.assigneeId === null || c.assigneeId === actor.userId || teams;
}

/** The same rule as a SQL condition on `conversations`, for lists, search and joins. */
export function visibleConversations(actor: Actor): SQL | undefined {
  if (can(actor, "conversations.read_all")) return undefined;
  if (!can(actor, "conversations.read")) return sql`false`;
  const own = or(isNull(conversations.assigneeId), eq(conversations.assigneeId, actor.userId));
  return actor.teamIds.length ? or(own, inArray(conversations.teamId, actor.teamIds)) : own;
}

/**
 * Files follow the rule of what they belong to: a message's or call's file, its conversation; a
 * held-back mail's raw copy, the spam view (spam.manage); a file not yet sent, its uploader (and
 * whoever sees every conversation). The caller has already scoped the row to the actor's workspace.
 */
export async function canReadFile(
  db: Executor,
  actor: Actor,
  file: Pick<Attachment, "id" | "workspaceId" | "timelineItemId" | "userId">,
) {
  if (file.workspaceId !== actor.workspaceId) return false;
  if (file.timelineItemId) {
    const [owner] = await db
      .select({ assigneeId: conversations.assigneeId, teamId: conversations.teamId })
      .from(timelineItems)
      .innerJoin(conversations, eq(conversations.id, timelineItems.conversationId))
      .where(and(eq(timelineItems.id, file.timelineItemId), eq(conversations.workspaceId, actor.workspaceId)));
    return !!owner && canSeeConversation(actor, owner);
  }
  const [held] = await db
    .select({ id: emailQuarantine.id })
    .from(emailQuarantine)
    .where(eq(emailQuarantine.rawId, file.id))
    .limit(1);
  if (held) return can(actor, "spam.manage");
  return file.userId === actor.userId || can(actor, "conversations.read_all");
}

/** Realtime: an event reaches an agent only if its conversation scope would be visible to them. */
export function canSeeEvent(actor: Actor, event: DomainEvent) {
  const { scope, previousScope } = event.payload;
  // Addressed to one person (a browser call's signalling): nobody else, whatever else they may see.
  const onlyFor = event.payload.onlyFor as { userId?: string } | undefined;
  if (onlyFor) return onlyFor.userId === actor.userId;
  // Meant for holders of one permission (a QA alert: qa.review), and then only within their view.
  const permission = event.payload.permission as Permission | undefined;
  if (permission && !can(actor, permission)) return false;
  // A ticket's events carry its scope without a conversation: the same rule decides.
  if (!scope) return can(actor, "conversations.read");
  // An agent who could see the conversation before a reassignment is told it moved away.
  return [scope, previousScope].some(
    (s) => s !== undefined && canSeeConversation(actor, { assigneeId: s.assigneeId ?? null, teamId: s.teamId ?? null }),
  );
}
