import { sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";

/**
 * The embedded engine's inverted index (knowledge_postings) and term counts, derived in SQL from the
 * articles' search vectors: `unnest(search_vector)` yields each lexeme with the weights of its
 * occurrences (A title, B summary and tags, C body).
 *
 * A term's impact on an article: 1 for the title, 0.4 for the summary or tags, 0.1 for the body, each
 * scaled by 2·n/(n+1) for n occurrences in that part — a second mention adds a third, a tenth hardly
 * more (BM25's saturation), so repeating a word cannot buy a place in the results.
 */
const IMPACT = sql.raw(
  ["A", "B", "C"]
    .map(
      (w, i) =>
        `${[1, 0.4, 0.1][i]} * 2.0 * cardinality(array_positions(v.weights, '${w}')) / (cardinality(array_positions(v.weights, '${w}')) + 1)`,
    )
    .join(" + "),
);

/**
 * Rewrites the postings of these articles from their current search vectors (published articles
 * only: nothing else is ever searched) and moves the term counts by the difference, in one statement.
 * Counts are upserted in term order, so two saves touching the same terms wait for each other rather
 * than deadlock.
 */
export async function writePostings(tx: Executor, workspaceId: string, articleIds: string[]) {
  if (!articleIds.length) return;
  const ids = sql`ARRAY[${sql.join(
    articleIds.map((id) => sql`${id}`),
    sql`, `,
  )}]::uuid[]`;
  await tx.execute(sql`
    WITH gone AS (
      -- "IS TRUE": without statistics the planner would find the article's rows by walking all of
      -- the workspace's postings in the term index (130 ms for 20,000 articles, per save); this way
      -- only the article index can answer.
      DELETE FROM knowledge_postings WHERE (workspace_id = ${workspaceId}) IS TRUE AND article_id = ANY(${ids})
      RETURNING term, language, article_id
    ), fresh AS (
      INSERT INTO knowledge_postings (workspace_id, term, article_id, impact, language, public, category_id)
      SELECT a.workspace_id, v.lexeme, a.id, ${IMPACT}, split_part(a.locale, '-', 1), a.visibility = 'public', a.category_id
      FROM knowledge_articles a, unnest(a.search_vector) v
      WHERE a.workspace_id = ${workspaceId} AND a.id = ANY(${ids}) AND a.status = 'published'
      RETURNING term, language, article_id
    ), delta AS (
      SELECT term, language, sum(d)::int AS d FROM (
        SELECT term, language, 1 AS d FROM fresh UNION ALL SELECT term, language, -1 FROM gone
        UNION ALL SELECT '', language, 1 FROM (SELECT DISTINCT article_id, language FROM fresh) f
        UNION ALL SELECT '', language, -1 FROM (SELECT DISTINCT article_id, language FROM gone) g
      ) changes GROUP BY term, language HAVING sum(d) <> 0
    )
    INSERT INTO knowledge_term_counts (workspace_id, term, language, articles)
    SELECT ${workspaceId}, term, language, d FROM delta ORDER BY term, language
    ON CONFLICT (workspace_id, term, language) DO UPDATE SET articles = knowledge_term_counts.articles + excluded.articles`);
}

/**
 * A category's articles move to another category (or none) without a save: their postings follow.
 * Called before the articles themselves are moved, while they still name the old category.
 */
export async function moveCategoryPostings(tx: Executor, workspaceId: string, from: string, to: string | null) {
  await tx.execute(sql`
    UPDATE knowledge_postings SET category_id = ${to}
    WHERE (workspace_id = ${workspaceId}) IS TRUE -- by the article index (see writePostings)
      AND article_id IN (SELECT id FROM knowledge_articles WHERE workspace_id = ${workspaceId} AND category_id = ${from})`);
}
