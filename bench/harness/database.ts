import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { connect, type Database } from "../../db/connect.ts";

const DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres";

export type Driver = "pglite" | "postgres";

/**
 * Where the product under test keeps its data: its default (PGlite in a data directory) or a fresh
 * PostgreSQL database. `env` points a server process at it; `open()` connects the benchmark's own
 * process to the same data (on PGlite only while no server runs on it: one process at a time).
 */
export type Target = { env: Record<string, string>; open(): Promise<Database>; dispose(): Promise<void> };

export function openPglite(): Target {
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
  return {
    env: { DATA_DIR: dataDir },
    open: () => connect({ dataDir }),
    dispose: async () => rmSync(dataDir, { recursive: true, force: true }),
  };
}

/** A fresh database per run: never touches real data, always starts empty, and is dropped after. */
export async function openPostgres(): Promise<Target> {
  const base = process.env.DATABASE_URL || DEFAULT_POSTGRES;
  const name = `switchboard_bench_${process.pid}`;
  await adminStatement(base, `CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const dataDir = mkdtempSync(join(tmpdir(), "switchboard-bench-"));
  return {
    env: { DATABASE_URL: url.toString(), DATA_DIR: dataDir },
    open: () => connect({ databaseUrl: url.toString() }),
    async dispose() {
      rmSync(dataDir, { recursive: true, force: true });
      await adminStatement(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

async function adminStatement(url: string, statement: string) {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql.unsafe(statement);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Runs `measure` on each driver in turn (one at a time: they would otherwise compete for the same
 * CPUs), each on a fresh database; a driver that cannot be opened (no PostgreSQL here) is skipped.
 */
export async function onEachDriver<T>(measure: (target: Target) => Promise<T>) {
  const drivers: Partial<Record<Driver, T | { skipped: string }>> = {};
  // BENCH_DRIVERS=pglite (or postgres) measures one driver only, e.g. while profiling.
  const only = process.env.BENCH_DRIVERS?.split(",");
  for (const driver of ["pglite", "postgres"] as const) {
    if (only && !only.includes(driver)) continue;
    let target: Target;
    try {
      target = driver === "pglite" ? openPglite() : await openPostgres();
    } catch (err) {
      drivers[driver] = { skipped: err instanceof Error ? err.message : String(err) };
      continue;
    }
    try {
      drivers[driver] = await measure(target);
    } finally {
      await target.dispose();
    }
  }
  return drivers;
}
