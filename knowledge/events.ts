import { and, count, desc, eq, gte, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { articles, knowledgeEvents, type KnowledgeEventKind } from "../db/schema/index.ts";

/** Trimmed, lower-cased, first 200 characters: "Refund?" and "refund? " count as one gap. */
export function normalizeQuery(q: string) {
  return q.trim().toLowerCase().replace(/\s+/g, " ").slice(0, 200);
}

export async function recordEvent(
  db: Executor,
  e: {
    workspaceId: string;
    kind: KnowledgeEventKind;
    articleId?: string | null;
    query?: string | null;
    detail?: string | null;
    conversationId?: string | null;
    userId?: string | null;
  },
) {
  await db.insert(knowledgeEvents).values({ ...e, query: e.query == null ? null : normalizeQuery(e.query) });
}

/** Searches with no result and bot hand-overs, grouped by question, most frequent first. */
export async function knowledgeGaps(db: Executor, workspaceId: string, since: Date, limit = 50) {
  const n = count();
  return db
    .select({
      query: knowledgeEvents.query,
      kind: knowledgeEvents.kind,
      count: n,
      lastAt: sql<string>`max(${knowledgeEvents.createdAt})`,
    })
    .from(knowledgeEvents)
    .where(
      and(
        eq(knowledgeEvents.workspaceId, workspaceId),
        inArray(knowledgeEvents.kind, ["search_empty", "handover"]),
        gte(knowledgeEvents.createdAt, since),
      ),
    )
    .groupBy(knowledgeEvents.query, knowledgeEvents.kind)
    .orderBy(desc(n))
    .limit(limit);
}

/** Per article: views, votes, insertions into replies, bot answers and deflections in the period. */
export async function articleReport(db: Executor, workspaceId: string, since: Date) {
  const rows = await db
    .select({ articleId: knowledgeEvents.articleId, kind: knowledgeEvents.kind, count: count() })
    .from(knowledgeEvents)
    .where(
      and(
        eq(knowledgeEvents.workspaceId, workspaceId),
        gte(knowledgeEvents.createdAt, since),
        sql`${knowledgeEvents.articleId} IS NOT NULL`,
      ),
    )
    .groupBy(knowledgeEvents.articleId, knowledgeEvents.kind);
  const ids = [...new Set(rows.map((r) => r.articleId!))];
  const titles = ids.length
    ? new Map(
        (
          await db
            .select({ id: articles.id, title: articles.title })
            .from(articles)
            .where(and(eq(articles.workspaceId, workspaceId), inArray(articles.id, ids)))
        ).map((a) => [a.id, a.title]),
      )
    : new Map<string, string>();
  const byArticle = new Map<
    string,
    { articleId: string; title: string; counts: Partial<Record<KnowledgeEventKind, number>> }
  >();
  for (const r of rows) {
    const entry = byArticle.get(r.articleId!) ?? {
      articleId: r.articleId!,
      title: titles.get(r.articleId!) ?? "",
      counts: {},
    };
    entry.counts[r.kind] = Number(r.count);
    byArticle.set(r.articleId!, entry);
  }
  const [deflections] = await db
    .select({ n: count() })
    .from(knowledgeEvents)
    .where(
      and(
        eq(knowledgeEvents.workspaceId, workspaceId),
        eq(knowledgeEvents.kind, "deflection"),
        gte(knowledgeEvents.createdAt, since),
      ),
    );
  return { articles: [...byArticle.values()], deflections: Number(deflections?.n ?? 0) };
}

/** Agents' suggested edits to one article, newest first (editors act on them). */
export async function editSuggestions(db: Executor, workspaceId: string, articleId: string) {
  return db
    .select({
      id: knowledgeEvents.id,
      detail: knowledgeEvents.detail,
      userId: knowledgeEvents.userId,
      createdAt: knowledgeEvents.createdAt,
    })
    .from(knowledgeEvents)
    .where(
      and(
        eq(knowledgeEvents.workspaceId, workspaceId),
        eq(knowledgeEvents.kind, "edit_suggestion"),
        eq(knowledgeEvents.articleId, articleId),
      ),
    )
    .orderBy(desc(knowledgeEvents.id))
    .limit(200);
}
