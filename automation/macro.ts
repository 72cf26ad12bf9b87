import { and, asc, eq, isNull, or } from "drizzle-orm";
import { z } from "zod";
import type { Actor } from "../conversations/actor.ts";
import { contactOf, conversationView, visibleConversation } from "../conversations/conversation.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Db } from "../db/connect.ts";
import { conversations, macros, type Macro } from "../db/schema/index.ts";
import { Forbidden, Invalid, NotFound } from "../platform/errors.ts";
import { can } from "../platform/permission.ts";
import { asStored, checkActions, MACRO_ACTIONS, parseActions } from "./action.ts";
import { applyActions } from "./apply.ts";

export const MacroInput = z.object({
  name: z.string().trim().min(1).max(200),
  actions: z.array(z.unknown()).max(20),
  personal: z.boolean().default(false),
});

export function macroView(m: Macro) {
  return {
    id: m.id,
    name: m.name,
    actions: m.actions,
    personal: m.ownerId !== null,
    ownerId: m.ownerId,
    updatedAt: m.updatedAt.toISOString(),
  };
}

/** Shared macros need macros.manage; a personal one is its owner's to keep (macros.apply). */
function assertMayWrite(actor: Actor, personal: boolean, ownerId: string | null = personal ? actor.userId : null) {
  if (personal ? ownerId !== actor.userId : !can(actor, "macros.manage"))
    throw new Forbidden(personal ? "Only its owner changes a personal macro" : "Shared macros need macros.manage");
}

async function parse(db: Db, actor: Actor, raw: unknown) {
  const parsed = MacroInput.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".");
    throw new Invalid(`${field}: ${issue.message}`, field);
  }
  const actions = parseActions(parsed.data.actions, MACRO_ACTIONS);
  await checkActions(db, actor.workspaceId, actions);
  return { ...parsed.data, actions };
}

/** The workspace's shared macros and the actor's own personal ones, by name. */
export async function listMacros(db: Db, actor: Actor) {
  const rows = await db
    .select()
    .from(macros)
    .where(and(eq(macros.workspaceId, actor.workspaceId), or(isNull(macros.ownerId), eq(macros.ownerId, actor.userId))))
    .orderBy(asc(macros.name));
  return rows.map(macroView);
}

/** A macro the actor may see: shared, or their own (someone else's personal macro is a 404). */
async function visibleMacro(db: Db, actor: Actor, id: string) {
  const [m] = await db
    .select()
    .from(macros)
    .where(and(eq(macros.workspaceId, actor.workspaceId), eq(macros.id, id)));
  if (!m || (m.ownerId !== null && m.ownerId !== actor.userId)) throw new NotFound("Macro");
  return m;
}

export async function createMacro(db: Db, actor: Actor, raw: unknown) {
  const input = await parse(db, actor, raw);
  assertMayWrite(actor, input.personal);
  const [row] = await db
    .insert(macros)
    .values({
      workspaceId: actor.workspaceId,
      name: input.name,
      actions: asStored(input.actions),
      ownerId: input.personal ? actor.userId : null,
      createdBy: actor.userId,
    })
    .returning();
  return macroView(row!);
}

export async function updateMacro(db: Db, actor: Actor, id: string, patch: Record<string, unknown>) {
  const before = await visibleMacro(db, actor, id);
  assertMayWrite(actor, before.ownerId !== null, before.ownerId);
  const input = await parse(db, actor, {
    name: patch.name ?? before.name,
    actions: patch.actions ?? before.actions,
    personal: before.ownerId !== null,
  });
  const [row] = await db
    .update(macros)
    .set({ name: input.name, actions: asStored(input.actions), updatedAt: new Date() })
    .where(eq(macros.id, id))
    .returning();
  return macroView(row!);
}

export async function deleteMacro(db: Db, actor: Actor, id: string) {
  const before = await visibleMacro(db, actor, id);
  assertMayWrite(actor, before.ownerId !== null, before.ownerId);
  await db.delete(macros).where(eq(macros.id, id));
}

/**
 * Applies a macro to a conversation the agent can see, as the agent, in one transaction: every
 * timeline item says "via macro <name>"; one failing action takes back the others.
 */
export async function applyMacro(core: Core, actor: Actor, conversationId: string, macroId: string) {
  const macro = await visibleMacro(core.db, actor, macroId);
  const actions = parseActions(macro.actions, MACRO_ACTIONS);
  // The agent's own limits hold through a macro: only supervisors hand work to someone else.
  if (
    actions.some((a) => a.type === "assign_agent" && a.userId !== actor.userId) &&
    !can(actor, "conversations.assign_any")
  )
    throw new Forbidden("Agents can assign conversations only to themselves");
  const results = await withEvents(core, async (tx, events) => {
    await visibleConversation(tx, actor, conversationId, true);
    return applyActions(tx, events, { workspaceId: actor.workspaceId, conversationId, ticketId: null }, actions, {
      by: actor,
      via: { macro: { id: macro.id, name: macro.name } },
      runKey: `macro:${crypto.randomUUID()}`,
    });
  });
  // Read without the visibility rule: a macro that hands the conversation on (a team, a queue) leaves
  // the agent seeing it no more, and they still get to know what it did.
  const [row] = await core.db.select().from(conversations).where(eq(conversations.id, conversationId));
  return { conversation: conversationView(row!, await contactOf(core.db, row!.contactId)), results };
}
