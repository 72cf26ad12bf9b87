import { and, asc, eq, inArray, max, sql } from "drizzle-orm";
import { z } from "zod";
import { compileConditions, type ConditionSubject } from "../conversations/condition.ts";
import { isUniqueViolation, type Executor } from "../db/connect.ts";
import { slaPolicies, type SlaMetric, type SlaPolicy } from "../db/schema/index.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import { TtlCache } from "../platform/ttl-cache.ts";

const YEAR_MINUTES = 366 * 24 * 60;
const Minutes = z
  .number()
  .positive("must be more than 0")
  .max(YEAR_MINUTES, "must be at most a year")
  .refine(Number.isFinite, "must be a finite number")
  .nullable();

/** A policy as the API takes it (POST; PATCH takes any part of it). */
export const PolicyInput = z
  .object({
    name: z.string().trim().min(1).max(200),
    firstResponseMinutes: Minutes.optional(),
    nextResponseMinutes: Minutes.optional(),
    resolutionMinutes: Minutes.optional(),
    businessHours: z.boolean().optional(),
    conditions: z.array(z.unknown()).max(50).optional(),
    warnPercent: z.number().int().min(1).max(99).optional(),
    active: z.boolean().optional(),
  })
  .strict();
export type PolicyInput = z.infer<typeof PolicyInput>;
export const PolicyPatch = PolicyInput.partial();

export function policyView(p: SlaPolicy) {
  return {
    id: p.id,
    name: p.name,
    position: p.position,
    firstResponseMinutes: p.firstResponseMinutes,
    nextResponseMinutes: p.nextResponseMinutes,
    resolutionMinutes: p.resolutionMinutes,
    businessHours: p.businessHours,
    conditions: p.conditions,
    warnPercent: p.warnPercent,
    active: p.active,
    createdAt: p.createdAt.toISOString(),
  };
}

const taken = (name: string) => new Conflict(`A policy named "${name}" already exists`, "name");

/** A policy's target for one measure, in ms; null when it sets none. */
export function targetMs(
  p: Pick<SlaPolicy, "firstResponseMinutes" | "nextResponseMinutes" | "resolutionMinutes">,
  metric: SlaMetric,
) {
  const minutes =
    metric === "first_response"
      ? p.firstResponseMinutes
      : metric === "next_response"
        ? p.nextResponseMinutes
        : p.resolutionMinutes;
  return minutes === null ? null : Math.round(minutes * 60_000);
}

function checked(input: Partial<PolicyInput>) {
  const { conditions, ...rest } = input;
  // Unknown fields are refused here, at save, as `conditions.N.field`.
  return conditions === undefined ? rest : { ...rest, conditions: compileConditions(conditions).conditions };
}

export async function listPolicies(db: Executor, workspaceId: string) {
  const rows = await db
    .select()
    .from(slaPolicies)
    .where(eq(slaPolicies.workspaceId, workspaceId))
    .orderBy(asc(slaPolicies.position), asc(slaPolicies.createdAt));
  return rows.map(policyView);
}

/** A new policy goes last: the ones already there keep precedence. */
export async function createPolicy(db: Executor, workspaceId: string, input: PolicyInput) {
  const values = checked(input);
  const [last] = await db
    .select({ position: max(slaPolicies.position) })
    .from(slaPolicies)
    .where(eq(slaPolicies.workspaceId, workspaceId));
  try {
    const [row] = await db
      .insert(slaPolicies)
      .values({ ...values, name: input.name, workspaceId, position: (last?.position ?? -1) + 1 })
      .returning();
    policyPresence.delete(workspaceId);
    return policyView(row!);
  } catch (err) {
    throw isUniqueViolation(err) ? taken(input.name) : err;
  }
}

