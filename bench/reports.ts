import { existsSync } from "node:fs";
import { join } from "node:path";
import { sql } from "drizzle-orm";
import { rowsOf, type Database } from "../db/connect.ts";
import { csvStream } from "../reports/csv.ts";
import { INTERACTION_COLUMNS, interactionPage, type ExportRow } from "../reports/export.ts";
import { deriveInteractions } from "../reports/interaction.ts";
import type { GroupBy, ReportPeriod } from "../reports/period.ts";
import { rebuildRollups } from "../reports/rollup.ts";
import { report, type ReportSource, summaryQueries } from "../reports/summary.ts";
import { bigWorkspace } from "./harness/big-workspace.ts";
import { openPostgres } from "./harness/database.ts";
import { percentile } from "./harness/stats.ts";
import { cpuSeconds } from "./harness/usage.ts";

/**
 * `bun run bench reports`: on PostgreSQL, a workspace with CONVERSATIONS conversations and ten timeline
 * items each over 90 days (bench/harness/big-workspace.ts), then: the 30-day summary grouped by day and
 * by agent read from the rollup (interaction_rollups) and, for comparison, from the facts (RUNS runs each:
 * p50/p95 wall time and the database backend's CPU, and the plans, which must not touch timeline_items),
 * the time to rebuild the workspace's rollup from its facts, the raw CSV export of EXPORT_ROWS rows streamed (the process's peak RSS
 * growth), deriving the facts of 1,000 conversations from their source rows, and, when
 * bench/qa-throughput.ts exists, its QA scoring throughput on the same data.
 * Target: p95 < 500 ms per 30-day summary.
 */
const CONVERSATIONS = Number(process.env.BENCH_REPORTS_CONVERSATIONS ?? 1_000_000);
const ITEMS_PER_CONVERSATION = 10;
const DAYS = 90;
const RUNS = 25;
const EXPORT_ROWS = 100_000;
const DERIVE_SAMPLE = 1_000;
const TARGET_MS = 500;

type Timing = { p50: number; p95: number; cpuP50: number; cpuP95: number; rows: number };

/** The server processes of the pool's two connections (two statements at once make both connect). */
async function backendPids(database: Database) {
  const pid = () =>
    database.db
      .execute(sql`SELECT pg_backend_pid() AS pid, pg_sleep(0.2)`)
      .then((r) => Number(rowsOf<{ pid: number }>(r)[0]!.pid));
  return [...new Set(await Promise.all([pid(), pid()]))];
}

async function time(pids: number[], run: () => Promise<number>): Promise<Timing> {
  await run(); // warm the cache: a dashboard is read again and again
  const wall: number[] = [];
  const cpu: number[] = [];
  let rows = 0;
  for (let i = 0; i < RUNS; i++) {
    const c = pids.reduce((n, pid) => n + cpuSeconds(pid), 0);
    const t = performance.now();
    rows = await run();
    wall.push(performance.now() - t);
    cpu.push((pids.reduce((n, pid) => n + cpuSeconds(pid), 0) - c) * 1000);
  }
  return {
    p50: percentile(wall, 50),
    p95: percentile(wall, 95),
    cpuP50: percentile(cpu, 50),
    cpuP95: percentile(cpu, 95),
    rows,
  };
}

async function plan(database: Database, workspaceId: string, p: ReportPeriod, groupBy: GroupBy) {
  const out: string[] = [];
  for (const [name, statement] of Object.entries(summaryQueries(workspaceId, p, groupBy, {}, new Date(), "rollup"))) {
    const rows = rowsOf<Record<string, string>>(
      await database.db.execute(sql.join([sql.raw("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)"), statement], sql.raw(" "))),
    );
    out.push(`(${name})\n${rows.map((r) => Object.values(r)[0]).join("\n")}`);
  }
  return out.join("\n");
}

