import type { Db } from "../db/connect.ts";
import { log } from "../platform/log.ts";
import { recordEvent } from "./events.ts";

export type SearchQuery = {
  workspaceId: string;
  q: string;
  locale?: string;
  categoryId?: string;
  /** Help center, widget and bot: public articles only. Agents also see agents-only articles. */
  publicOnly: boolean;
  limit: number;
};

export type SearchHit = {
  id: string;
  title: string;
  summary: string;
  locale: string;
  /** Plain text around the first match; `highlights` are [start, end) offsets into it. */
  snippet: string;
  highlights: [number, number][];
  score: number;
};

/** One interface, two engines: Meilisearch in production, Postgres/PGlite full text by default. */
export interface SearchBackend {
  readonly name: string;
  search(query: SearchQuery): Promise<SearchHit[]>;
}

/** Longest query an API accepts; only the first 500 characters are searched (segment.ts). */
export const MAX_QUERY_INPUT = 10_000;

/** Queries shorter than this find nothing (one letter matches everything and helps no one). */
export const MIN_QUERY_CHARS = 2;

/**
 * The search every reader uses. The primary backend answers; if it fails (Meilisearch down) the
 * embedded one does, so a search never errors because an index is away. Searches that find nothing
 * are recorded as knowledge gaps.
 */
export class KnowledgeSearch {
  constructor(
    private readonly db: Db,
    readonly primary: SearchBackend,
    private readonly fallback?: SearchBackend,
  ) {}

  /** `recordGap`: false never records an empty search; a function decides when one is empty (a rate limit). */
  async search(query: SearchQuery, options: { recordGap?: boolean | (() => boolean) } = {}): Promise<SearchHit[]> {
    const q = query.q.trim();
    if ([...q].length < MIN_QUERY_CHARS && !/[\u3400-\u9fff]/.test(q)) return [];
    let hits: SearchHit[];
    try {
      hits = await this.primary.search({ ...query, q });
    } catch (err) {
      if (!this.fallback) throw err;
      log.warn("knowledge: search backend failed, answering from the embedded index", {
        backend: this.primary.name,
        err: String(err),
      });
      hits = await this.fallback.search({ ...query, q });
    }
    const record = typeof options.recordGap === "function" ? options.recordGap : () => options.recordGap !== false;
    if (!hits.length && record())
      await recordEvent(this.db, { workspaceId: query.workspaceId, kind: "search_empty", query: q });
    return hits;
  }
}
