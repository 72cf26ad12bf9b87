import { and, eq, isNull } from "drizzle-orm";
import type { Tx } from "../db/connect.ts";
import { conversations, teams, users } from "../db/schema/index.ts";
import { Forbidden, NotFound } from "../platform/errors.ts";
import { can } from "../platform/permission.ts";
import type { Actor, ChangeBy } from "./actor.ts";
import { recordChange } from "./append-item.ts";
import { contactOf, conversationView, visibleConversation } from "./conversation.ts";
import type { EventLog } from "./event.ts";
import { withEvents, type Core } from "./transaction.ts";

/** Assigns to an agent of the workspace, or unassigns with `null`. Agents may only take or drop work. */
export async function assign(core: Core, actor: Actor, conversationId: string, assigneeId: string | null) {
  if (!can(actor, "conversations.assign_any") && assigneeId !== null && assigneeId !== actor.userId)
    throw new Forbidden("Agents can assign conversations only to themselves");
  return withEvents(core, async (tx, events) => {
    await visibleConversation(tx, actor, conversationId, true);
    return assignWithin(tx, events, actor, conversationId, assigneeId);
  });
}

/**
 * The assignment itself, inside a caller's transaction: routing uses it when an agent accepts an
 * offer, so the work item and the conversation change together. `by` is who assigned.
 */
export async function assignWithin(
  tx: Tx,
  events: EventLog,
  by: ChangeBy,
  conversationId: string,
  assigneeId: string | null,
) {
  const [before] = await tx.select().from(conversations).where(eq(conversations.id, conversationId)).for("update");
  if (!before) throw new NotFound("Conversation");
  let assigneeName: string | null = null;
  if (assigneeId) {
    const [user] = await tx
      .select({ id: users.id, name: users.name })
      .from(users)
      .where(and(eq(users.workspaceId, before.workspaceId), eq(users.id, assigneeId), isNull(users.disabledAt)));
    if (!user) throw new NotFound("Agent", "assigneeId");
    assigneeName = user.name;
  }
  if (before.assigneeId === assigneeId) return conversationView(before, await contactOf(tx, before.contactId));
  const [after] = await tx
    .update(conversations)
    .set({ assigneeId })
    .where(eq(conversations.id, conversationId))
    .returning();
  await recordChange(tx, events, by, before, after!, "assigned", {
    assigneeId,
    assigneeName,
    previousAssigneeId: before.assigneeId,
  });
  return conversationView(after!, await contactOf(tx, after!.contactId));
}

/**
 * Hands the conversation to a team, inside a caller's transaction: it leaves the current agent and
 * waits for the team. Routing (routing/transfer.ts `transferToTeam`) ends its queue entry first.
 */
export async function transferToTeamWithin(
  tx: Tx,
  events: EventLog,
  actor: Actor,
  conversationId: string,
  teamId: string,
  note?: string,
) {
  const before = await visibleConversation(tx, actor, conversationId, true);
  const [team] = await tx
    .select({ id: teams.id, name: teams.name })
    .from(teams)
    .where(and(eq(teams.workspaceId, actor.workspaceId), eq(teams.id, teamId)));
  if (!team) throw new NotFound("Team", "teamId");
  const [after] = await tx
    .update(conversations)
    .set({ teamId, assigneeId: null })
    .where(eq(conversations.id, conversationId))
    .returning();
  await recordChange(tx, events, actor, before, after!, "transferred", {
    teamId,
    teamName: team.name,
    note: note ?? null,
  });
  return conversationView(after!, await contactOf(tx, after!.contactId));
}
