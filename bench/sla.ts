import { sql } from "drizzle-orm";
import { InProcessBus } from "../conversations/bus.ts";
import type { Core } from "../conversations/transaction.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import { rowsOf, type Database } from "../db/connect.ts";
import { contacts, inboxes } from "../db/schema/index.ts";
import { breachClaim, sweepOnce, SWEEP_BATCH, warningClaim } from "../sla/sweep.ts";
import { onEachDriver, type Target } from "./harness/database.ts";
import { summarize } from "./harness/stats.ts";

/**
 * `bun run bench sla`: 100,000 open subjects (90,000 conversations, 10,000 tickets) with live SLA
 * clocks, plus as many finished clocks (history), of which DUE are past their due time and DUE more
 * past their warning time. Times SWEEPS sweeps (each re-armed with the same due clocks: the setup is
 * not timed), and an idle sweep (nothing due); prints the plans of the sweep's two statements.
 * Target: < 1 s per sweep, no Seq Scan on sla_clocks.
 */
const CONVERSATIONS = Number(process.env.BENCH_SLA_CONVERSATIONS ?? 90_000);
const TICKETS = Number(process.env.BENCH_SLA_TICKETS ?? 10_000);
const DUE = 300;
const SWEEPS = 15;
const TARGET_MS = 1000;

async function seed(database: Database) {
  const db = database.db;
  const ws = await createWorkspace(db, `Bench SLA ${crypto.randomUUID().slice(0, 8)}`);
  const [inbox] = await db.insert(inboxes).values({ workspaceId: ws.id, channel: "webchat", name: "Chat" }).returning();
  const [contact] = await db.insert(contacts).values({ workspaceId: ws.id }).returning();
  await db.execute(sql`
    INSERT INTO conversations (workspace_id, contact_id, inbox_id, channel, status)
    SELECT ${ws.id}, ${contact!.id}, ${inbox!.id}, 'webchat', 'open' FROM generate_series(1, ${CONVERSATIONS})`);
  await db.execute(sql`
    INSERT INTO tickets (workspace_id, number, title, status)
    SELECT ${ws.id}, 1000 + n, 'Bench ticket ' || n, 'open' FROM generate_series(1, ${TICKETS}) AS n`);
  // Every subject: a live resolution clock due hours to days ahead, and a met first response (history).
  const clocks = (subject: "conversation_id" | "ticket_id", table: "conversations" | "tickets") => sql`
    INSERT INTO sla_clocks (workspace_id, ${sql.raw(subject)}, metric, target_ms, started_at, due_at, warn_at, stopped_at)
    SELECT workspace_id, id, m.metric, 86400000, now(),
      CASE WHEN m.metric = 'resolution' THEN now() + (1 + random() * 200) * interval '1 hour' END,
      CASE WHEN m.metric = 'resolution' THEN now() + (1 + random() * 100) * interval '1 hour' END,
      CASE WHEN m.metric = 'first_response' THEN now() END
    FROM ${sql.raw(table)}, (VALUES ('resolution'), ('first_response')) AS m(metric)
    WHERE workspace_id = ${ws.id}`;
  await db.execute(clocks("conversation_id", "conversations"));
  await db.execute(clocks("ticket_id", "tickets"));
  await db.execute(sql`ANALYZE sla_clocks`);
  return ws.id;
}

/** The same DUE clocks past their due time (warned before) and DUE others past their warning time, unmarked again. */
async function rearm(db: Database["db"], workspaceId: string) {
  await db.execute(sql`
    UPDATE sla_clocks SET breached_at = NULL,
      warned_at = CASE WHEN n <= ${DUE} THEN now() - interval '2 minutes' END,
      due_at = CASE WHEN n <= ${DUE} THEN now() - interval '1 minute' ELSE now() + interval '1 day' END,
      warn_at = now() - interval '1 minute'
    FROM (SELECT id AS clock, row_number() OVER (ORDER BY id) AS n FROM sla_clocks
          WHERE workspace_id = ${workspaceId} AND metric = 'resolution' ORDER BY id LIMIT ${2 * DUE}) AS picked
    WHERE id = picked.clock`);
}