/** Streams the export through the same ReadableStream the route answers with, sampling RSS as it goes. */
async function exportCsv(database: Database, workspaceId: string, from: Date, until: Date) {
  // The period that holds the first EXPORT_ROWS facts from `from` (all up to `until` in a smaller run).
  const [edge] = rowsOf<{ at: string }>(
    await database.db.execute(sql`
      SELECT to_char(offered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at FROM interactions
      WHERE workspace_id = ${workspaceId} AND offered_at >= ${from.toISOString()}::timestamptz
      ORDER BY offered_at OFFSET ${EXPORT_ROWS} LIMIT 1`),
  );
  const p: ReportPeriod = { from, to: edge ? new Date(edge.at) : until, tz: "UTC" };
  Bun.gc(true);
  const before = process.memoryUsage().rss;
  let peak = before;
  let bytes = 0;
  let lines = 0;
  const t = performance.now();
  const reader = csvStream<ExportRow>(
    [...INTERACTION_COLUMNS],
    (r) => INTERACTION_COLUMNS.map((c) => r[c]),
    (after) => interactionPage(database.db, workspaceId, p, {}, after),
  ).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    for (const b of value) if (b === 10) lines++;
    peak = Math.max(peak, process.memoryUsage().rss);
  }
  const ms = performance.now() - t;
  return {
    rows: lines - 1,
    mb: bytes / 1024 / 1024,
    ms,
    rowsPerS: ((lines - 1) / ms) * 1000,
    peakRssGrowthMb: (peak - before) / 1024 / 1024,
  };
}

async function derive(database: Database, workspaceId: string) {
  const ids = rowsOf<{ id: string }>(
    await database.db.execute(sql`
      SELECT id FROM conversations WHERE workspace_id = ${workspaceId}
      ORDER BY created_at DESC LIMIT ${DERIVE_SAMPLE}`),
  ).map((r) => r.id);
  const t = performance.now();
  for (let i = 0; i < ids.length; i += 200) await deriveInteractions(database.db, ids.slice(i, i + 200));
  const ms = performance.now() - t;
  return { conversations: ids.length, ms, perConversationMs: ms / ids.length };
}

/** H3's QA throughput (bench/qa-throughput.ts) on the same data, when that benchmark is present. */
async function qaThroughput(database: Database, workspaceId: string) {
  const file = join(import.meta.dir, "qa-throughput.ts");
  if (!existsSync(file)) return undefined;
  const mod = (await import(file)) as { qaThroughput?: (db: Database, workspaceId: string) => Promise<unknown> };
  return mod.qaThroughput ? mod.qaThroughput(database, workspaceId) : undefined;
}

