import { and, asc, eq, inArray, max, sql } from "drizzle-orm";
import type { Tx } from "../db/connect.ts";
import {
  callTranscripts,
  calls,
  conversations,
  qaFindings,
  qaScores,
  timelineItems,
  type Conversation,
} from "../db/schema/index.ts";
import { scopeOf } from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { asScorecardRule, workspaceRules } from "./scorecard-rules.ts";
import { runScorecard, scoreOf, type CallFacts, type ConversationFacts, type Finding, type Line } from "./scorecard.ts";

/** What the scorecard reads of a conversation: its messages, assignments, calls and their transcripts. */
export async function conversationFacts(tx: Tx, c: Conversation, now: Date) {
  const items = await tx
    .select({
      id: timelineItems.id,
      seq: timelineItems.seq,
      type: timelineItems.type,
      direction: timelineItems.direction,
      senderType: timelineItems.senderType,
      senderId: timelineItems.senderId,
      text: timelineItems.text,
      eventType: timelineItems.eventType,
      data: timelineItems.data,
      createdAt: timelineItems.createdAt,
    })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.conversationId, c.id),
        sql`(${timelineItems.type} IN ('message', 'call') OR ${timelineItems.eventType} = 'assigned')`,
      ),
    )
    .orderBy(asc(timelineItems.seq));
  const callRows = await tx.select().from(calls).where(eq(calls.conversationId, c.id));
  const transcripts = callRows.length
    ? await tx
        .select()
        .from(callTranscripts)
        .where(
          inArray(
            callTranscripts.callId,
            callRows.map((r) => r.id),
          ),
        )
    : [];
  const messages: Line[] = [];
  const assignments: ConversationFacts["assignments"] = [];
  for (const i of items) {
    if (i.type === "event") {
      assignments.push({ at: i.createdAt.getTime(), assigneeId: (i.data.assigneeId as string | null) ?? null });
      continue;
    }
    if (i.type !== "message" || !i.text) continue;
    // The customer's messages in, the agents' out; bots and system notices are nobody's to score.
    const role =
      i.direction === "in" && i.senderType === "contact" ? "customer" : i.senderType === "agent" ? "agent" : null;
    if (!role) continue;
    messages.push({
      itemId: i.id,
      key: i.id,
      role,
      text: i.text,
      at: i.createdAt.getTime(),
      agentId: role === "agent" ? i.senderId : null,
    });
  }
  const callFacts: CallFacts[] = callRows.map((r) => ({
    itemId: r.timelineItemId,
    agentId: r.agentId,
    ended: !!r.endedAt,
    holdSeconds: r.holdSeconds,
    startedAt: (r.answeredAt ?? r.startedAt).getTime(),
    segments: transcripts.find((t) => t.callId === r.id && t.status === "done")?.segments ?? [],
  }));
  const facts: ConversationFacts = {
    messages,
    calls: callFacts,
    resolved: c.status === "resolved",
    assignments,
    assigneeId: c.assigneeId,
    now: now.getTime(),
  };
  const lastAgent =
    messages.findLast((m) => m.role === "agent")?.agentId ?? callRows.findLast((r) => r.agentId)?.agentId ?? null;
  return { facts, lastSeq: Number(items.at(-1)?.seq ?? 0), agentId: lastAgent ?? c.assigneeId };
}

export type ScoreResult = { scored: boolean; score?: number; alerts: number };

/**
 * Scores one conversation and stores the result: findings upserted by (conversation, rule, item) so
 * re-scoring finds each thing once and keeps a reviewer's status and note; open findings no longer
 * found are dropped; the score counts what is found now, minus what reviewers dismissed. Nodes take
 * a conversation one at a time (an advisory lock); `afterSeq` skips the work when a score at or past
 * that seq is already stored (another node just did it). A finding of an alerting rule found for the
 * first time is told to supervisors as `qa.alert`.
 */
