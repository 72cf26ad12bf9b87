import { and, asc, eq, inArray, isNotNull, isNull, lt, ne, notInArray, or, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { conversations, entryRules, users, workItems } from "../db/schema/index.ts";

/**
 * What the router's periodic reconciliation repairs (ARCHITECTURE.md invariant 4): enqueueing and
 * finishing work are reactions to bus events, and a node that misses one (a restart, a dropped
 * NOTIFY) must not lose the work. Offers of agents who are gone are withdrawn by `expireOffers`.
 * These are the reads; the router applies the usual operations to what they find.
 */

/**
 * Open conversations that need an agent and have no queue entry: nobody has them (or only a
 * disabled agent), no team waits for them, no call's IVR places them, their workspace routes (it has
 * entry rules), and they have been quiet for `graceMs`, so the event path had its chance first.
 * `skip`: ones a recent sweep found no entry rule for (or held by the knowledge bot).
 */
export async function unqueuedConversations(
  db: Executor,
  graceMs: number,
  skip: string[],
  now = new Date(),
  limit = 100,
) {
  return db
    .select({ id: conversations.id, workspaceId: conversations.workspaceId })
    .from(conversations)
    .leftJoin(users, eq(users.id, conversations.assigneeId))
    .where(
      and(
        inArray(conversations.workspaceId, db.selectDistinct({ id: entryRules.workspaceId }).from(entryRules)),
        eq(conversations.status, "open"),
        lt(conversations.lastActivityAt, new Date(now.getTime() - graceMs)),
        or(isNull(conversations.assigneeId), isNotNull(users.disabledAt)),
        isNull(conversations.teamId),
        ne(conversations.channel, "voice"),
        sql`NOT EXISTS (SELECT 1 FROM ${workItems} WHERE ${workItems.conversationId} = ${conversations.id}
          AND ${workItems.state} IN ('waiting', 'reserved', 'assigned'))`,
        skip.length ? notInArray(conversations.id, skip) : undefined,
      ),
    )
    .orderBy(asc(conversations.lastActivityAt))
    .limit(limit);
}

/**
 * Resolved conversations whose queue entry is still live: waiting to be offered for nothing, or
 * counting against an agent's capacity.
 */
export async function resolvedButHeld(db: Executor, limit = 100) {
  const rows = await db
    .select({ conversationId: workItems.conversationId })
    .from(workItems)
    .innerJoin(conversations, eq(conversations.id, workItems.conversationId))
    .where(and(inArray(workItems.state, ["waiting", "reserved", "assigned"]), eq(conversations.status, "resolved")))
    .limit(limit);
  return rows.map((r) => r.conversationId);
}
