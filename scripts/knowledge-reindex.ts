/**
 * `bun run knowledge:reindex [--workspace <id>]`: rebuilds the search index from the database — the
 * embedded vectors always, and the Meilisearch index (emptied, then refilled through the outbox) when
 * MEILI_HOST is set. Safe to run while the server runs.
 */
import { connect } from "../db/connect.ts";
import { parseConfig } from "../platform/config.ts";
import { reindexEmbedded } from "../knowledge/bulk.ts";
import { enqueueAll, IndexSyncWorker, MeilisearchBackend } from "../knowledge/meilisearch.ts";

export async function reindex(options: { workspaceId?: string; log?: (line: string) => void } = {}) {
  const say = options.log ?? ((line: string) => console.log(line));
  const config = parseConfig();
  const database = await connect(
    config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir },
  );
  try {
    const started = performance.now();
    const n = await reindexEmbedded(
      database.db,
      options.workspaceId,
      200,
      (done) => done % 5000 === 0 && say(`embedded: ${done} articles`),
    );
    say(`embedded: ${n} articles re-indexed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    if (config.meili) {
      const meili = new MeilisearchBackend(config.meili);
      if (!options.workspaceId) await meili.clear();
      await enqueueAll(database.db, options.workspaceId);
      const sync = new IndexSyncWorker(database.db, meili);
      let sent = 0;
      for (let n = await sync.drainOnce(); n > 0; n = await sync.drainOnce()) sent += n;
      const left = await sync.backlog();
      say(
        `meilisearch: ${sent} updates sent${left ? `, ${left} waiting (the server's sync worker retries them)` : ""}`,
      );
    }
  } finally {
    await database.close();
  }
}

if (import.meta.main) {
  const at = process.argv.indexOf("--workspace");
  await reindex({ workspaceId: at > 0 ? process.argv[at + 1] : undefined });
}
