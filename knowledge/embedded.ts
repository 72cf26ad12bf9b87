import { eq, sql, type SQL } from "drizzle-orm";
import { rowsOf, type Db, type Executor, type Tx } from "../db/connect.ts";
import { articles, knowledgeTerms, type Article } from "../db/schema/index.ts";
import { indexText, queryTerms, snippetOf, vocabulary, type QueryTerms } from "./segment.ts";
import { writePostings } from "./postings.ts";
import type { SearchBackend, SearchHit, SearchQuery } from "./search.ts";

/** tsvector holds at most 1 MB and 16,383 positions: the start of a long body is what gets indexed. */
const MAX_INDEXED_BODY = 60_000;
/** A query word outside the vocabulary is read as the closest known word at least this similar. */
const TYPO_SIMILARITY = 0.25;
/**
 * Postings read per query term, best impact first (three times the limit when that is more). A term
 * in 10,000 articles costs the same as one in ten: the best articles for a query are nearly always
 * among the best hundred for one of its terms, as a title match outweighs any number of body mentions.
 */
const PER_TERM = 100;

const part = (text: string, weight: "A" | "B" | "C") => {
  const { latin, cjk } = indexText(text);
  return sql`setweight(to_tsvector('english', ${latin}) || to_tsvector('simple', ${cjk}), ${weight})`;
};

/** The weighted vector of one article: title A, summary and tags B, body C. */
export function vectorSql(a: Pick<Article, "title" | "summary" | "bodyText" | "tags">): { searchVector: never } {
  return {
    searchVector:
      sql`${part(a.title, "A")} || ${part(`${a.summary} ${a.tags.join(" ")}`, "B")} || ${part(a.bodyText.slice(0, MAX_INDEXED_BODY), "C")}` as never,
  };
}

/** Remembers the Latin words of these texts for typo correction (knowledge_terms). */
export async function rememberWords(tx: Executor, workspaceId: string, words: Iterable<string>) {
  const list = [...new Set(words)];
  for (let i = 0; i < list.length; i += 1000) {
    await tx
      .insert(knowledgeTerms)
      .values(list.slice(i, i + 1000).map((term) => ({ workspaceId, term })))
      .onConflictDoNothing();
  }
}

/** Writes the article's search vector, postings and vocabulary; called in the transaction that saves it. */
export async function indexArticle(
  tx: Executor,
  a: Pick<Article, "id" | "workspaceId" | "title" | "summary" | "bodyText" | "tags">,
) {
  await tx.update(articles).set(vectorSql(a)).where(eq(articles.id, a.id));
  await writePostings(tx, a.workspaceId, [a.id]);
  await rememberWords(
    tx,
    a.workspaceId,
    vocabulary(`${a.title} ${a.summary} ${a.tags.join(" ")} ${a.bodyText.slice(0, MAX_INDEXED_BODY)}`),
  );
}

/**
 * Query words the workspace never used, each read as its two closest known words: "refnud" →
 * "refund". Known words are never corrected, and cost one primary-key lookup. Runs in the search's
 * transaction before the planner settings of the main query (the trigram index answers only bitmap
 * scans).
 */
async function corrections(tx: Tx, workspaceId: string, words: string[]): Promise<string[]> {
  const candidates = words.filter((w) => w.length >= 4 && !/^\d+$/.test(w));
  if (!candidates.length) return [];
  // The % operator reads its threshold from the transaction.
  await tx.execute(
    sql`SELECT set_config('pg_trgm.similarity_threshold', ${String(TYPO_SIMILARITY)}, true), set_config('enable_seqscan', 'off', true)`,
  );
  const rows = rowsOf<{ term: string }>(
    await tx.execute(sql`
      SELECT c.term
      FROM unnest(ARRAY[${sql.join(
        candidates.map((c) => sql`${c}`),
        sql`, `,
      )}]::text[]) AS w(word)
      CROSS JOIN LATERAL (
        SELECT k.term FROM knowledge_terms k
        -- "IS TRUE" keeps the primary key (whose prefix is the workspace: every word it knows) out of
        -- the plan, so the trigram index finds the few similar words; without statistics the planner
        -- would scan the whole vocabulary, 40 ms for 30,000 words.
        WHERE (k.workspace_id = ${workspaceId}) IS TRUE AND k.term % w.word AND k.term <> w.word
          -- a typo changes a letter or two, not the word's length: "subscription" is not "script"
          AND abs(length(k.term) - length(w.word)) <= 2
          AND NOT EXISTS (SELECT 1 FROM knowledge_terms known WHERE known.workspace_id = ${workspaceId} AND known.term = w.word)
        ORDER BY similarity(k.term, w.word) DESC LIMIT 2
      ) c`),
  );
  return rows.map((r) => r.term);
}

/** The language of a locale, as knowledge_postings and knowledge_term_counts store it: zh for zh-CN. */
const languageOf = (locale: string) => locale.split("-")[0]!;

