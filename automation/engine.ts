import { and, eq } from "drizzle-orm";
import type { RuleRef } from "../conversations/actor.ts";
import { compileConditions, type ConditionSubject } from "../conversations/condition.ts";
import type { DomainEvent } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { automationRuns, type AutomationRule } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import { TtlCache } from "../platform/ttl-cache.ts";
import { parseActions, type Action } from "./action.ts";
import { applyActions, type Target } from "./apply.ts";
import { MAX_DEPTH } from "./loop.ts";
import { activeRules, type RuleEvent } from "./rule.ts";

/** A rule ready to judge events: conditions compiled once, actions parsed once. */
export type CompiledRule = { rule: AutomationRule; actions: Action[]; matches: (s: ConditionSubject) => boolean };

export function compileRule(rule: AutomationRule): CompiledRule {
  return { rule, actions: parseActions(rule.actions), matches: compileConditions(rule.conditions).matches };
}

/** Which rule (and how deep a chain) caused an event: its `by` (changes) or `data.rule` (notes, replies). */
export type Cause = { ruleId: string | null; depth: number };

/**
 * The pure decision: the rules (already in position order) that run for this subject. A rule never
 * runs on an event its own action caused, and a chain of rules stops at MAX_DEPTH.
 */
export function decide(rules: CompiledRule[], subject: ConditionSubject, cause: Cause): CompiledRule[] {
  if (cause.ruleId !== null && cause.depth + 1 >= MAX_DEPTH) return [];
  return rules.filter((r) => r.rule.id !== cause.ruleId && r.matches(subject));
}

/** The run depth of whatever an event's cause did: 0 for people and the system, else its rule's depth. */
export function causeOf(e: DomainEvent): Cause {
  const by = e.payload.by as { type?: string; id?: string; depth?: number } | undefined;
  if (by?.type === "rule" && by.id) return { ruleId: by.id, depth: by.depth ?? 0 };
  const item = e.payload.item as { data?: { rule?: RuleRef } } | undefined;
  const rule = item?.data?.rule;
  if (rule?.id) return { ruleId: rule.id, depth: rule.depth ?? 0 };
  return { ruleId: null, depth: -1 };
}

export type EngineOptions = {
  /** How long a node keeps a workspace's rules: another node's change shows within this (default 5 s). */
  ttlMs?: number;
  /** A run queued a webhook delivery: wake the delivery worker. */
  onWebhook?: () => void;
};

/**
 * Runs rules for events: the workspace's active rules per event, cached; the subject built once per
 * event; every match claimed in automation_runs (the (rule, event key) primary key makes it once per
 * event whichever node or retry gets there first) and applied in one transaction with the claim.
 */
export class AutomationEngine {
  private readonly cache: TtlCache<string, Map<string, CompiledRule[]>>;

  constructor(
    private readonly core: Core,
    private readonly options: EngineOptions = {},
  ) {
    this.cache = new TtlCache(options.ttlMs ?? 5_000);
  }

  /** This node's copy of a workspace's rules is dropped at once when they change through it. */
  invalidate(workspaceId: string) {
    this.cache.delete(workspaceId);
  }

  async rulesFor(workspaceId: string, event: RuleEvent): Promise<CompiledRule[]> {
    const byEvent = await this.cache.getOr(workspaceId, async () => {
      const map = new Map<string, CompiledRule[]>();
      for (const rule of await activeRules(this.core.db, workspaceId)) {
        let compiled: CompiledRule;
        try {
          compiled = compileRule(rule);
        } catch (err) {
          // Saved rules were valid when saved; one that no longer compiles is skipped, not fatal.
          log.warn("automation: a rule no longer compiles", { ruleId: rule.id, err });
          continue;
        }
        map.set(rule.event, [...(map.get(rule.event) ?? []), compiled]);
      }
      return map;
    });
    return byEvent?.get(event) ?? [];
  }

  /**
   * Runs the matching rules for one subject. Returns how many ran here (0 when another node or an
   * earlier delivery of the same event had claimed them).
   */
  async runFor(
    workspaceId: string,
    event: RuleEvent,
    eventKey: string,
    load: () => Promise<{ subject: ConditionSubject; target: Target } | undefined>,
    cause: Cause,
    seq?: number,
  ) {
    const rules = await this.rulesFor(workspaceId, event);
    if (!rules.length) return 0;
    if (cause.ruleId !== null && cause.depth + 1 >= MAX_DEPTH) {
      log.info("automation: rule chain stopped at its depth limit", { workspaceId, event, eventKey, cause });
      return 0;
    }
    const loaded = await load();
    if (!loaded) return 0;
    let ran = 0;
    for (const r of decide(rules, loaded.subject, cause))
      if (await this.runRule(r, event, eventKey, loaded.target, cause.depth + 1, seq)) ran++;
    return ran;
  }

  /** One rule's run: the claim and every action in one transaction, or nothing but a failed run's note. */
  async runRule(r: CompiledRule, event: string, eventKey: string, target: Target, depth: number, seq?: number) {
    const rule: RuleRef = { id: r.rule.id, name: r.rule.name, depth };
    const claim = {
      workspaceId: target.workspaceId,
      ruleId: r.rule.id,
      eventKey,
      conversationId: target.conversationId,
      ticketId: target.ticketId,
      depth,
    };
    try {
      const results = await withEvents(this.core, async (tx, events) => {
        const [claimed] = await tx.insert(automationRuns).values(claim).onConflictDoNothing().returning();
        if (!claimed) return undefined;
        const results = await applyActions(tx, events, target, r.actions, {
          by: { rule },
          runKey: `${r.rule.id}:${eventKey}`,
          event: { type: event, seq },
        });
        await tx
          .update(automationRuns)
          .set({ outcome: { results } })
          .where(and(eq(automationRuns.ruleId, r.rule.id), eq(automationRuns.eventKey, eventKey)));
        return results;
      });
      if (results?.some((x) => x.type === "webhook")) this.options.onWebhook?.();
      return results !== undefined;
    } catch (err) {
      // Nothing of the run stays; the failure is the run's record, so a repeat of the event does not retry it.
      log.warn("automation: a rule's actions failed; nothing was applied", { ruleId: r.rule.id, eventKey, err });
      await this.core.db
        .insert(automationRuns)
        .values({ ...claim, outcome: { error: (err as Error).message } })
        .onConflictDoNothing();
      return false;
    }
  }
}
