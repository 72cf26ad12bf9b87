import { loadavg } from "node:os";
import { and, count, eq } from "drizzle-orm";
import { encryptMessage } from "../channels/wechat/crypto.ts";
import { wechatSetupOf } from "../channels/wechat/setup.ts";
import { messageSignature } from "../channels/wechat/verify.ts";
import { readCredentials } from "../conversations/inbox.ts";
import { inboxes, timelineItems } from "../db/schema/index.ts";
import { DEMO_WECHAT } from "../apps/demo/seed.ts";
import { SeenNonces } from "../apps/gateway/wechat/nonces.ts";
import { Keyring, randomToken } from "../platform/crypto.ts";
import { onEachDriver, type Driver, type Target } from "./harness/database.ts";
import { scrapeMetrics } from "./harness/metrics.ts";
import { closedLoop, openLoop } from "./harness/load.ts";
import { startServer } from "./harness/server.ts";
import { summarize } from "./harness/stats.ts";
import { cpuSeconds, rssMb } from "./harness/usage.ts";

/**
 * WeChat Official Account pushes against the server in its own process, into the demo's inbox
 * ("WeChat 公众号", compatible mode), each a text message from one of 500 customers, encrypted and
 * signed in safe mode as WeChat does (AES-256-CBC, msg_signature). Every push is answered `success`
 * only after its message is committed, so each answer counts one timeline item.
 * 1. A steady 100 pushes/s for 10 s: answer time p50/p99/max and the server's CPU per push. Before it,
 *    at the same rate, a warm-up reported apart: each customer's first message, which opens a
 *    conversation, queues it and sends the queue's wait notice back through WeChat (a local stand-in).
 * 2. The highest sustained rate: 32 senders, each sending its next push as soon as the last is
 *    answered, for 5 s.
 * 3. Afterwards, with the server stopped, the committed items are counted, and the webhook's own
 *    database work is timed in this process: the inbox lookup (select and unseal) and the nonce claim,
 *    each 1,000 times, to set beside the CPU per push.
 */
const RATE = 100;
const CUSTOMERS = 500;
const RUN_S = 10;
/** The warm-up: each customer's first message, opening their conversation (and its wait notice). */
const WARM_UP_S = CUSTOMERS / RATE;
const SENDERS = 32;
const MAX_RUN_S = 5;
const TARGET_P99_MS = 50;
const LOOKUPS = 1000;
/** Seconds the node is watched doing nothing but its own upkeep, between the warm-up and the steady phase. */
const IDLE_S = 5;

export async function benchWechat({ json }: { json: boolean }) {
  const drivers = await onEachDriver(measure);
  if (json) console.log(JSON.stringify({ drivers }));
  else print(drivers as Record<Driver, Awaited<ReturnType<typeof measure>>>);
}

/** One push, ready to send: the URL with its signature and the encrypted body. */
type Push = { url: string; body: string };

/** Pushes are prepared before a phase, so the benchmark's own AES work does not share the phase's CPU. */
function preparePushes(webhook: string, first: number, n: number, runTag: string): Push[] {
  const pushes: Push[] = [];
  for (let i = first; i < first + n; i++) {
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = `${runTag}${i}`;
    const openId = `oBench${String(i % CUSTOMERS).padStart(22, "0")}`;
    const xml =
      `<xml><ToUserName><![CDATA[gh_demo]]></ToUserName><FromUserName><![CDATA[${openId}]]></FromUserName>` +
      `<CreateTime>${timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
      `<Content><![CDATA[您好，我想查询订单 ${i} 的物流]]></Content><MsgId>${runTag}${String(i).padStart(8, "0")}</MsgId></xml>`;
    const encrypt = encryptMessage(DEMO_WECHAT.encodingAesKey, xml, DEMO_WECHAT.appId);
    const signature = messageSignature(DEMO_WECHAT.token, timestamp, nonce, encrypt);
    pushes.push({
      url: `${webhook}?timestamp=${timestamp}&nonce=${nonce}&encrypt_type=aes&msg_signature=${signature}&openid=${openId}`,
      body: `<xml><ToUserName><![CDATA[gh_demo]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
    });
  }
  return pushes;
}

async function send(push: Push) {
  const started = performance.now();
  const res = await fetch(push.url, { method: "POST", headers: { "content-type": "text/xml" }, body: push.body });
  const text = await res.text();
  if (res.status !== 200 || text !== "success") throw new Error(`${res.status} ${text.slice(0, 200)}`);
  return performance.now() - started;
}