export async function updatePolicy(db: Executor, workspaceId: string, id: string, patch: Partial<PolicyInput>) {
  const values = checked(patch);
  if (Object.keys(values).length === 0) throw new Invalid("Nothing to change", "name");
  try {
    const [row] = await db
      .update(slaPolicies)
      .set(values)
      .where(and(eq(slaPolicies.workspaceId, workspaceId), eq(slaPolicies.id, id)))
      .returning();
    if (!row) throw new NotFound("SLA policy");
    policyPresence.delete(workspaceId);
    return policyView(row);
  } catch (err) {
    throw isUniqueViolation(err) ? taken(patch.name ?? "") : err;
  }
}

/** Clocks already running keep their targets (they were promised); they lose only the policy's name. */
export async function deletePolicy(db: Executor, workspaceId: string, id: string) {
  const gone = await db
    .delete(slaPolicies)
    .where(and(eq(slaPolicies.workspaceId, workspaceId), eq(slaPolicies.id, id)))
    .returning({ id: slaPolicies.id });
  if (!gone.length) throw new NotFound("SLA policy");
  policyPresence.delete(workspaceId);
}

/** The workspace's policies in this order: `ids` must name each of them once. */
export async function orderPolicies(db: Executor, workspaceId: string, ids: string[]) {
  const rows = await db
    .select({ id: slaPolicies.id })
    .from(slaPolicies)
    .where(eq(slaPolicies.workspaceId, workspaceId));
  const known = new Set(rows.map((r) => r.id));
  if (new Set(ids).size !== ids.length || ids.length !== known.size || ids.some((id) => !known.has(id)))
    throw new Invalid("Give every policy of the workspace once", "ids");
  if (ids.length)
    await db
      .update(slaPolicies)
      .set({ position: sql`array_position(${sql.param(ids)}::uuid[], ${slaPolicies.id}) - 1` })
      .where(and(eq(slaPolicies.workspaceId, workspaceId), inArray(slaPolicies.id, ids)));
  return listPolicies(db, workspaceId);
}

const compiled = new Map<string, { key: string; matches: (s: ConditionSubject) => boolean }>();

/**
 * The policy for a subject: the first active one by position whose conditions all hold (one without
 * conditions holds for everything). Conditions are compiled once per policy version.
 */
export function choosePolicy<P extends Pick<SlaPolicy, "id" | "conditions" | "active" | "position">>(
  policies: P[],
  subject: ConditionSubject,
): P | null {
  const ordered = [...policies].sort((a, b) => a.position - b.position);
  for (const p of ordered) {
    if (!p.active) continue;
    const key = JSON.stringify(p.conditions);
    let entry = compiled.get(p.id);
    if (!entry || entry.key !== key) {
      entry = { key, matches: compileConditions(p.conditions).matches };
      compiled.set(p.id, entry);
    }
    if (entry.matches(subject)) return p;
  }
  return null;
}

/**
 * Whether a workspace has any SLA policy, kept a few seconds per node: most workspaces' events need no
 * clock work at all, and asking on every message would cost the hot path a transaction. The node a
 * policy is saved on forgets at once (and every node handles every event, so that one keeps up); the
 * others within `POLICY_PRESENCE_MS`.
 */
const POLICY_PRESENCE_MS = 5_000;
const policyPresence = new TtlCache<string, boolean>(POLICY_PRESENCE_MS);

export async function hasPolicies(db: Executor, workspaceId: string) {
  const known = policyPresence.get(workspaceId);
  if (known !== undefined) return known;
  const [row] = await db
    .select({ id: slaPolicies.id })
    .from(slaPolicies)
    .where(eq(slaPolicies.workspaceId, workspaceId))
    .limit(1);
  policyPresence.set(workspaceId, !!row);
  return !!row;
}

export async function activePolicies(db: Executor, workspaceId: string) {
  return db
    .select()
    .from(slaPolicies)
    .where(and(eq(slaPolicies.workspaceId, workspaceId), eq(slaPolicies.active, true)))
    .orderBy(asc(slaPolicies.position), asc(slaPolicies.createdAt));
}
