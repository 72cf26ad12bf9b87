import { z } from "zod";
import { and, eq } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { isUniqueViolation } from "../db/connect.ts";
import { qaRules, qaSeverities, type QaRule } from "../db/schema/index.ts";
import { Conflict, NotFound } from "../platform/errors.ts";
import { parseRuleConfig, qaRuleKinds, type QaRuleKind } from "./rule-kind.ts";
import { ruleOf, workspaceRules } from "./scorecard-rules.ts";

const RuleFields = {
  name: z.string().trim().min(1).max(100),
  config: z.record(z.string(), z.unknown()),
  severity: z.enum(qaSeverities),
  weight: z.number().int().min(0).max(100),
  appliesTo: z.enum(["all", "chat", "call"]),
  alert: z.boolean(),
  enabled: z.boolean(),
  position: z.number().int().min(0).max(10_000),
};
export const RuleInput = z.object({
  ...RuleFields,
  kind: z.enum(qaRuleKinds),
  config: RuleFields.config.default({}),
  severity: RuleFields.severity.default("warning"),
  weight: RuleFields.weight.default(10),
  appliesTo: RuleFields.appliesTo.default("all"),
  alert: RuleFields.alert.default(false),
  enabled: RuleFields.enabled.default(true),
  position: RuleFields.position.optional(),
});
// A rule's kind stays: its settings and findings mean what the kind says.
export const RulePatch = z.object(RuleFields).partial();

export const ruleView = (r: QaRule) => ({
  id: r.id,
  name: r.name,
  kind: r.kind,
  config: r.config,
  severity: r.severity,
  weight: r.weight,
  appliesTo: r.appliesTo,
  alert: r.alert,
  enabled: r.enabled,
  position: r.position,
});

const named = async <T>(work: Promise<T>, name: string | undefined) => {
  try {
    return await work;
  } catch (err) {
    if (isUniqueViolation(err)) throw new Conflict(`A rule named "${name}" exists`, "name");
    throw err;
  }
};

/** The scorecard's rules (the defaults seeded on first read). */
export async function listRules(db: Db, workspaceId: string) {
  return (await workspaceRules(db, workspaceId)).map(ruleView);
}

export async function createRule(db: Db, workspaceId: string, input: z.infer<typeof RuleInput>) {
  // Seeded first: a workspace's first own rule joins the defaults instead of replacing them.
  const existing = await workspaceRules(db, workspaceId);
  const config = parseRuleConfig(input.kind, input.config);
  const position = input.position ?? Math.max(-1, ...existing.map((r) => r.position)) + 1;
  const [row] = await named(
    db
      .insert(qaRules)
      .values({ ...input, config, position, workspaceId })
      .returning(),
    input.name,
  );
  return ruleView(row!);
}

export async function updateRule(db: Db, workspaceId: string, id: string, patch: z.infer<typeof RulePatch>) {
  const rule = await ruleOf(db, workspaceId, id);
  if (!rule) throw new NotFound("Rule", "id");
  const set = { ...patch, ...(patch.config ? { config: parseRuleConfig(rule.kind as QaRuleKind, patch.config) } : {}) };
  const [row] = await named(
    db
      .update(qaRules)
      .set(set)
      .where(and(eq(qaRules.workspaceId, workspaceId), eq(qaRules.id, id)))
      .returning(),
    patch.name,
  );
  return ruleView(row!);
}

/** Deletes a rule; its findings stay, under the rule's name (qa_findings.rule). */
export async function deleteRule(db: Db, workspaceId: string, id: string) {
  const [row] = await db
    .delete(qaRules)
    .where(and(eq(qaRules.workspaceId, workspaceId), eq(qaRules.id, id)))
    .returning({ id: qaRules.id });
  if (!row) throw new NotFound("Rule", "id");
}