/**
 * WeChat's API for the replies the product sends on its own (the queue's wait notice): tokens and
 * custom/send answered at once, so the run measures the product and not a retrying outbox.
 */
function startWechatStandIn() {
  const standIn = { sends: 0, port: 0, stop: (_force: boolean) => {} };
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      if (path.endsWith("token")) return Response.json({ access_token: "bench-token", expires_in: 7200 });
      // The wait notices (custom/send), not the follow-ups' lookups of each new customer (user/info).
      if (path.endsWith("custom/send")) standIn.sends++;
      return Response.json({ errcode: 0, errmsg: "ok" });
    },
  });
  standIn.port = server.port!;
  standIn.stop = (force) => void server.stop(force);
  return standIn;
}

async function measure(target: Target) {
  const standIn = startWechatStandIn();
  const server = await startServer({
    ...target,
    env: { ...target.env, WECHAT_API_BASE: `http://127.0.0.1:${standIn.port}` },
  }).catch((err: unknown) => {
    standIn.stop(true);
    throw err;
  });
  const runTag = String(Date.now() % 1e9);
  const errors: string[] = [];
  const fail = (err: unknown) => void errors.push(err instanceof Error ? err.message : String(err));
  let inboxId: string;
  let sent = 0;
  let steady: number[];
  let warmUp: number[];
  let cpuMsPerPush: number;
  let idleCpuMsPerS: number;
  let loadAverage: number[];
  let max: { pushes: number; seconds: number; latencies: number[]; cpuMsPerPush: number };
  let serverRssMb = 0;
  try {
    const list = (await (
      await fetch(`${server.url}/api/v1/inboxes`, { headers: { authorization: `Bearer ${server.agentToken}` } })
    ).json()) as { items: { id: string; channel: string; appId?: string; webhookUrl?: string }[] };
    const inbox = list.items.find((i) => i.channel === "wechat" && i.appId === DEMO_WECHAT.appId);
    if (!inbox?.webhookUrl) throw new Error("the demo has no WeChat Official Account inbox");
    inboxId = inbox.id;
    const webhook = `${server.url}/webhooks/wechat/${inbox.id}`;

    /** Open loop at RATE: each push leaves at its time whether or not earlier ones were answered. */
    function steadyRun(seconds: number) {
      const pushes = preparePushes(webhook, sent, RATE * seconds, runTag);
      sent += pushes.length;
      return openLoop(pushes, RATE, send, fail);
    }

    warmUp = await steadyRun(WARM_UP_S);
    // The warm-up's conversations are routed and their wait notices sent after the answers: let that
    // finish (every customer's notice received by the stand-in, the outbox empty) so the idle and steady
    // figures are their own. The outbox alone empties between router passes while notices are still
    // being written, and the idle phase then measured the rest of them.
    for (let waited = 0; waited < 60_000; waited += 200) {
      const done = standIn.sends >= CUSTOMERS;
      if (done && (await scrapeMetrics(server.url)).counter("switchboard_outbox_backlog") === 0) break;
      await Bun.sleep(200);
    }
    // What the node spends with the warm-up's conversations waiting and no pushes coming (router ticks,
    // timers): the floor under the steady phase's CPU per push.
    const idleCpuBefore = cpuSeconds(server.pid);
    await Bun.sleep(IDLE_S * 1000);
    idleCpuMsPerS = ((cpuSeconds(server.pid) - idleCpuBefore) * 1000) / IDLE_S;
    const load = loadavg()[0]!;
    const cpuBefore = cpuSeconds(server.pid);
    steady = await steadyRun(RUN_S);
    cpuMsPerPush = ((cpuSeconds(server.pid) - cpuBefore) * 1000) / Math.max(1, steady.length);
    loadAverage = [load, loadavg()[0]!];

    // Closed loop: as fast as the server answers.
    const pushes = preparePushes(webhook, sent, 600 * MAX_RUN_S, runTag);
    const maxCpuBefore = cpuSeconds(server.pid);
    const { latencies, taken, seconds } = await closedLoop(pushes, SENDERS, MAX_RUN_S, send, fail);
    sent += taken;
    max = {
      pushes: latencies.length,
      seconds,
      latencies,
      cpuMsPerPush: ((cpuSeconds(server.pid) - maxCpuBefore) * 1000) / Math.max(1, latencies.length),
    };
  } finally {
    serverRssMb = Math.round(rssMb(server.pid));
    await server.stop();
    standIn.stop(true);
  }

  // The server is stopped (PGlite: one process at a time): count what it committed, then time the
  // webhook's own database work in this process.
  const database = await target.open();
  try {
    const [committed] = await database.db
      .select({ n: count() })
      .from(timelineItems)
      .where(and(eq(timelineItems.inboxId, inboxId!), eq(timelineItems.direction, "in")));
    // The server's key stays in the server: the same credentials sealed under a key of our own cost the same.
    const keyring = new Keyring(randomToken(36));
    const sealed = keyring.seal(JSON.stringify({ ...DEMO_WECHAT }));
    const lookups: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) {
      const t = performance.now();
      const [row] = await database.db.select().from(inboxes).where(eq(inboxes.id, inboxId!));
      wechatSetupOf(row!.settings, readCredentials(keyring, { ...row!, credentials: sealed }));
      lookups.push(performance.now() - t);
    }
    const nonces = new SeenNonces(database.db);
    const claims: number[] = [];
    for (let i = 0; i < LOOKUPS; i++) {
      const t = performance.now();
      await nonces.claim(inboxId!, `lookup-${runTag}-${i}`, Date.now());
      claims.push(performance.now() - t);
    }
    const r2 = (n: number) => Math.round(n * 100) / 100;
    return {
      pushesSent: sent,
      committedItems: Number(committed?.n ?? 0),
      errors: errors.length,
      firstError: errors[0] ?? null,
      offeredRate: RATE,
      warmUp: summarize(warmUp!),
      steady: summarize(steady!),
      serverCpuMsPerPush: r2(cpuMsPerPush!),
      idleServerCpuMsPerS: r2(idleCpuMsPerS!),
      loadAverage: loadAverage!.map(r2),
      maxSustained: {
        senders: SENDERS,
        pushesPerSecond: Math.round(max!.pushes / max!.seconds),
        latency: summarize(max!.latencies),
        serverCpuMsPerPush: r2(max!.cpuMsPerPush),
      },
      inProcess: {
        inboxLookupMs: { p50: r2(summarize(lookups).p50), p99: r2(summarize(lookups).p99) },
        nonceClaimMs: { p50: r2(summarize(claims).p50), p99: r2(summarize(claims).p99) },
      },
      serverRssMb,
    };
  } finally {
    await database.close();
  }
}