async function plans(database: Database) {
  const now = new Date();
  const out: Record<string, string> = {};
  for (const [name, claim] of [
    ["warnings", warningClaim],
    ["breaches", breachClaim],
  ] as const) {
    // EXPLAIN ANALYZE runs the UPDATE: inside a transaction rolled back, so the plan costs nothing.
    await database.db
      .transaction(async (tx) => {
        const rows = rowsOf<Record<string, string>>(
          await tx.execute(
            sql.join([sql.raw("EXPLAIN (ANALYZE, COSTS OFF)"), claim(tx, now, SWEEP_BATCH).getSQL()], sql.raw(" ")),
          ),
        );
        out[name] = rows.map((r) => Object.values(r)[0]).join("\n");
        throw new Rollback();
      })
      .catch((err) => {
        if (!(err instanceof Rollback)) throw err;
      });
  }
  return out;
}
class Rollback extends Error {}

async function measure(target: Target) {
  const database = await target.open();
  try {
    const seedStart = performance.now();
    const workspaceId = await seed(database);
    const seedMs = performance.now() - seedStart;
    const core: Core = { db: database.db, bus: new InProcessBus() };
    const wall: number[] = [];
    const cpu: number[] = [];
    let fired = 0;
    for (let i = 0; i < SWEEPS; i++) {
      await rearm(database.db, workspaceId);
      const c = process.cpuUsage();
      const t = performance.now();
      fired = await sweepOnce(core);
      wall.push(performance.now() - t);
      const used = process.cpuUsage(c);
      cpu.push((used.user + used.system) / 1000);
    }
    const idle: number[] = [];
    for (let i = 0; i < SWEEPS; i++) {
      const t = performance.now();
      await sweepOnce(core);
      idle.push(performance.now() - t);
    }
    await rearm(database.db, workspaceId);
    const explain = await plans(database);
    const [{ live, all } = { live: 0, all: 0 }] = rowsOf<{ live: number; all: number }>(
      await database.db.execute(
        sql`SELECT count(*) FILTER (WHERE stopped_at IS NULL)::int AS live, count(*)::int AS all FROM sla_clocks`,
      ),
    );
    return {
      clocks: { live: Number(live), all: Number(all) },
      seedMs: Math.round(seedMs),
      firedPerSweep: fired,
      sweepMs: summarize(wall),
      cpuMs: summarize(cpu),
      idleSweepMs: summarize(idle),
      seqScan: Object.values(explain).some((p) => /Seq Scan on sla_clocks/.test(p)),
      explain,
    };
  } finally {
    await database.close();
  }
}

export async function benchSla({ json }: { json: boolean }) {
  const drivers = await onEachDriver(measure);
  const report = { subjects: CONVERSATIONS + TICKETS, due: DUE, sweeps: SWEEPS, targetMs: TARGET_MS, drivers };
  if (json) return console.log(JSON.stringify(report));
  const f = (n: number) => n.toFixed(1);
  console.log(
    `${CONVERSATIONS + TICKETS} open subjects with live clocks; ${DUE} due and ${DUE} more warning per sweep`,
  );
  for (const [driver, r] of Object.entries(drivers)) {
    if (!r || "skipped" in r) {
      console.log(`${driver}: skipped (${r?.skipped})`);
      continue;
    }
    console.log(
      `${driver}: ${r.clocks.live} live of ${r.clocks.all} clocks; sweep p50 ${f(r.sweepMs.p50)} ms, p99 ${f(r.sweepMs.p99)} ms ` +
        `(CPU p50 ${f(r.cpuMs.p50)} ms), ${r.firedPerSweep} fired; idle sweep p50 ${f(r.idleSweepMs.p50)} ms; ` +
        `Seq Scan on sla_clocks: ${r.seqScan ? "YES" : "no"}`,
    );
    for (const [name, plan] of Object.entries(r.explain)) console.log(`-- ${driver} ${name}:\n${plan}`);
  }
  console.log(`target: a sweep < ${TARGET_MS} ms, through the partial indexes`);
}