export async function benchReports({ json }: { json: boolean }) {
  const target = await openPostgres();
  // Two connections, as a report's two statements run side by side; their backends' CPU is read.
  const database = await (await import("../db/connect.ts")).connect({
    databaseUrl: target.env.DATABASE_URL!,
    poolSize: 2,
  });
  const log = (line: string) => !json && console.log(line);
  try {
    const end = new Date(Date.UTC(2026, 2, 1));
    const seedStart = performance.now();
    const big = await bigWorkspace(database, {
      conversations: CONVERSATIONS,
      itemsPerConversation: ITEMS_PER_CONVERSATION,
      days: DAYS,
      end,
      progress: (step, ms) => log(`  generated ${step} in ${(ms / 1000).toFixed(1)} s`),
    });
    const seedS = (performance.now() - seedStart) / 1000;
    // The triggers built the rollup as the facts were inserted; a rebuild from scratch, timed.
    const rebuildStart = performance.now();
    await rebuildRollups(database.db, big.workspaceId);
    const rollupBuildS = (performance.now() - rebuildStart) / 1000;
    // As autovacuum leaves them after a bulk load: the visibility map set, so the percentiles' covering
    // index is read without the table.
    for (const table of ["interactions", "interaction_rollups"])
      await database.db.execute(sql.raw(`VACUUM ANALYZE ${table}`));
    const pids = await backendPids(database);
    const p: ReportPeriod = { from: new Date(end.getTime() - 30 * 86_400_000), to: end, tz: "Asia/Shanghai" };
    // What the route runs: the rows and the total, figures and percentiles.
    const run =
      (groupBy: GroupBy, source: ReportSource = "auto") =>
      async () => {
        const r = await report(database.db, big.workspaceId, p, groupBy, {}, new Date(), source);
        if (source === "auto" && r.source !== "rollup") throw new Error(`by ${groupBy}: read from the ${r.source}`);
        return r.rows.length;
      };
    const byDay = await time(pids, run("day"));
    const byAgent = await time(pids, run("agent"));
    const factsDay = await time(pids, run("day", "facts"));
    const factsAgent = await time(pids, run("agent", "facts"));
    // Parallel workers are processes of their own, gone when the query ends: without them the backend's
    // CPU is all the query's CPU.
    const workers = (n: string) =>
      Promise.all(
        [1, 2].map(() =>
          database.db.execute(sql`SELECT set_config('max_parallel_workers_per_gather', ${n}, false), pg_sleep(0.2)`),
        ),
      );
    await workers("0");
    const serialDay = await time(pids, run("day"));
    const serialAgent = await time(pids, run("agent"));
    await workers("2");
    const plans = {
      day: await plan(database, big.workspaceId, p, "day"),
      agent: await plan(database, big.workspaceId, p, "agent"),
    };
    const csv = await exportCsv(database, big.workspaceId, p.from, end);
    const derived = await derive(database, big.workspaceId);
    const qa = await qaThroughput(database, big.workspaceId);
    const [counts] = rowsOf<Record<string, number>>(
      await database.db.execute(sql`SELECT
        (SELECT count(*) FROM conversations WHERE workspace_id = ${big.workspaceId})::int AS conversations,
        (SELECT count(*) FROM timeline_items WHERE workspace_id = ${big.workspaceId})::int AS "timelineItems",
        (SELECT count(*) FROM interactions WHERE workspace_id = ${big.workspaceId})::int AS interactions,
        (SELECT count(*) FROM interaction_rollups WHERE workspace_id = ${big.workspaceId})::int AS rollups,
        (SELECT count(*) FROM interactions WHERE workspace_id = ${big.workspaceId}
          AND offered_at >= ${p.from.toISOString()}::timestamptz)::int AS "inPeriod"`),
    );
    const timelineScan = Object.values(plans).some((x) => /timeline_items/.test(x));
    const result = {
      driver: "postgres",
      counts,
      seedS,
      rollupBuildS,
      loadAverage: (await import("node:os")).loadavg(),
      summary30d: {
        day: byDay,
        agent: byAgent,
        "day (facts)": factsDay,
        "agent (facts)": factsAgent,
        "day (no parallel workers)": serialDay,
        "agent (no parallel workers)": serialAgent,
      },
      targetMs: TARGET_MS,
      timelineScan,
      csv,
      derived,
      qa,
      plans,
    };
    if (json) return console.log(JSON.stringify(result));
    const f = (n: number) => n.toFixed(1);
    console.log(
      `PostgreSQL: ${counts!.conversations} conversations, ${counts!.timelineItems} timeline items, ` +
        `${counts!.interactions} interactions (${counts!.inPeriod} in the 30 days); generated in ${f(seedS)} s`,
    );
    console.log(
      `rollup: ${counts!.rollups} rows; rebuilt from the facts in ${f(rollupBuildS)} s; ` +
        `load average ${result.loadAverage.map((x) => x.toFixed(1)).join(" ")}`,
    );
    for (const [name, t] of Object.entries(result.summary30d))
      console.log(
        `30-day summary by ${name} (${t.rows} rows): p50 ${f(t.p50)} ms, p95 ${f(t.p95)} ms; ` +
          `database backend CPU p50 ${f(t.cpuP50)} ms, p95 ${f(t.cpuP95)} ms (${RUNS} runs)`,
      );
    console.log(`timeline_items in the plans: ${timelineScan ? "YES" : "no"}`);
    console.log(
      `CSV export: ${csv.rows} rows, ${f(csv.mb)} MB in ${f(csv.ms)} ms (${Math.round(csv.rowsPerS)} rows/s), ` +
        `peak RSS growth ${f(csv.peakRssGrowthMb)} MB`,
    );
    console.log(
      `deriving facts from the source rows: ${derived.conversations} conversations in ${f(derived.ms)} ms ` +
        `(${derived.perConversationMs.toFixed(2)} ms each)`,
    );
    if (qa !== undefined) console.log(`QA throughput: ${JSON.stringify(qa)}`);
    for (const [name, text] of Object.entries(plans)) console.log(`-- plan, by ${name}:\n${text}`);
    console.log(`target: a 30-day summary p95 < ${TARGET_MS} ms`);
  } finally {
    await database.close();
    await target.dispose();
  }
}
