import { inArray, lte, sql } from "drizzle-orm";
import { Meilisearch, type Index } from "meilisearch";
import { rowsOf, type Db } from "../db/connect.ts";
import { articles, knowledgeIndexOutbox, type Article } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import { queryTerms } from "./segment.ts";
import { toHit } from "./embedded.ts";
import type { SearchBackend, SearchHit, SearchQuery } from "./search.ts";

export const MEILI_INDEX = "knowledge_articles";
/** What Meilisearch keeps of a body: enough to rank and quote, not whole manuals. */
const MAX_DOC_BODY = 20_000;

type ArticleDoc = {
  id: string;
  workspaceId: string;
  title: string;
  summary: string;
  tags: string[];
  body: string;
  locale: string;
  language: string;
  status: string;
  visibility: string;
  categoryId: string | null;
  updatedAt: number;
};

function toDoc(a: Article): ArticleDoc {
  return {
    id: a.id,
    workspaceId: a.workspaceId,
    title: a.title,
    summary: a.summary,
    tags: a.tags,
    body: a.bodyText.slice(0, MAX_DOC_BODY),
    locale: a.locale,
    language: a.locale.split("-")[0]!,
    status: a.status,
    visibility: a.visibility,
    categoryId: a.categoryId,
    updatedAt: a.updatedAt.getTime(),
  };
}

