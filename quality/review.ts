import { and, avg, count, desc, eq, gte, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { Actor } from "../conversations/actor.ts";
import { visibleConversation } from "../conversations/conversation.ts";
import type { Core } from "../conversations/transaction.ts";
import type { Executor } from "../db/connect.ts";
import {
  qaAlertReads,
  qaFindings,
  qaRules,
  qaScores,
  queues,
  users,
  type QaFinding,
  type QaFindingStatus,
  type QaSeverity,
} from "../db/schema/index.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import { latestSeq, scoreConversation } from "./scoring.ts";

export const findingView = (f: QaFinding) => ({
  id: f.id,
  conversationId: f.conversationId,
  rule: f.rule,
  ruleId: f.ruleId,
  severity: f.severity,
  // Absent when the finding is about the whole conversation (the contract's itemId?).
  ...(f.itemId ? { itemId: f.itemId } : {}),
  excerpt: f.excerpt,
  agentId: f.agentId,
  status: f.status,
  coachingNote: f.coachingNote,
  reviewedBy: f.reviewedBy,
  reviewedAt: f.reviewedAt?.toISOString() ?? null,
  createdAt: f.createdAt.toISOString(),
});

/**
 * A conversation's QA as the public contract has it: `{score, findings:[{rule, severity, itemId?,
 * excerpt}]}` plus ids, status and sentiment. A conversation never scored, or changed since its last
 * score, is scored on demand first, so the answer is never older than the request.
 */
export async function conversationQa(core: Core, actor: Actor, conversationId: string) {
  const c = await visibleConversation(core.db, actor, conversationId);
  const read = () => core.db.select().from(qaScores).where(eq(qaScores.conversationId, c.id));
  let [score] = await read();
  if (!score || score.scoredSeq < (await latestSeq(core.db, c.id))) {
    await scoreConversation(core, c.id);
    [score] = await read();
  }
  const findings = await core.db
    .select()
    .from(qaFindings)
    .where(eq(qaFindings.conversationId, c.id))
    .orderBy(qaFindings.createdAt, qaFindings.id);
  return {
    conversationId: c.id,
    score: score?.score ?? null,
    sentiment: score?.sentiment ?? null,
    agentId: score?.agentId ?? null,
    scoredAt: score?.scoredAt.toISOString() ?? null,
    findings: findings.map(findingView),
  };
}

export type FindingFilter = {
  status?: QaFindingStatus;
  severity?: QaSeverity;
  agentId?: string;
  conversationId?: string;
  cursor?: string;
  limit: number;
};

const encodeCursor = (f: QaFinding) => Buffer.from(`${f.createdAt.toISOString()}|${f.id}`).toString("base64url");
function decodeCursor(cursor: string) {
  const [at, id] = Buffer.from(cursor, "base64url").toString("utf8").split("|");
  const date = new Date(at ?? "");
  if (!id || Number.isNaN(date.getTime()) || !/^[0-9a-f-]{36}$/.test(id))
    throw new Invalid("Malformed cursor", "cursor");
  return { at: date, id };
}

/** The review queue: findings newest first, a keyset page at a time (stable while new ones arrive). */
export async function listFindings(db: Executor, workspaceId: string, f: FindingFilter) {
  const where: (SQL | undefined)[] = [eq(qaFindings.workspaceId, workspaceId)];
  if (f.status) where.push(eq(qaFindings.status, f.status));
  if (f.severity) where.push(eq(qaFindings.severity, f.severity));
  if (f.agentId) where.push(eq(qaFindings.agentId, f.agentId));
  if (f.conversationId) where.push(eq(qaFindings.conversationId, f.conversationId));
  if (f.cursor) {
    const c = decodeCursor(f.cursor);
    where.push(or(lt(qaFindings.createdAt, c.at), and(eq(qaFindings.createdAt, c.at), lt(qaFindings.id, c.id))));
  }
  const rows = await db
    .select({ finding: qaFindings, agentName: users.name })
    .from(qaFindings)
    .leftJoin(users, eq(users.id, qaFindings.agentId))
    .where(and(...where))
    .orderBy(desc(qaFindings.createdAt), desc(qaFindings.id))
    .limit(f.limit + 1);
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({ ...findingView(r.finding), agentName: r.agentName })),
    nextCursor: rows.length > f.limit && last ? encodeCursor(last.finding) : null,
  };
}

/**
 * A reviewer's verdict on a finding, with a coaching note for the agent. The conversation is scored
 * again at once: a dismissed finding no longer costs its weight.
 */
