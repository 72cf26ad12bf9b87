import { and, eq, sql, type SQL } from "drizzle-orm";
import { rowsOf, type Db, type Executor, type Tx } from "../db/connect.ts";
import { articles, knowledgeTerms, type Article } from "../db/schema/index.ts";
import { indexText, queryTerms, snippetOf, vocabulary, type QueryTerms } from "./segment.ts";
import type { SearchBackend, SearchHit, SearchQuery } from "./search.ts";

/** tsvector holds at most 1 MB and 16,383 positions: the start of a long body is what gets indexed. */
const MAX_INDEXED_BODY = 60_000;
/** A query word outside the vocabulary is read as the closest known word at least this similar. */
const TYPO_SIMILARITY = 0.25;
/** Candidates read per tier (title/summary matches, body-only matches) and re-ranked by the full vector. */
const HEAD_CANDIDATES = 1000;
const BODY_CANDIDATES = 300;
const RERANK = 50;

const part = (text: string, weight: "A" | "B" | "C") => {
  const { latin, cjk } = indexText(text);
  return sql`setweight(to_tsvector('english', ${latin}) || to_tsvector('simple', ${cjk}), ${weight})`;
};

/** The weighted vectors of one article: title A, summary and tags B, body C; the head without the body. */
export function vectorsSql(a: Pick<Article, "title" | "summary" | "bodyText" | "tags">): { searchVector: never; headVector: never } {
  const head = sql`${part(a.title, "A")} || ${part(`${a.summary} ${a.tags.join(" ")}`, "B")}`;
  return { headVector: head as never, searchVector: sql`${head} || ${part(a.bodyText.slice(0, MAX_INDEXED_BODY), "C")}` as never };
}

/** Writes the article's search vector and vocabulary; called in the transaction that saves it. */
export async function indexArticle(tx: Executor, a: Pick<Article, "id" | "workspaceId" | "title" | "summary" | "bodyText" | "tags">) {
  await tx.update(articles).set(vectorsSql(a)).where(eq(articles.id, a.id));
  const words = vocabulary(`${a.title} ${a.summary} ${a.tags.join(" ")} ${a.bodyText.slice(0, MAX_INDEXED_BODY)}`);
  for (let i = 0; i < words.length; i += 500) {
    await tx
      .insert(knowledgeTerms)
      .values(words.slice(i, i + 500).map((term) => ({ workspaceId: a.workspaceId, term })))
      .onConflictDoNothing();
  }
}

/**
 * Query words the workspace never used, each with its closest known words: "refnud" → "refund".
 * Known words are kept as they are (no correction of a word that exists).
 */
async function corrections(tx: Tx, workspaceId: string, words: string[]): Promise<string[]> {
  const candidates = words.filter((w) => w.length >= 4 && !/^\d+$/.test(w));
  if (!candidates.length) return [];
  {
    // The % operator reads its threshold from the transaction (set by the caller).
    const rows = rowsOf<{ word: string; term: string | null; known: boolean }>(
      await tx.execute(sql`
        SELECT w.word,
               EXISTS (SELECT 1 FROM knowledge_terms k WHERE k.workspace_id = ${workspaceId} AND k.term = w.word) AS known,
               c.term
        FROM unnest(ARRAY[${sql.join(candidates.map((c) => sql`${c}`), sql`, `)}]::text[]) AS w(word)
        LEFT JOIN LATERAL (
          SELECT k.term FROM knowledge_terms k
          WHERE k.workspace_id = ${workspaceId} AND k.term % w.word AND k.term <> w.word
            -- a typo changes a letter or two, not the word's length: "subscription" is not "script"
            AND abs(length(k.term) - length(w.word)) <= 2
          ORDER BY similarity(k.term, w.word) DESC LIMIT 2
        ) c ON true`),
    );
    const known = new Set(rows.filter((r) => r.known).map((r) => r.word));
    return rows.filter((r) => !known.has(r.word) && r.term).map((r) => r.term!);
  }
}