function print(drivers: Record<Driver, Awaited<ReturnType<typeof measure>> | { skipped: string }>) {
  const f = (n: number) => n.toFixed(1);
  for (const [driver, r] of Object.entries(drivers)) {
    if ("skipped" in r) {
      console.log(`${driver}: skipped (${r.skipped})`);
      continue;
    }
    console.log(
      `\n${driver}: ${r.pushesSent} safe-mode pushes, ${r.committedItems} timeline items committed, ${r.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ""}`,
    );
    console.log(
      `  warm-up, not in the figures: ${r.warmUp.count} first messages (new conversations) at ${r.offeredRate}/s, p50 ${f(r.warmUp.p50)} / p99 ${f(r.warmUp.p99)} ms`,
    );
    console.log(
      `  steady ${r.offeredRate} pushes/s: answer p50 ${f(r.steady.p50)} ms   p99 ${f(r.steady.p99)} ms   max ${f(r.steady.max)} ms   (target p99 < ${TARGET_P99_MS} ms); server CPU ${r.serverCpuMsPerPush} ms per push; load ${r.loadAverage.join(" → ")}`,
    );
    console.log(
      `  idle (${CUSTOMERS} conversations waiting, no pushes): server CPU ${r.idleServerCpuMsPerS} ms per second`,
    );
    const m = r.maxSustained;
    console.log(
      `  max sustained (${m.senders} senders, closed loop): ${m.pushesPerSecond} pushes/s, p50 ${f(m.latency.p50)} / p99 ${f(m.latency.p99)} ms, server CPU ${m.serverCpuMsPerPush} ms per push`,
    );
    console.log(
      `  in-process, per push: inbox lookup (select + unseal) p50 ${r.inProcess.inboxLookupMs.p50} / p99 ${r.inProcess.inboxLookupMs.p99} ms; nonce claim (INSERT … ON CONFLICT) p50 ${r.inProcess.nonceClaimMs.p50} / p99 ${r.inProcess.nonceClaimMs.p99} ms`,
    );
    console.log(`  server memory after the run: ${r.serverRssMb} MB`);
  }
}
