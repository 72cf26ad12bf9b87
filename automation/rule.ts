import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { Actor } from "../conversations/actor.ts";
import { compileConditions } from "../conversations/condition.ts";
import type { Db } from "../db/connect.ts";
import { automationRules, automationRuns, type AutomationRule } from "../db/schema/index.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import { asStored, checkActions, parseActions, type Action } from "./action.ts";
import { assertNoSelfTrigger } from "./loop.ts";

/** The events a rule can wait for; the `.idle` ones are time-based and need `afterMinutes`. */
export const ruleEvents = [
  "conversation.created",
  "conversation.updated",
  "conversation.resolved",
  "message.created",
  "ticket.created",
  "ticket.updated",
  "sla.warning",
  "sla.breached",
  "csat.received",
  "conversation.idle",
  "ticket.idle",
] as const;
export type RuleEvent = (typeof ruleEvents)[number];
export const TIME_EVENTS: RuleEvent[] = ["conversation.idle", "ticket.idle"];
const TICKET_EVENTS: RuleEvent[] = ["ticket.created", "ticket.updated", "ticket.idle"];

export const RuleInput = z.object({
  name: z.string().trim().min(1).max(200),
  event: z.enum(ruleEvents),
  conditions: z.array(z.unknown()).max(50).default([]),
  actions: z.array(z.unknown()).max(20),
  afterMinutes: z.number().positive().max(525_600).nullish(),
  active: z.boolean().default(true),
});
export type RuleInput = z.input<typeof RuleInput>;

export function ruleView(r: AutomationRule) {
  return {
    id: r.id,
    name: r.name,
    event: r.event,
    conditions: r.conditions,
    actions: r.actions,
    afterMinutes: r.afterMinutes,
    position: r.position,
    active: r.active,
    createdAt: r.createdAt.toISOString(),
    updatedAt: r.updatedAt.toISOString(),
  };
}
export type RuleView = ReturnType<typeof ruleView>;

/**
 * Everything about a rule that can be judged before it runs: conditions compile, ids exist in the
 * workspace, the time setting fits the event, and it would not re-trigger itself. Each refusal is an
 * `Invalid` naming its field; nothing is stored.
 */
export async function validateRule(db: Db, workspaceId: string, raw: unknown) {
  const parsed = RuleInput.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".");
    throw new Invalid(`${field}: ${issue.message}`, field);
  }
  const input = parsed.data;
  const { conditions } = compileConditions(input.conditions);
  const actions: Action[] = parseActions(input.actions);
  const timed = TIME_EVENTS.includes(input.event);
  if (timed && !input.afterMinutes) throw new Invalid(`${input.event} needs afterMinutes`, "afterMinutes");
  if (!timed && input.afterMinutes) throw new Invalid(`${input.event} is not time-based`, "afterMinutes");
  actions.forEach((a, i) => {
    if (a.type === "set_ticket_status" && !TICKET_EVENTS.includes(input.event))
      throw new Invalid("set_ticket_status needs a ticket event", `actions.${i}.type`);
  });
  await checkActions(db, workspaceId, actions);
  assertNoSelfTrigger(input.event, conditions, actions);
  return { ...input, conditions, actions, afterMinutes: input.afterMinutes ?? null };
}

export async function listRules(db: Db, workspaceId: string) {
  const rows = await db
    .select()
    .from(automationRules)
    .where(eq(automationRules.workspaceId, workspaceId))
    .orderBy(asc(automationRules.position), asc(automationRules.createdAt));
  return rows.map(ruleView);
}

async function requireRule(db: Db, workspaceId: string, id: string) {
  const [row] = await db
    .select()
    .from(automationRules)
    .where(and(eq(automationRules.workspaceId, workspaceId), eq(automationRules.id, id)));
  if (!row) throw new NotFound("Automation rule");
  return row;
}

