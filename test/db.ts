import postgres from "postgres";
import { connect, type Database } from "../db/connect.ts";

/**
 * One migrated database per test process, shared by every test file: PGlite in memory by default,
 * or a fresh PostgreSQL database (dropped at exit) when DATABASE_URL is set. Tests isolate themselves
 * by creating their own workspace, which is also what tenancy guarantees in production.
 */
let shared: Promise<{ database: Database; url?: string }> | undefined;
let dropDatabase: (() => Promise<void>) | undefined;

export function testDatabase() {
  shared ??= open();
  return shared;
}

async function open(): Promise<{ database: Database; url?: string }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { database: await connect({ memory: true }) };
  const name = `switchboard_test_${process.pid}_${Date.now().toString(36)}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const database = await connect({ databaseUrl: url.toString(), poolSize: 10 });
  dropDatabase = async () => {
    await database.close();
    const again = postgres(base, { max: 1, onnotice: () => {} });
    await again.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await again.end();
  };
  return { database, url: url.toString() };
}

export async function closeTestDatabase() {
  if (!shared) return;
  if (dropDatabase) await dropDatabase();
  else await (await shared).database.close();
  shared = undefined;
}

export const onPostgres = !!process.env.DATABASE_URL;