export async function scoreConversation(
  core: Core,
  conversationId: string,
  options: { afterSeq?: number; now?: Date } = {},
): Promise<ScoreResult> {
  return withEvents(core, async (tx, log) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${`qa:${conversationId}`}, 0))`);
    const [c] = await tx.select().from(conversations).where(eq(conversations.id, conversationId));
    if (!c) return { scored: false, alerts: 0 };
    if (options.afterSeq !== undefined) {
      const [stored] = await tx
        .select({ seq: qaScores.scoredSeq })
        .from(qaScores)
        .where(eq(qaScores.conversationId, conversationId));
      if (stored && stored.seq >= options.afterSeq) return { scored: false, alerts: 0 };
    }
    const now = options.now ?? new Date();
    const rules = (await workspaceRules(tx, c.workspaceId)).map(asScorecardRule);
    const { facts, lastSeq, agentId } = await conversationFacts(tx, c, now);
    const card = runScorecard(rules, facts);
    const { score, fresh } = await storeFindings(tx, c, card.findings, rules);
    const seq = Math.max(lastSeq, options.afterSeq ?? 0);
    const row = { agentId, queueId: c.queueId, score, sentiment: card.sentiment, scoredSeq: seq, scoredAt: now };
    await tx
      .insert(qaScores)
      .values({ conversationId, workspaceId: c.workspaceId, ...row })
      .onConflictDoUpdate({ target: qaScores.conversationId, set: row });
    const alerts = await announce(log, c, fresh);
    return { scored: true, score, alerts };
  });
}

type FreshFinding = {
  id: string;
  rule: string;
  severity: string;
  itemId: string | null;
  excerpt: string;
  alert: boolean;
};

async function storeFindings(
  tx: Tx,
  c: Conversation,
  found: Finding[],
  rules: { id: string; weight: number }[],
): Promise<{ score: number; fresh: FreshFinding[] }> {
  const existing = await tx.select().from(qaFindings).where(eq(qaFindings.conversationId, c.id));
  const keyOf = (f: { rule: string; itemKey: string }) => `${f.rule}\u0000${f.itemKey}`;
  const foundKeys = new Set(found.map(keyOf));
  const stale = existing.filter((e) => e.status === "open" && !foundKeys.has(keyOf(e))).map((e) => e.id);
  if (stale.length) await tx.delete(qaFindings).where(inArray(qaFindings.id, stale));
  const known = new Map(existing.map((e) => [keyOf(e), e]));
  const missing = found.filter((f) => !known.has(keyOf(f)));
  const inserted = missing.length
    ? await tx
        .insert(qaFindings)
        .values(
          missing.map((f) => ({
            workspaceId: c.workspaceId,
            conversationId: c.id,
            ruleId: f.ruleId,
            rule: f.rule,
            severity: f.severity,
            itemKey: f.itemKey,
            itemId: f.itemId,
            excerpt: f.excerpt,
            agentId: f.agentId,
          })),
        )
        .onConflictDoNothing()
        .returning()
    : [];
  // An excerpt that changed (a gap still growing) is brought up to date; status and note stay.
  for (const f of found) {
    const e = known.get(keyOf(f));
    if (e && (e.excerpt !== f.excerpt || e.severity !== f.severity))
      await tx.update(qaFindings).set({ excerpt: f.excerpt, severity: f.severity }).where(eq(qaFindings.id, e.id));
  }
  const weight = new Map(rules.map((r) => [r.id, r.weight]));
  const dismissed = new Set(existing.filter((e) => e.status === "dismissed").map(keyOf));
  const score = scoreOf(found.map((f) => ({ weight: weight.get(f.ruleId) ?? 0, dismissed: dismissed.has(keyOf(f)) })));
  const fresh = inserted.map((i) => ({
    id: i.id,
    rule: i.rule,
    severity: i.severity,
    itemId: i.itemId,
    excerpt: i.excerpt,
    alert: found.some((f) => f.alert && keyOf(f) === keyOf(i)),
  }));
  return { score, fresh };
}

/** `qa.alert` for each new finding of an alerting rule: stored events, so a reconnecting socket gets them. */
async function announce(log: EventLog, c: Conversation, fresh: FreshFinding[]) {
  const alerts = fresh.filter((f) => f.alert);
  for (const f of alerts)
    await log.append(c.workspaceId, {
      type: "qa.alert",
      conversationId: c.id,
      // Only holders of qa.review get it (conversations/actor.ts canSeeEvent).
      payload: {
        permission: "qa.review",
        scope: scopeOf(c),
        finding: { id: f.id, rule: f.rule, severity: f.severity, itemId: f.itemId, excerpt: f.excerpt },
      },
    });
  return alerts.length;
}

/** The highest timeline seq of a conversation: a stored score below it is stale. */
export async function latestSeq(tx: Tx | Core["db"], conversationId: string) {
  const [row] = await tx
    .select({ seq: max(timelineItems.seq) })
    .from(timelineItems)
    .where(eq(timelineItems.conversationId, conversationId));
  return Number(row?.seq ?? 0);
}
