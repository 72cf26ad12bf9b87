import { and, asc, eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { qaRules, type QaRule } from "../db/schema/index.ts";
import { DEFAULT_SCORECARD, type QaRuleKind, type RuleConfig } from "./rule-kind.ts";
import type { ScorecardRule } from "./scorecard.ts";

/**
 * The workspace's scorecard. A workspace with no rules at all gets the default scorecard, seeded the
 * first time it is scored or its rules are listed (not at workspace creation: conversations/ may not
 * import quality/, and workspaces made before QA existed get it the same way). Two nodes seeding at
 * once insert each default once (unique name). To turn QA off, disable the rules: deleting every
 * rule brings the defaults back.
 */
export async function workspaceRules(db: Executor, workspaceId: string): Promise<QaRule[]> {
  const read = () =>
    db
      .select()
      .from(qaRules)
      .where(eq(qaRules.workspaceId, workspaceId))
      .orderBy(asc(qaRules.position), asc(qaRules.createdAt));
  const rules = await read();
  if (rules.length) return rules;
  await db
    .insert(qaRules)
    .values(DEFAULT_SCORECARD.map((r, position) => ({ ...r, workspaceId, position })))
    .onConflictDoNothing();
  return read();
}

export const asScorecardRule = (r: QaRule): ScorecardRule => ({
  id: r.id,
  name: r.name,
  kind: r.kind as QaRuleKind,
  config: r.config as RuleConfig,
  severity: r.severity,
  weight: r.weight,
  appliesTo: r.appliesTo,
  enabled: r.enabled,
  alert: r.alert,
});

export async function ruleOf(db: Executor, workspaceId: string, id: string) {
  const [rule] = await db
    .select()
    .from(qaRules)
    .where(and(eq(qaRules.workspaceId, workspaceId), eq(qaRules.id, id)));
  return rule;
}
