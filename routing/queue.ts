import { z } from "@hono/zod-openapi";
import { and, asc, eq, inArray } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { channels, entryRules, queues, skills, workItems, type OverflowStep, type Queue } from "../db/schema/index.ts";
import { DomainError, Invalid, NotFound } from "../platform/errors.ts";
import { parseInput } from "../platform/validation.ts";
import { BusinessHoursInput, checkBusinessHours } from "./hours.ts";

const SkillRequirement = z.object({ skill: z.string().min(1).max(100), minLevel: z.number().int().min(1).max(5) });

export const QueueInput = z
  .object({
    name: z.string().trim().min(1).max(100),
    channels: z.array(z.enum(channels)).max(channels.length).default([]),
    requiredSkills: z.array(SkillRequirement).max(20).default([]),
    priorityRules: z
      .array(
        z.object({
          attribute: z.string().min(1).max(100),
          equals: z.union([z.string(), z.number(), z.boolean()]),
          priority: z.number().int().min(-100).max(100),
        }),
      )
      .max(50)
      .default([]),
    // The same hours model as the workspace calendar: spans past midnight, "24:00" (routing/hours.ts).
    businessHours: BusinessHoursInput.nullable().default(null),
    maxWaitSeconds: z.number().int().min(1).max(86_400).nullable().default(null),
    serviceLevelSeconds: z.number().int().min(1).max(3_600).default(20),
    offerTimeoutSeconds: z.number().int().min(5).max(3_600).nullable().default(null),
    wrapUpSeconds: z.number().int().min(0).max(3_600).nullable().default(null),
    // Calls end with the satisfaction question (press 1–5) once the agent hangs up (docs/csat.md).
    csatIvr: z.boolean().default(false),
    overflow: z
      .array(
        z.discriminatedUnion("action", [
          z.object({
            afterSeconds: z.number().int().min(1),
            action: z.literal("widen_skills"),
            skills: z.array(SkillRequirement).max(20),
          }),
          z.object({ afterSeconds: z.number().int().min(1), action: z.literal("move_queue"), queueId: z.uuid() }),
          z.object({ afterSeconds: z.number().int().min(1), action: z.literal("offer_callback") }),
          z.object({
            afterSeconds: z.number().int().min(1),
            action: z.literal("auto_reply"),
            message: z.string().min(1).max(2000),
          }),
        ]),
      )
      .max(10)
      .default([]),
  })
  .openapi("Queue");
export type QueueInput = z.infer<typeof QueueInput>;

export const EntryRuleInput = z.object({
  queueId: z.uuid(),
  conditions: z
    .object({
      inboxIds: z.array(z.uuid()).max(50).optional(),
      channels: z.array(z.enum(channels)).optional(),
      keywords: z.array(z.string().trim().min(1).max(100)).max(100).optional(),
      attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
      languages: z.array(z.string().min(2).max(20)).max(20).optional(),
    })
    .default({}),
});
export type EntryRuleInput = z.infer<typeof EntryRuleInput>;

export function queueView(q: Queue) {
  return {
    id: q.id,
    name: q.name,
    channels: q.channels,
    requiredSkills: q.requiredSkills,
    priorityRules: q.priorityRules,
    businessHours: q.businessHours,
    maxWaitSeconds: q.maxWaitSeconds,
    serviceLevelSeconds: q.serviceLevelSeconds,
    offerTimeoutSeconds: q.offerTimeoutSeconds,
    wrapUpSeconds: q.wrapUpSeconds,
    csatIvr: q.csatIvr,
    overflow: q.overflow,
  };
}

/** A queue's rules must only name what exists: skills of the workspace, queues without a move cycle. */
async function checkQueue(db: Executor, workspaceId: string, input: QueueInput, selfId: string | undefined) {
  const named = [
    ...input.requiredSkills,
    ...input.overflow.flatMap((s) => (s.action === "widen_skills" ? s.skills : [])),
  ].map((s) => s.skill);
  if (named.length) {
    const known = await db
      .select({ name: skills.name })
      .from(skills)
      .where(and(eq(skills.workspaceId, workspaceId), inArray(skills.name, named)));
    const missing = named.find((n) => !known.some((k) => k.name === n));
    if (missing) throw new Invalid(`Unknown skill "${missing}"`, "requiredSkills");
  }
  checkBusinessHours(input.businessHours, "businessHours.");
  const steps = input.overflow.map((s) => s.afterSeconds);
  if (steps.some((t, i) => i > 0 && t <= steps[i - 1]!))
    throw new Invalid("Overflow steps must come in increasing afterSeconds", "overflow");

  // Overflow moves between queues must not loop: follow every move edge with this queue's new rules.
  const all = await db
    .select({ id: queues.id, overflow: queues.overflow })
    .from(queues)
    .where(eq(queues.workspaceId, workspaceId));
  const movesOf = (steps: OverflowStep[]) => steps.flatMap((s) => (s.action === "move_queue" ? [s.queueId] : []));
  const edges = new Map(all.map((q) => [q.id, movesOf(q.overflow)]));
  const self = selfId ?? "new";
  edges.set(self, movesOf(input.overflow));
  for (const target of edges.get(self)!) {
    if (!edges.has(target)) throw new Invalid(`Unknown queue ${target} in overflow`, "overflow");
  }
  const stack = [...edges.get(self)!];
  const seen = new Set<string>();
  while (stack.length) {
    const id = stack.pop()!;
    if (id === self) throw new Invalid("Overflow moves between queues would loop", "overflow");
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(edges.get(id) ?? []));
  }
}

