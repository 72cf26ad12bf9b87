import { and, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { conversations, inboxes, queues, users } from "../db/schema/index.ts";
import { csatResponses } from "../db/schema/service.ts";

export type Period = { from?: Date; to?: Date };
export const GROUPS = ["agent", "queue", "channel", "inbox"] as const;
export type GroupBy = (typeof GROUPS)[number];

const inPeriod = (workspaceId: string, p: Period) =>
  and(
    eq(csatResponses.workspaceId, workspaceId),
    p.from ? gte(csatResponses.createdAt, p.from) : undefined,
    p.to ? lt(csatResponses.createdAt, p.to) : undefined,
  );

/** The workspace's answers in a period, newest first, with who served and where. */
export async function listResponses(db: Executor, workspaceId: string, p: Period, limit = 500) {
  const rows = await db
    .select({
      conversationId: csatResponses.conversationId,
      rating: csatResponses.rating,
      comment: csatResponses.comment,
      channel: csatResponses.channel,
      agentId: csatResponses.agentId,
      agentName: users.name,
      queueId: csatResponses.queueId,
      queueName: queues.name,
      inboxId: conversations.inboxId,
      createdAt: csatResponses.createdAt,
    })
    .from(csatResponses)
    .innerJoin(conversations, eq(conversations.id, csatResponses.conversationId))
    .leftJoin(users, eq(users.id, csatResponses.agentId))
    .leftJoin(queues, eq(queues.id, csatResponses.queueId))
    .where(inPeriod(workspaceId, p))
    .orderBy(desc(csatResponses.createdAt))
    .limit(limit);
  return rows.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() }));
}

/** Averages per agent, queue, channel or inbox; `satisfied` is the share of ratings of 4 or 5. */
export async function summarize(db: Executor, workspaceId: string, p: Period, groupBy: GroupBy) {
  const group: Record<GroupBy, { key: SQL; name: SQL }> = {
    agent: { key: sql`${csatResponses.agentId}::text`, name: sql`max(${users.name})` },
    queue: { key: sql`${csatResponses.queueId}::text`, name: sql`max(${queues.name})` },
    channel: { key: sql`${csatResponses.channel}`, name: sql`${csatResponses.channel}` },
    inbox: { key: sql`${conversations.inboxId}::text`, name: sql`max(${inboxes.name})` },
  };
  const { key, name } = group[groupBy];
  const rows = await db
    .select({
      key: sql<string | null>`${key}`,
      name: sql<string | null>`${name}`,
      responses: sql<number>`count(*)::int`,
      average: sql<number>`round(avg(${csatResponses.rating})::numeric, 2)::float8`,
      satisfied: sql<number>`round(avg(CASE WHEN ${csatResponses.rating} >= 4 THEN 1.0 ELSE 0 END)::numeric, 4)::float8`,
    })
    .from(csatResponses)
    .innerJoin(conversations, eq(conversations.id, csatResponses.conversationId))
    .leftJoin(users, eq(users.id, csatResponses.agentId))
    .leftJoin(queues, eq(queues.id, csatResponses.queueId))
    .leftJoin(inboxes, eq(inboxes.id, conversations.inboxId))
    .where(inPeriod(workspaceId, p))
    .groupBy(key)
    .orderBy(sql`count(*) DESC`);
  return rows.map((r) => ({ ...r, average: Number(r.average), satisfied: Number(r.satisfied) }));
}

/** The rating on a conversation's view: `{rating, comment}` or null. */
export async function csatOf(db: Executor, conversationId: string) {
  const [row] = await db
    .select({ rating: csatResponses.rating, comment: csatResponses.comment })
    .from(csatResponses)
    .where(eq(csatResponses.conversationId, conversationId));
  return row ?? null;
}
