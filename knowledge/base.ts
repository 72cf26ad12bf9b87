import type { Db } from "../db/connect.ts";
import type { SaveOptions } from "./article.ts";
import { EmbeddedBackend } from "./embedded.ts";
import { IndexSyncWorker, MeilisearchBackend } from "./meilisearch.ts";
import { KnowledgeSearch } from "./search.ts";

/** The knowledge base one node runs: search (Meilisearch or embedded) and, with Meilisearch, its sync worker. */
export type KnowledgeBase = {
  search: KnowledgeSearch;
  embedded: EmbeddedBackend;
  meili?: MeilisearchBackend;
  sync?: IndexSyncWorker;
  saveOptions: SaveOptions;
  start(): void;
  stop(): Promise<void>;
};

export function createKnowledgeBase(db: Db, meili?: { host: string; key?: string; indexName?: string }): KnowledgeBase {
  const embedded = new EmbeddedBackend(db);
  if (!meili) {
    return {
      search: new KnowledgeSearch(db, embedded),
      embedded,
      saveOptions: { externalIndex: false },
      start() {},
      stop: async () => {},
    };
  }
  const backend = new MeilisearchBackend(meili);
  const sync = new IndexSyncWorker(db, backend);
  return {
    // The embedded index is kept in every case (it is a column of the article): it answers while
    // Meilisearch is down.
    search: new KnowledgeSearch(db, backend, embedded),
    embedded,
    meili: backend,
    sync,
    saveOptions: { externalIndex: true },
    start: () => sync.start(),
    stop: () => sync.stop(),
  };
}