export async function listQueues(db: Executor, workspaceId: string) {
  return (await db.select().from(queues).where(eq(queues.workspaceId, workspaceId)).orderBy(asc(queues.name))).map(
    queueView,
  );
}

async function assertNameFree(db: Executor, workspaceId: string, name: string, selfId?: string) {
  const [other] = await db
    .select({ id: queues.id })
    .from(queues)
    .where(and(eq(queues.workspaceId, workspaceId), eq(queues.name, name)));
  if (other && other.id !== selfId) throw new DomainError(409, "conflict", `A queue named "${name}" exists`, "name");
}

export async function createQueue(db: Executor, workspaceId: string, raw: z.input<typeof QueueInput>) {
  const input = parseInput(QueueInput, raw);
  await checkQueue(db, workspaceId, input, undefined);
  await assertNameFree(db, workspaceId, input.name);
  const [row] = await db
    .insert(queues)
    .values({ workspaceId, ...input })
    .returning();
  return queueView(row!);
}

export async function updateQueue(db: Executor, workspaceId: string, id: string, raw: z.input<typeof QueueInput>) {
  const input = parseInput(QueueInput, raw);
  const [current] = await db
    .select({ id: queues.id })
    .from(queues)
    .where(and(eq(queues.workspaceId, workspaceId), eq(queues.id, id)));
  if (!current) throw new NotFound("Queue", "id");
  await checkQueue(db, workspaceId, input, id);
  await assertNameFree(db, workspaceId, input.name, id);
  const [row] = await db.update(queues).set(input).where(eq(queues.id, id)).returning();
  return queueView(row!);
}

/** A queue with work in it, or named by another queue's overflow, cannot be deleted. */
/**
 * Deletes a queue that never took work. One that did keeps its history (reports, handle times and
 * estimates read it), so deleting it is refused with 409: taking it out of the entry rules and of
 * other queues' overflow stops new work reaching it instead.
 */
export async function deleteQueue(db: Executor, workspaceId: string, id: string) {
  await db.transaction(async (tx) => {
    // Locked: a work item being queued into it (its foreign key) waits, then fails, rather than
    // landing between the check and the delete.
    const [current] = await tx
      .select({ id: queues.id })
      .from(queues)
      .where(and(eq(queues.workspaceId, workspaceId), eq(queues.id, id)))
      .for("update");
    if (!current) throw new NotFound("Queue", "id");
    const [busy] = await tx
      .select({ id: workItems.id })
      .from(workItems)
      .where(and(eq(workItems.queueId, id), inArray(workItems.state, ["waiting", "reserved", "assigned"])))
      .limit(1);
    if (busy) throw new DomainError(409, "conflict", "The queue still holds work", "id");
    const [handled] = await tx.select({ id: workItems.id }).from(workItems).where(eq(workItems.queueId, id)).limit(1);
    if (handled)
      throw new DomainError(
        409,
        "conflict",
        "The queue has handled work that reports still count: take it out of the entry rules",
        "id",
      );
    const others = await tx
      .select({ name: queues.name, overflow: queues.overflow })
      .from(queues)
      .where(eq(queues.workspaceId, workspaceId));
    const referrer = others.find((q) => q.overflow.some((s) => s.action === "move_queue" && s.queueId === id));
    if (referrer) throw new DomainError(409, "conflict", `Queue "${referrer.name}" overflows into this queue`, "id");
    await tx.delete(queues).where(eq(queues.id, id));
  });
}

/** Replaces the ordered entry rules; every rule must name a queue of the workspace. */
export async function replaceEntryRules(db: Executor, workspaceId: string, raw: z.input<typeof EntryRuleInput>[]) {
  const rules = raw.map((r) => parseInput(EntryRuleInput, r));
  const ids = [...new Set(rules.map((r) => r.queueId))];
  const known = ids.length
    ? await db
        .select({ id: queues.id })
        .from(queues)
        .where(and(eq(queues.workspaceId, workspaceId), inArray(queues.id, ids)))
    : [];
  const missing = ids.findIndex((id) => !known.some((k) => k.id === id));
  if (missing >= 0)
    throw new Invalid(
      `Unknown queue ${ids[missing]}`,
      `rules.${rules.findIndex((r) => r.queueId === ids[missing])}.queueId`,
    );
  return db.transaction(async (tx) => {
    await tx.delete(entryRules).where(eq(entryRules.workspaceId, workspaceId));
    if (rules.length)
      await tx
        .insert(entryRules)
        .values(rules.map((r, position) => ({ workspaceId, queueId: r.queueId, position, conditions: r.conditions })));
    return listEntryRules(tx, workspaceId);
  });
}

export async function listEntryRules(db: Executor, workspaceId: string) {
  const rows = await db
    .select()
    .from(entryRules)
    .where(eq(entryRules.workspaceId, workspaceId))
    .orderBy(asc(entryRules.position));
  return rows.map((r) => ({ id: r.id, queueId: r.queueId, position: r.position, conditions: r.conditions }));
}