/** The tsquery for the terms: any of them may match; ranking rewards matching more and in titles. */
function tsquerySql(latin: string[], cjk: string[]): SQL | undefined {
  // Terms are letters and digits only (segment.ts), so joining them with | cannot form other syntax.
  const parts: SQL[] = [];
  if (latin.length) parts.push(sql`to_tsquery('english', ${latin.join(" | ")})`);
  if (cjk.length) parts.push(sql`to_tsquery('simple', ${cjk.join(" | ")})`);
  if (!parts.length) return undefined;
  return sql.join(parts, sql` || `);
}

export function filtersSql(q: SearchQuery): SQL {
  const conditions: SQL[] = [eq(articles.workspaceId, q.workspaceId), eq(articles.status, "published")];
  if (q.publicOnly) conditions.push(eq(articles.visibility, "public"));
  if (q.locale) conditions.push(sql`(${articles.locale} = ${q.locale} OR ${articles.locale} LIKE ${q.locale.split("-")[0] + "%"})`);
  if (q.categoryId) conditions.push(eq(articles.categoryId, q.categoryId));
  return and(...conditions)!;
}

/** Search inside Postgres/PGlite: full text with stems, CJK words and bigrams, typo correction. */
export class EmbeddedBackend implements SearchBackend {
  readonly name = "embedded";
  constructor(private readonly db: Db) {}

  async search(q: SearchQuery): Promise<SearchHit[]> {
    const terms = queryTerms(q.q);
    if (!terms.latin.length && !terms.cjk.length) return [];
    const rows = await this.db.transaction(async (tx) => {
      // Matching rows' vectors are large: reading every row (a sequential scan) costs far more than
      // the planner thinks, so this transaction always goes through the GIN index.
      await tx.execute(sql`SELECT set_config('enable_seqscan', 'off', true), set_config('pg_trgm.similarity_threshold', ${String(TYPO_SIMILARITY)}, true)`);
      const latin = [...new Set([...terms.latin, ...(await corrections(tx, q.workspaceId, terms.latin))])];
      const tsq = tsquerySql(latin, terms.cjk)!;
      // Ranking every match costs time in proportion to the matches, and a common word can match a
      // large share of 100,000 articles. So candidates are bounded: first title/summary matches (the
      // head vector, small and cheap to rank), then — only when those are too few — body matches;
      // each tier is capped before ranking, and the best are ordered by the full weighted vector.
      type Row = { id: string; title: string; summary: string; body: string; locale: string; score: number };
      const tier = async (where: SQL, cap: number) =>
        rowsOf<Row>(
          await tx.execute(sql`
            SELECT id, title, summary, left(body_text, 4000) AS body, locale, ts_rank(search_vector, ${tsq}) AS score
            FROM (
              SELECT id, title, summary, body_text, locale, search_vector, head_vector, updated_at
              FROM knowledge_articles WHERE ${where} AND ${filtersSql(q)} LIMIT ${cap}
            ) candidates
            ORDER BY ts_rank(head_vector, ${tsq}) DESC, updated_at DESC
            LIMIT ${RERANK}`),
        );
      const head = await tier(sql`head_vector @@ (${tsq})`, HEAD_CANDIDATES);
      const body = head.length >= q.limit ? [] : await tier(sql`search_vector @@ (${tsq}) AND NOT (head_vector @@ (${tsq}))`, BODY_CANDIDATES);
      return [...head, ...body].sort((a, b) => Number(b.score) - Number(a.score)).slice(0, q.limit);
    });
    return rows.map((r) => toHit(r, terms));
  }
}

export function toHit(r: { id: string; title: string; summary: string; body: string; locale: string; score: number }, terms: QueryTerms): SearchHit {
  const { snippet, highlights } = snippetOf(r.summary ? `${r.summary} ${r.body}` : r.body, terms);
  return { id: r.id, title: r.title, snippet, highlights, score: Number(r.score), locale: r.locale, summary: r.summary };
}