export const getRule = async (db: Db, workspaceId: string, id: string) =>
  ruleView(await requireRule(db, workspaceId, id));

/** A new rule goes last: rules run in position order, and a new one should not jump the queue. */
export async function createRule(db: Db, actor: Actor, raw: unknown) {
  const rule = await validateRule(db, actor.workspaceId, raw);
  const [row] = await db
    .insert(automationRules)
    .values({
      workspaceId: actor.workspaceId,
      name: rule.name,
      event: rule.event,
      conditions: rule.conditions,
      actions: asStored(rule.actions),
      afterMinutes: rule.afterMinutes,
      active: rule.active,
      createdBy: actor.userId,
      position: sql`(SELECT coalesce(max(${automationRules.position}), -1) + 1 FROM ${automationRules}
        WHERE ${automationRules.workspaceId} = ${actor.workspaceId})`,
    })
    .returning();
  return ruleView(row!);
}

/** A change is validated as a whole rule (the merged result), so a PATCH cannot sneak in a loop. */
export async function updateRule(db: Db, workspaceId: string, id: string, patch: Record<string, unknown>) {
  const before = await requireRule(db, workspaceId, id);
  const merged = { ...ruleView(before), ...patch };
  const rule = await validateRule(db, workspaceId, {
    name: merged.name,
    event: merged.event,
    conditions: merged.conditions,
    actions: merged.actions,
    afterMinutes: merged.afterMinutes,
    active: merged.active,
  });
  const [row] = await db
    .update(automationRules)
    .set({
      name: rule.name,
      event: rule.event,
      conditions: rule.conditions,
      actions: asStored(rule.actions),
      afterMinutes: rule.afterMinutes,
      active: rule.active,
      updatedAt: new Date(),
    })
    .where(eq(automationRules.id, id))
    .returning();
  return ruleView(row!);
}

export async function deleteRule(db: Db, workspaceId: string, id: string) {
  await requireRule(db, workspaceId, id);
  await db.delete(automationRules).where(eq(automationRules.id, id));
}

/** Sets the run order: `ids` must be exactly the workspace's rules, first to run first. */
export async function orderRules(db: Db, workspaceId: string, ids: string[]) {
  const rows = await db
    .select({ id: automationRules.id })
    .from(automationRules)
    .where(eq(automationRules.workspaceId, workspaceId));
  const known = new Set(rows.map((r) => r.id));
  if (ids.length !== known.size || new Set(ids).size !== ids.length || ids.some((i) => !known.has(i)))
    throw new Invalid("ids must list every rule of the workspace once", "ids");
  await db.transaction(async (tx) => {
    for (const [position, id] of ids.entries())
      await tx.update(automationRules).set({ position }).where(eq(automationRules.id, id));
  });
  return listRules(db, workspaceId);
}

export async function listRuns(db: Db, workspaceId: string, ruleId: string, limit = 50) {
  await requireRule(db, workspaceId, ruleId);
  const rows = await db
    .select()
    .from(automationRuns)
    .where(and(eq(automationRuns.workspaceId, workspaceId), eq(automationRuns.ruleId, ruleId)))
    .orderBy(desc(automationRuns.createdAt))
    .limit(limit);
  return rows.map((r) => ({
    eventKey: r.eventKey,
    conversationId: r.conversationId,
    ticketId: r.ticketId,
    depth: r.depth,
    outcome: r.outcome,
    createdAt: r.createdAt.toISOString(),
  }));
}

/** The active rules of some workspaces for one event, in run order (the engine caches them). */
export async function activeRules(db: Db, workspaceId: string, events?: RuleEvent[]) {
  return db
    .select()
    .from(automationRules)
    .where(
      and(
        eq(automationRules.workspaceId, workspaceId),
        eq(automationRules.active, true),
        events ? inArray(automationRules.event, events) : undefined,
      ),
    )
    .orderBy(asc(automationRules.position), asc(automationRules.createdAt));
}
