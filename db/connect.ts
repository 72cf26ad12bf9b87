import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { sql, type SQL, type SQLWrapper } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import postgres from "postgres";
import { drizzleReadyPglite } from "./pglite-client.ts";
import { preparedPostgres } from "./postgres-client.ts";
import * as schema from "./schema/index.ts";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction or the database itself: domain functions take either and compose. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type Executor = Db | Tx;

export type Database = {
  db: Db;
  driver: "pglite" | "postgres";
  /** The raw Postgres client (LISTEN/NOTIFY); undefined on PGlite. */
  pg?: postgres.Sql;
  pglite?: PGlite;
  close(): Promise<void>;
};

const migrationsFolder = join(import.meta.dir, "migrations");

export type ConnectOptions =
  | { databaseUrl: string; poolSize?: number }
  | { dataDir: string }
  /** An in-memory PGlite, optionally cloned from a dump of an already migrated one (tests). */
  | { memory: true; loadDataDir?: Blob | File };

/** PGlite under DATA_DIR when DATABASE_URL is unset, else PostgreSQL. Migrates before returning. */
export async function connect(options: ConnectOptions): Promise<Database> {
  if ("databaseUrl" in options) return connectPostgres(options.databaseUrl, options.poolSize ?? 10);
  const client =
    "dataDir" in options
      ? (mkdirSync(options.dataDir, { recursive: true }),
        new PGlite(join(options.dataDir, "pglite"), { extensions: { pg_trgm } }))
      : new PGlite({ extensions: { pg_trgm }, loadDataDir: options.loadDataDir });
  await client.waitReady;
  const db = drizzlePglite(drizzleReadyPglite(client), { schema }) as unknown as Db;
  await migratePglite(db as never, { migrationsFolder });
  return { db, driver: "pglite", pglite: client, close: () => client.close() };
}

async function connectPostgres(url: string, poolSize: number): Promise<Database> {
  // Several nodes may start at once: one migrates while the others wait on an advisory lock held by
  // a dedicated connection (a pooled one could be a different session for lock and unlock).
  const migrator = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await migrator`SELECT pg_advisory_lock(727274)`;
    await migratePostgres(drizzlePostgres(migrator), { migrationsFolder });
    await migrator`SELECT pg_advisory_unlock(727274)`;
  } finally {
    await migrator.end();
  }
  const pg = postgres(url, { max: poolSize, onnotice: () => {} });
  const db = drizzlePostgres(preparedPostgres(pg), { schema }) as unknown as Db;
  return { db, driver: "postgres", pg, close: () => pg.end({ timeout: 5 }) };
}

/**
 * Writes sent as one statement, as data-modifying WITH clauses ahead of `last`, whose rows come
 * back: one statement's overhead on both ends of the connection instead of one each. Every clause
 * runs to completion on the same snapshot, so none may read what another writes (a statement that
 * must see them goes after, as a statement of its own).
 */
export function combined(writes: SQLWrapper[], last?: SQLWrapper): SQL {
  // Without `last`, the final write is the statement itself.
  const [clauses, main] = last ? [writes, last] : [writes.slice(0, -1), writes.at(-1)!];
  if (!clauses.length) return main.getSQL();
  return sql`WITH ${sql.join(
    clauses.map((w, n) => sql`${sql.identifier(`w${n}`)} AS (${w.getSQL()})`),
    sql`, `,
  )} ${main.getSQL()}`;
}

/** `db.execute` returns `{rows}` on PGlite and an array on postgres-js; callers want rows. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/** A unique index refused the write (SQLSTATE 23505); drizzle wraps the driver's error in `cause`. */
export function isUniqueViolation(err: unknown): boolean {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (e.code === "23505") return true;
  }
  return false;
}