export async function reviewFinding(
  core: Core,
  actor: Actor,
  id: string,
  change: { status?: QaFindingStatus; coachingNote?: string | null },
) {
  const set: Partial<QaFinding> = { reviewedBy: actor.userId, reviewedAt: new Date() };
  if (change.status) set.status = change.status;
  if (change.coachingNote !== undefined) set.coachingNote = change.coachingNote?.trim() || null;
  const [row] = await core.db
    .update(qaFindings)
    .set(set)
    .where(and(eq(qaFindings.workspaceId, actor.workspaceId), eq(qaFindings.id, id)))
    .returning();
  if (!row) throw new NotFound("Finding", "id");
  await scoreConversation(core, row.conversationId);
  return findingView(row);
}

export const SUMMARY_GROUPS = ["agent", "queue"] as const;

/**
 * Scores per agent or queue over a period: conversations scored in [from, to) by when they were last
 * scored, their average score, and the findings (and critical ones) not dismissed.
 */
export async function qaSummary(
  db: Executor,
  workspaceId: string,
  period: { from: Date; to: Date },
  groupBy: (typeof SUMMARY_GROUPS)[number],
) {
  const key = groupBy === "agent" ? qaScores.agentId : qaScores.queueId;
  const inPeriod = and(
    eq(qaScores.workspaceId, workspaceId),
    gte(qaScores.scoredAt, period.from),
    lt(qaScores.scoredAt, period.to),
  );
  const rows = await db
    .select({ key, conversations: count(), average: avg(qaScores.score) })
    .from(qaScores)
    .where(inPeriod)
    .groupBy(key);
  const ids = rows.map((r) => r.key).filter((k): k is string => !!k);
  const findingCounts = await db
    .select({
      key,
      findings: count(),
      critical: sql<number>`count(*) FILTER (WHERE ${qaFindings.severity} = 'critical')`.mapWith(Number),
    })
    .from(qaFindings)
    .innerJoin(qaScores, eq(qaScores.conversationId, qaFindings.conversationId))
    .where(and(inPeriod, sql`${qaFindings.status} <> 'dismissed'`))
    .groupBy(key);
  const names = new Map<string, string>();
  if (ids.length) {
    const named =
      groupBy === "agent"
        ? await db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, ids))
        : await db.select({ id: queues.id, name: queues.name }).from(queues).where(inArray(queues.id, ids));
    for (const n of named) names.set(n.id, n.name);
  }
  return rows
    .map((r) => {
      const f = findingCounts.find((x) => x.key === r.key);
      return {
        key: r.key,
        name: r.key ? (names.get(r.key) ?? null) : null,
        conversations: r.conversations,
        averageScore: r.average === null ? null : Math.round(Number(r.average) * 10) / 10,
        findings: f?.findings ?? 0,
        critical: f?.critical ?? 0,
      };
    })
    .sort((a, b) => (a.averageScore ?? 101) - (b.averageScore ?? 101));
}

const ALERT_WINDOW_MS = 7 * 86_400_000;

/** Findings of alerting rules from the last 7 days this reviewer has not acknowledged, newest first. */
export async function unreadAlerts(db: Executor, actor: Actor) {
  const rows = await db
    .select({ finding: qaFindings })
    .from(qaFindings)
    .innerJoin(qaRules, and(eq(qaRules.id, qaFindings.ruleId), eq(qaRules.alert, true)))
    .leftJoin(qaAlertReads, and(eq(qaAlertReads.findingId, qaFindings.id), eq(qaAlertReads.userId, actor.userId)))
    .where(
      and(
        eq(qaFindings.workspaceId, actor.workspaceId),
        gte(qaFindings.createdAt, new Date(Date.now() - ALERT_WINDOW_MS)),
        isNull(qaAlertReads.findingId),
        sql`${qaFindings.status} <> 'dismissed'`,
      ),
    )
    .orderBy(desc(qaFindings.createdAt))
    .limit(100);
  return rows.map((r) => findingView(r.finding));
}

export async function readAlert(db: Executor, actor: Actor, findingId: string) {
  const [f] = await db
    .select({ id: qaFindings.id })
    .from(qaFindings)
    .where(and(eq(qaFindings.workspaceId, actor.workspaceId), eq(qaFindings.id, findingId)));
  if (!f) throw new NotFound("Finding", "id");
  await db
    .insert(qaAlertReads)
    .values({ findingId, userId: actor.userId, workspaceId: actor.workspaceId })
    .onConflictDoNothing();
}