/** Conditions on a knowledge_postings row `p` for the query's filters (status: only published articles have postings). */
function postingFilters(q: SearchQuery): SQL {
  const conditions: SQL[] = [];
  if (q.publicOnly) conditions.push(sql`p.public`);
  // zh-CN asks for Chinese: zh, zh-CN and zh-TW articles all match.
  if (q.locale) conditions.push(sql`p.language = ${languageOf(q.locale)}`);
  if (q.categoryId) conditions.push(sql`p.category_id = ${q.categoryId}`);
  return conditions.length ? sql`AND ${sql.join(conditions, sql` AND `)}` : sql``;
}

/**
 * Search inside Postgres/PGlite: English stems, Chinese words and bigrams, typo correction, over an
 * impact-ordered inverted index (knowledge_postings).
 */
export class EmbeddedBackend implements SearchBackend {
  readonly name = "embedded";
  constructor(private readonly db: Db) {}

  async search(q: SearchQuery): Promise<SearchHit[]> {
    const terms = queryTerms(q.q);
    if (!terms.latin.length && !terms.cjk.length) return [];
    const language = q.locale ? languageOf(q.locale) : undefined;
    const rows = await this.db.transaction(async (tx) => {
      const fixes = await corrections(tx, q.workspaceId, terms.latin);
      // Each term's postings must be read best first straight from the index and stopped early.
      // Without fresh statistics (PGlite never analyzes by itself) the planner prefers a bitmap scan
      // of all of a common term's rows and a sort — ten times slower — so that is ruled out here.
      await tx.execute(
        sql`SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`,
      );
      // Query words become lexemes exactly as article text did (vectorSql): the same configurations
      // read plain words, never tsquery syntax. Each term weighs its idf (BM25's, from
      // knowledge_term_counts within the language asked for; the empty term counts the articles),
      // and a term that language never uses is dropped before any posting is read. Terms in more
      // than half of the articles are dropped while a rarer one is asked for: they would cost a read
      // and move no ranking. Each remaining term contributes its best postings that pass the
      // filters; an article's score is the idf-weighted sum of its impacts.
      return rowsOf<{ id: string; title: string; summary: string; body: string; locale: string; score: number }>(
        await tx.execute(sql`
          WITH lexemes AS (
            SELECT DISTINCT unnest(tsvector_to_array(
              to_tsvector('english', ${[...terms.latin, ...fixes].join(" ")}) || to_tsvector('simple', ${terms.cjk.join(" ")})
            )) AS term
          ), counted AS (
            -- A lookup per query term (a lateral aggregate): the term counts of a whole language are
            -- never read, whatever plan statistics would suggest.
            SELECT t.term, c.articles, (
              SELECT sum(articles) FROM knowledge_term_counts
              WHERE workspace_id = ${q.workspaceId} AND term = '' ${language ? sql`AND language = ${language}` : sql``}
            ) AS total
            FROM lexemes t
            CROSS JOIN LATERAL (
              SELECT sum(articles) AS articles FROM knowledge_term_counts c
              WHERE c.workspace_id = ${q.workspaceId} AND c.term = t.term ${language ? sql`AND c.language = ${language}` : sql``}
            ) c
            WHERE c.articles > 0
          ), weighted AS MATERIALIZED (
            SELECT term, ln(1 + (total - articles + 0.5)::float8 / (articles + 0.5)) AS idf
            FROM counted
            WHERE articles * 2 <= total OR NOT EXISTS (SELECT 1 FROM counted r WHERE r.articles * 2 <= r.total)
          ), scored AS (
            SELECT p.article_id, sum(t.idf * p.impact) AS score
            FROM weighted t CROSS JOIN LATERAL (
              SELECT p.article_id, p.impact FROM knowledge_postings p
              WHERE p.workspace_id = ${q.workspaceId} AND p.term = t.term ${postingFilters(q)}
              ORDER BY p.impact DESC NULLS LAST, p.article_id
              LIMIT ${Math.max(PER_TERM, 3 * q.limit)}
            ) p
            GROUP BY p.article_id
            ORDER BY score DESC, p.article_id
            LIMIT ${q.limit}
          )
          SELECT a.id, a.title, a.summary, left(a.body_text, 4000) AS body, a.locale, s.score
          FROM scored s JOIN knowledge_articles a ON a.id = s.article_id AND a.workspace_id = ${q.workspaceId}
          ORDER BY s.score DESC, a.id`),
      );
    });
    return rows.map((r) => toHit(r, terms));
  }
}

export function toHit(
  r: { id: string; title: string; summary: string; body: string; locale: string; score: number },
  terms: QueryTerms,
): SearchHit {
  const { snippet, highlights } = snippetOf(r.summary ? `${r.summary} ${r.body}` : r.body, terms);
  return {
    id: r.id,
    title: r.title,
    snippet,
    highlights,
    score: Number(r.score),
    locale: r.locale,
    summary: r.summary,
  };
}