/** Filter values are quoted: Meilisearch's filter syntax would otherwise read them. */
const quote = (v: string) => `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;

/** Ranking and filters in the same spirit as the embedded engine: title > summary/tags > body. */
export const INDEX_SETTINGS = {
  searchableAttributes: ["title", "summary", "tags", "body"],
  filterableAttributes: ["workspaceId", "locale", "language", "status", "visibility", "categoryId"],
  sortableAttributes: ["updatedAt"],
  displayedAttributes: ["id", "title", "summary", "body", "locale"],
  typoTolerance: { enabled: true, minWordSizeForTypos: { oneTypo: 4, twoTypos: 8 } },
  synonyms: {
    refund: ["money back", "reimbursement"],
    "money back": ["refund"],
    退款: ["退钱", "退货款"],
    退钱: ["退款"],
    order: ["purchase"],
    address: ["shipping address", "delivery address"],
    地址: ["收货地址"],
  },
};

export class MeilisearchBackend implements SearchBackend {
  readonly name = "meilisearch";
  readonly client: Meilisearch;
  readonly index: Index<ArticleDoc>;
  private configured: Promise<void> | undefined;

  constructor(options: { host: string; key?: string; indexName?: string; timeoutMs?: number }) {
    this.client = new Meilisearch({ host: options.host, apiKey: options.key, timeout: options.timeoutMs ?? 3000 });
    this.index = this.client.index<ArticleDoc>(options.indexName ?? MEILI_INDEX);
  }

  /** Creates the index with its settings once per process (idempotent on the server). */
  ensureIndex(): Promise<void> {
    this.configured ??= (async () => {
      await this.client.createIndex(this.index.uid, { primaryKey: "id" }).waitTask({ timeout: 10_000 });
      await this.index.updateSettings(INDEX_SETTINGS).waitTask({ timeout: 30_000 });
    })().catch((err: unknown) => {
      this.configured = undefined;
      throw err;
    });
    return this.configured;
  }

  async search(q: SearchQuery): Promise<SearchHit[]> {
    const filter = [`workspaceId = ${quote(q.workspaceId)}`, `status = "published"`];
    if (q.publicOnly) filter.push(`visibility = "public"`);
    if (q.locale) filter.push(`(locale = ${quote(q.locale)} OR language = ${quote(q.locale.split("-")[0]!)})`);
    if (q.categoryId) filter.push(`categoryId = ${quote(q.categoryId)}`);
    const res = await this.index.search(q.q.slice(0, 500), {
      filter: filter.join(" AND "),
      limit: q.limit,
      showRankingScore: true,
    });
    const terms = queryTerms(q.q);
    return res.hits.map((h) =>
      toHit(
        { id: h.id, title: h.title, summary: h.summary, body: h.body, locale: h.locale, score: h._rankingScore ?? 0 },
        terms,
      ),
    );
  }

  async upsert(docs: Article[]) {
    await this.ensureIndex();
    if (docs.length) await this.index.addDocuments(docs.map(toDoc), { primaryKey: "id" }).waitTask({ timeout: 30_000 });
  }

  async remove(ids: string[]) {
    await this.ensureIndex();
    if (ids.length) await this.index.deleteDocuments(ids).waitTask({ timeout: 30_000 });
  }

  async clear() {
    await this.ensureIndex();
    await this.index.deleteAllDocuments().waitTask({ timeout: 60_000 });
  }
}

/** How long a claimed batch stays claimed: a worker that dies mid-send frees it after this. */
const LEASE_MS = 60_000;

/**
 * Drains the index outbox into Meilisearch. Rows are claimed with SKIP LOCKED (any node may run a
 * worker), sent, then deleted; a failure pushes them back with exponential backoff, so an outage only
 * delays updates. Sending the article's current row (not the change) makes a resend harmless.
 */
export class IndexSyncWorker {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private stopped = true;

  constructor(
    private readonly db: Db,
    private readonly backend: Pick<MeilisearchBackend, "upsert" | "remove">,
    private readonly options: { pollMs?: number; batch?: number; baseDelayMs?: number; maxDelayMs?: number } = {},
  ) {}

  start() {
    this.stopped = false;
    this.schedule(0);
  }

  async stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await Bun.sleep(10);
  }

  wake() {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  private schedule(ms: number) {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref?.();
  }

  private async tick() {
    if (this.stopped) return;
    this.running = true;
    let more = false;
    try {
      more = (await this.drainOnce()) > 0;
    } catch (err) {
      log.warn("knowledge: index sync failed", { err: String(err) });
    } finally {
      this.running = false;
    }
    if (!this.stopped) this.schedule(more ? 0 : (this.options.pollMs ?? 1000));
  }

  /** One batch: returns how many outbox rows were sent (0 when nothing was due or sending failed). */
  async drainOnce(): Promise<number> {
    const batch = this.options.batch ?? 200;
    const claimed = rowsOf<{ id: number; article_id: string; attempts: number }>(
      await this.db.execute(sql`
        UPDATE knowledge_index_outbox SET next_attempt_at = now() + ${`${LEASE_MS} milliseconds`}::interval, attempts = attempts + 1
        WHERE id IN (
          SELECT id FROM knowledge_index_outbox WHERE next_attempt_at <= now()
          ORDER BY id LIMIT ${batch} FOR UPDATE SKIP LOCKED)
        RETURNING id, article_id, attempts`),
    );
    if (!claimed.length) return 0;
    const ids = claimed.map((r) => Number(r.id));
    const articleIds = [...new Set(claimed.map((r) => r.article_id))];
    try {
      const rows = await this.db.select().from(articles).where(inArray(articles.id, articleIds));
      const found = new Set(rows.map((r) => r.id));
      await this.backend.upsert(rows);
      await this.backend.remove(articleIds.filter((id) => !found.has(id)));
      await this.db.delete(knowledgeIndexOutbox).where(inArray(knowledgeIndexOutbox.id, ids));
      return ids.length;
    } catch (err) {
      const attempts = Math.max(...claimed.map((r) => r.attempts));
      const delay = Math.min(
        this.options.maxDelayMs ?? 60_000,
        (this.options.baseDelayMs ?? 500) * 2 ** Math.min(attempts, 16),
      );
      await this.db
        .update(knowledgeIndexOutbox)
        .set({ nextAttemptAt: new Date(Date.now() + delay), lastError: String(err).slice(0, 500) })
        .where(inArray(knowledgeIndexOutbox.id, ids));
      log.warn("knowledge: index update failed; will retry", { rows: ids.length, delayMs: delay, err: String(err) });
      return 0;
    }
  }

  /** Rows still waiting (the re-index command and tests wait for 0). */
  async backlog(): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(knowledgeIndexOutbox)
      .where(lte(knowledgeIndexOutbox.createdAt, new Date(Date.now() + 1000)));
    return Number(row?.n ?? 0);
  }
}

/** Every article of the workspace (or all) back into the outbox: the external index is rebuilt from the database. */
export async function enqueueAll(db: Db, workspaceId?: string) {
  await db.execute(sql`
    INSERT INTO knowledge_index_outbox (workspace_id, article_id)
    SELECT workspace_id, id FROM knowledge_articles ${workspaceId ? sql`WHERE workspace_id = ${workspaceId}` : sql``}`);
}
