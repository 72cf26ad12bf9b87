import { seedDemo } from "../apps/demo/seed.ts";
import { housekeep } from "../apps/server/housekeeping.ts";
import { createRuntime } from "../apps/server/runtime.ts";
import { createApp } from "../apps/server/app.ts";
import { twilioSignature } from "../channels/voice/verify.ts";
import { parseConfig } from "../platform/config.ts";
import { setLogLevel } from "../platform/log.ts";
import { sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { calls, events, workItems } from "../db/schema/index.ts";
import { onEachDriver, type Driver, type Target } from "./harness/database.ts";

/**
 * Handled work items in the demo's voice queue, as if `count` calls had been answered and finished
 * over the past days (one statement: this is a benchmark's setup, not how work is recorded).
 */
async function addHandledHistory(db: Db, count: number) {
  await db.execute(sql`
    INSERT INTO ${workItems} (workspace_id, conversation_id, queue_id, channel, state, enqueued_at, answered_at, ended_at)
    SELECT w.workspace_id, w.conversation_id, w.queue_id, 'voice', 'done', t - interval '30 seconds', t, t + interval '4 minutes'
    FROM (SELECT * FROM ${workItems} WHERE channel = 'voice' LIMIT 1) w,
      LATERAL (SELECT now() - make_interval(secs => g * 5) AS t FROM generate_series(1, ${count}::int) g) h`);
  await db.execute(sql`ANALYZE ${workItems}`);
}

/** `count` finished calls of the demo's voice line and three events each, spread over the past days. */
async function addCallHistory(db: Db, count: number) {
  const [call] = await db.select().from(calls).limit(1);
  await db.execute(sql`
    INSERT INTO ${calls} (workspace_id, conversation_id, inbox_id, timeline_item_id, provider, external_id, direction, status, started_at, ended_at)
    SELECT ${call!.workspaceId}::uuid, ${call!.conversationId}::uuid, ${call!.inboxId}::uuid, ${call!.timelineItemId}::uuid, 'twilio', 'CAhistory' || g, 'in', 'completed',
      now() - make_interval(secs => g * 5), now() - make_interval(secs => g * 5 - 240)
    FROM generate_series(1, ${count}::int) g`);
  await db.execute(sql`
    INSERT INTO ${events} (workspace_id, seq, type, conversation_id, payload, created_at)
    SELECT ${call!.workspaceId}::uuid, -g, 'item.created', ${call!.conversationId}::uuid, '{}'::jsonb, now() - make_interval(secs => g)
    FROM generate_series(1, ${3 * count}::int) g`);
  await db.execute(sql`ANALYZE`);
}

/**
 * What one call's webhooks cost the server, measured in-process (no HTTP, no client sharing the
 * CPU), one call after another: SQL statements and CPU time per incoming-call, gather (key 0: the
 * caller is queued) and announcement webhook. On a shared machine these move far less than
 * latencies do, so they are what `bench voice` figures are best read against.
 */
const CALLS = Number(process.env.VOICE_COST_CALLS ?? 200);
/**
 * History put behind the demo line after the calls: handled work items before the announcements are
 * measured a second time, then finished calls (three events each) before the housekeeping passes.
 */
const HISTORY = Number(process.env.VOICE_COST_HISTORY ?? 100_000);
const NUMBER = "+15005550006";
const TOKEN = "demo-twilio-token";
const BASE = "http://localhost";

type Cost = { statements: number; cpuUs: number; ms: number };

export async function benchVoiceCost({ json }: { json: boolean }) {
  setLogLevel("warn");
  const drivers = await onEachDriver(measure);
  if (json) console.log(JSON.stringify({ drivers }));
  else
    for (const [driver, r] of Object.entries(drivers) as [
      Driver,
      Awaited<ReturnType<typeof measure>> | { skipped: string },
    ][]) {
      if ("skipped" in r) {
        console.log(`${driver}: skipped (${r.skipped})`);
        continue;
      }
      console.log(`\n${driver}: ${CALLS} calls one after another, in-process`);
      const names: Record<string, string> = {
        announcementWithHistory: `announcement, ${r.history.toLocaleString("en")} handled calls in history`,
      };
      for (const [name, c] of Object.entries(r.webhooks))
        console.log(
          `  ${(names[name] ?? name).padEnd(13)} ${c.statements.toFixed(1).padStart(5)} statements   ${c.cpuMs.toFixed(2).padStart(6)} ms CPU   wall p50 ${c.p50Ms.toFixed(2)} ms`,
        );
      console.log(
        `  per call, with the work after the answers (routing passes): ${r.perCall.statements.toFixed(1)} statements, ${r.perCall.cpuMs.toFixed(2)} ms CPU`,
      );
      console.log(
        `  housekeeping pass with ${r.history.toLocaleString("en")} calls and ${(3 * r.history).toLocaleString("en")} events in history: ${r.housekeepingMs.join(" / ")} ms (three passes in a row)`,
      );
    }
}

async function measure(target: Target) {
  const config = parseConfig({
    ...target.env,
    DATABASE_URL: target.env.DATABASE_URL ?? "",
    SECRET_KEY: "voice-cost-secret-key-long-enough-0123456789",
    LOG_LEVEL: "warn",
    SWITCHBOARD_DEMO: "1",
  });
  const rt = await createRuntime(config);
  try {
    await seedDemo(rt);
    const app = createApp(rt);
    rt.router.start();
    // Counts every statement, transactions' included: drizzle hands its logger to each session.
    let statements = 0;
    const logger = { logQuery: () => void statements++ };
    const session = (rt.core.db as unknown as { session: { logger: unknown; options: { logger?: unknown } } }).session;
    session.logger = logger;
    session.options.logger = logger;

    const post = async (path: string, params: Record<string, string>) => {
      const url = `${BASE}${path}`;
      const res = await app.request(url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          "x-twilio-signature": twilioSignature(TOKEN, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${path}: ${res.status} ${body.slice(0, 200)}`);
      return body;
    };
    const costs = {
      incoming: [] as Cost[],
      gather: [] as Cost[],
      announcement: [] as Cost[],
      announcementWithHistory: [] as Cost[],
    };
    const measured = async (into: Cost[] | undefined, work: () => Promise<string>) => {
      const [s0, c0, t0] = [statements, process.cpuUsage(), performance.now()];
      const out = await work();
      const c = process.cpuUsage(c0);
      into?.push({ statements: statements - s0, cpuUs: c.user + c.system, ms: performance.now() - t0 });
      return out;
    };
    // Each measured caller's announcement: asked again once there is history.
    const announcements: (() => Promise<string>)[] = [];
    const call = async (n: number, record: boolean) => {
      const params = {
        CallSid: `CA${n.toString(16).padStart(32, "0")}`,
        From: `+86139${String(n).padStart(8, "0")}`,
        To: NUMBER,
        CallStatus: "ringing",
      };
      const first = await measured(record ? costs.incoming : undefined, () => post("/webhooks/twilio/voice", params));
      const action = /<Gather[^>]*\saction="([^"]+)"/.exec(first)?.[1]?.replace(/&amp;/g, "&");
      if (!action) throw new Error("no gather in the answer");
      const second = await measured(record ? costs.gather : undefined, () =>
        post(action, { ...params, CallStatus: "in-progress", Digits: "0" }),
      );
      const wait = /<Redirect[^>]*>([^<]+)<\/Redirect>/.exec(second)?.[1]?.replace(/&amp;/g, "&");
      if (!wait) throw new Error("caller was not queued");
      const announce = () => post(wait, { ...params, CallStatus: "in-progress" });
      if (record) announcements.push(announce);
      await measured(record ? costs.announcement : undefined, announce);
    };

    // Warm-up: the first calls pay for compiling code and queries.
    for (let n = 0; n < 20; n++) await call(1_000_000 + n, false);
    const [s0, c0] = [statements, process.cpuUsage()];
    for (let n = 1; n <= CALLS; n++) await call(n, true);
    // The routing passes the queued callers started run after the answers: counted per call too.
    await Bun.sleep(1000);
    const c = process.cpuUsage(c0);

    // A center that has run for a while: the same callers' announcements again, once the queue has
    // HISTORY handled calls behind it (their handle times feed every estimated wait).
    await addHandledHistory(rt.core.db, HISTORY);
    for (const announce of announcements) await measured(costs.announcementWithHistory, announce);

    // The node's 30-second chores over a history: as many calls, three events each.
    await addCallHistory(rt.core.db, HISTORY);
    const chores: number[] = [];
    // The first pass also catches up on what the bulk insert left for it (summarizing the new pages
    // of the events' age index); the later ones are what every 30 s costs.
    for (let n = 0; n < 3; n++) {
      const t0 = performance.now();
      await housekeep(rt);
      chores.push(performance.now() - t0);
    }

    const avg = (xs: Cost[], k: keyof Cost) => xs.reduce((a, x) => a + x[k], 0) / xs.length;
    const p50 = (xs: Cost[]) => [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)]!.ms;
    const webhooks = Object.fromEntries(
      Object.entries(costs).map(([k, xs]) => [
        k,
        { statements: avg(xs, "statements"), cpuMs: avg(xs, "cpuUs") / 1000, p50Ms: p50(xs) },
      ]),
    );
    return {
      calls: CALLS,
      history: HISTORY,
      housekeepingMs: chores.map((ms) => Math.round(ms * 10) / 10),
      webhooks,
      perCall: { statements: (statements - s0) / CALLS, cpuMs: (c.user + c.system) / 1000 / CALLS },
    };
  } finally {
    await rt.close();
  }
}
