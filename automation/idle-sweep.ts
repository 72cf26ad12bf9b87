import { and, asc, eq, inArray, isNotNull, lte, ne, sql } from "drizzle-orm";
import type { Core } from "../conversations/transaction.ts";
import { automationRules, conversations, tickets } from "../db/schema/index.ts";
import { PollLoop } from "../platform/poll-loop.ts";
import type { AutomationEngine } from "./engine.ts";
import type { RuleEvent } from "./rule.ts";
import { conversationFacts, ticketFacts } from "./subject.ts";

const epochMs = (column: unknown) => sql`floor(extract(epoch from ${column}) * 1000)::bigint`;

/** Where each time-based rule's sweep goes on next (a node's own; a restart starts from the oldest). */
export type SweepCursors = Map<string, { at: Date; id: string }>;

/**
 * Time-based rules: subjects idle at least `afterMinutes` whose conditions hold. The event key is the
 * subject and the moment its idle period began (`<id>:<ms>`), so each idle period fires once; the
 * NOT EXISTS keeps subjects a rule already ran for out of later sweeps, and a cursor per rule pages
 * through the rest (those whose conditions do not hold), so they cannot starve the ones behind them.
 * Safe on many nodes (the claim).
 */
export async function sweepIdle(
  core: Core,
  engine: AutomationEngine,
  cursors: SweepCursors = new Map(),
  now = new Date(),
  batch = 200,
) {
  const rules = await core.db
    .select()
    .from(automationRules)
    .where(
      and(
        eq(automationRules.active, true),
        inArray(automationRules.event, ["conversation.idle", "ticket.idle"]),
        isNotNull(automationRules.afterMinutes),
      ),
    );
  let ran = 0;
  for (const rule of rules) {
    const [compiled] = (await engine.rulesFor(rule.workspaceId, rule.event as RuleEvent)).filter(
      (r) => r.rule.id === rule.id,
    );
    if (!compiled) continue;
    const cutoff = new Date(now.getTime() - rule.afterMinutes! * 60_000);
    const cursor = cursors.get(rule.id);
    const notRun = (id: unknown, at: unknown) =>
      sql`NOT EXISTS (SELECT 1 FROM automation_runs r WHERE r.rule_id = ${rule.id}
        AND r.event_key = ${id}::text || ':' || ${epochMs(at)}::text)`;
    const after = (id: unknown, at: unknown) =>
      cursor ? sql`(${at}, ${id}) > (${cursor.at.toISOString()}::timestamptz, ${cursor.id}::uuid)` : undefined;
    const subjects =
      rule.event === "conversation.idle"
        ? (
            await core.db
              .select({ id: conversations.id, at: conversations.lastActivityAt })
              .from(conversations)
              .where(
                and(
                  eq(conversations.workspaceId, rule.workspaceId),
                  inArray(conversations.status, ["open", "pending", "snoozed"]),
                  lte(conversations.lastActivityAt, cutoff),
                  after(conversations.id, conversations.lastActivityAt),
                  notRun(conversations.id, conversations.lastActivityAt),
                ),
              )
              .orderBy(asc(conversations.lastActivityAt), asc(conversations.id))
              .limit(batch)
          ).map((r) => ({ id: r.id, conversationId: r.id as string | null, ticketId: null as string | null, at: r.at }))
        : (
            await core.db
              .select({ id: tickets.id, at: tickets.statusChangedAt, conversationId: tickets.conversationId })
              .from(tickets)
              .where(
                and(
                  eq(tickets.workspaceId, rule.workspaceId),
                  ne(tickets.status, "closed"),
                  lte(tickets.statusChangedAt, cutoff),
                  after(tickets.id, tickets.statusChangedAt),
                  notRun(tickets.id, tickets.statusChangedAt),
                ),
              )
              .orderBy(asc(tickets.statusChangedAt), asc(tickets.id))
              .limit(batch)
          ).map((r) => ({ id: r.id, conversationId: r.conversationId, ticketId: r.id as string | null, at: r.at }));
    const last = subjects.at(-1);
    if (subjects.length === batch && last) cursors.set(rule.id, { at: last.at, id: last.id });
    else cursors.delete(rule.id);
    for (const s of subjects) {
      const key = `${s.id}:${s.at.getTime()}`;
      const subject = s.ticketId
        ? (await ticketFacts(core.db, s.ticketId, now))?.subject
        : (await conversationFacts(core.db, s.conversationId!, { at: now }))?.subject;
      if (!subject || !compiled.matches(subject)) continue;
      const target = { workspaceId: rule.workspaceId, conversationId: s.conversationId, ticketId: s.ticketId };
      if (await engine.runRule(compiled, rule.event, key, target, 0)) ran++;
    }
  }
  return ran;
}

/** The sweep's loop: every `AUTOMATION_SWEEP_MS` on every node. */
export function idleSweep(core: Core, engine: AutomationEngine, pollMs: number) {
  const cursors: SweepCursors = new Map();
  return new PollLoop("automation idle sweep", () => sweepIdle(core, engine, cursors), {
    batch: -1,
    pollMs,
    idleUntilStarted: true,
  });
}
