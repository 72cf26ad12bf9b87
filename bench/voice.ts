import { loadavg } from "node:os";
import { twilioSignature } from "../channels/voice/verify.ts";
import { onEachDriver, type Driver, type Target } from "./harness/database.ts";
import { scrapeMetrics } from "./harness/metrics.ts";
import { startServer } from "./harness/server.ts";
import { summarize } from "./harness/stats.ts";
import { cpuSeconds, rssMb } from "./harness/usage.ts";

/**
 * Voice webhooks against the server in its own process, on the demo's phone line (+15005550006,
 * signed with the demo token, as Twilio would):
 * 1. TwiML answer latency at a fixed 200 requests/s: each new call's incoming webhook, then its
 *    gather result (key 0: the caller is queued, with the routing work that takes). Two seconds of
 *    the same load come first as a warm-up, reported apart.
 * 2. Everyone from part 1 and the warm-up is then waiting in the queue (the demo's agents are
 *    offline): every caller's music ends in turn and their next announcement (position and
 *    estimated wait) is fetched, at the rate announcements every 30 s would make for that many.
 */
const RATE = 200; // requests per second, incoming and gathers together
const RUN_S = 12;
const WARM_UP_S = 2;
const ANNOUNCE_EVERY_S = 30;
const ANNOUNCE_RUN_S = 30;
const TARGET_P99_MS = 20;
const TARGET_QUEUED = 1000;
const NUMBER = "+15005550006";
const TOKEN = "demo-twilio-token";

export async function benchVoice({ json }: { json: boolean }) {
  const drivers = await onEachDriver(measure);
  if (json) console.log(JSON.stringify({ drivers }));
  else print(drivers as Record<Driver, Awaited<ReturnType<typeof measure>>>);
}

async function post(url: string, params: Record<string, string>) {
  const started = performance.now();
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      "x-twilio-signature": twilioSignature(TOKEN, url, params),
    },
    body: new URLSearchParams(params).toString(),
  });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${body.slice(0, 200)}`);
  return { ms: performance.now() - started, body };
}

const attr = (xml: string, verb: string, name: string) =>
  new RegExp(`<${verb}[^>]*\\s${name}="([^"]+)"`).exec(xml)?.[1]?.replace(/&amp;/g, "&");
const sid = (n: number) => `CA${n.toString(16).padStart(32, "0")}`;
/**
 * What the server's Prometheus metrics say, read once: its batches of call writes; how many voice
 * webhooks it answered, and within 20 ms of their handler starting; how many of its 100 ms
 * event-loop samples ran more than 20 ms late.
 */
async function serverCounters(url: string) {
  const { counter: read, sum } = await scrapeMetrics(url);
  const webhook = `switchboard_http_request_duration_seconds_bucket\\{method="POST",route="/webhooks/twilio/voice(?:/:step)?",status="200",le="`;
  return {
    batches: read("switchboard_voice_batches_total"),
    steps: read("switchboard_voice_batch_steps_total"),
    fallbacks: read("switchboard_voice_batch_fallbacks_total"),
    webhooks: sum(new RegExp(`^${webhook}\\+Inf"\\} (\\d+)`, "gm")),
    webhooksWithin20ms: sum(new RegExp(`^${webhook}0\\.02"\\} (\\d+)`, "gm")),
    lagSamples: sum(/^switchboard_event_loop_lag_seconds_bucket\{le="\+Inf"\} (\d+)/gm),
    lagSamplesWithin20ms: sum(/^switchboard_event_loop_lag_seconds_bucket\{le="0\.02"\} (\d+)/gm),
  };
}

async function measure(target: Target) {
  const server = await startServer(target);
  try {
    const base = server.url;
    const waitUrls: string[] = [];
    const errors: string[] = [];
    /** Calls `first`…`first + count - 1` at the fixed rate: each one's incoming webhook, then its gather. */
    async function drive(first: number, count: number) {
      const incoming: number[] = [];
      const gathers: number[] = [];
      const started = performance.now();
      const inFlight: Promise<void>[] = [];
      for (let n = 0; n < count; n++) {
        const due = started + (n * 1000 * 2) / RATE;
        const wait = due - performance.now();
        if (wait > 0) await Bun.sleep(wait);
        const call = first + n;
        inFlight.push(
          (async () => {
            const params = {
              CallSid: sid(call + 1),
              From: `+86139${String(call).padStart(8, "0")}`,
              To: NUMBER,
              CallStatus: "ringing",
            };
            const answer = await post(`${base}/webhooks/twilio/voice`, params);
            incoming.push(answer.ms);
            const action = attr(answer.body, "Gather", "action");
            if (!action) throw new Error("no gather in the answer");
            const second = await post(new URL(action, base).toString(), {
              ...params,
              CallStatus: "in-progress",
              Digits: "0",
            });
            gathers.push(second.ms);
            const wait = /<Redirect[^>]*>([^<]+)<\/Redirect>/.exec(second.body)?.[1]?.replace(/&amp;/g, "&");
            if (!wait) throw new Error("caller was not queued");
            waitUrls.push(new URL(wait, base).toString());
          })().catch((err: unknown) => void errors.push(err instanceof Error ? err.message : String(err))),
        );
      }
      await Promise.all(inFlight);
      return { incoming, gathers, seconds: (performance.now() - started) / 1000 };
    }
    // Warm-up at the full rate, not in the figures: the server compiles its hot code, and each pooled
    // connection prepares the statements it is sent, as on any server that has been up a while.
    const warmUpCalls = (RATE / 2) * WARM_UP_S;
    const warmUp = await drive(0, warmUpCalls);

    const calls = (RATE / 2) * RUN_S;
    const loadBefore = loadavg()[0]!;
    const cpuBefore = cpuSeconds(server.pid);
    const before = await serverCounters(base);
    const { incoming, gathers, seconds: answerSeconds } = await drive(warmUpCalls, calls);
    // The server's own CPU per webhook (on PostgreSQL the database's processes come on top).
    const serverCpuMsPerWebhook = ((cpuSeconds(server.pid) - cpuBefore) * 1000) / (incoming.length + gathers.length);
    const after = await serverCounters(base);
    const share = (part: number, whole: number) => (whole ? Math.round((1000 * part) / whole) / 10 : 0);
    const inServer = {
      // Inside the server, from handler start to answer: what the server itself adds.
      webhooksWithin20msPercent: share(
        after.webhooksWithin20ms - before.webhooksWithin20ms,
        after.webhooks - before.webhooks,
      ),
      // Before a handler starts: a request arriving during a stalled event loop waits for it.
      eventLoopLateOver20msPercent:
        100 - share(after.lagSamplesWithin20ms - before.lagSamplesWithin20ms, after.lagSamples - before.lagSamples),
    };
    const loadAfter = loadavg()[0]!;
    const rssAfterCalls = rssMb(server.pid);

    // Part 2: everybody waits; announcements come round at the rate 30-second rounds make.
    const queued = waitUrls.length;
    const announceRate = queued / ANNOUNCE_EVERY_S;
    const announcements: number[] = [];
    const positions: number[] = [];
    const total = Math.round(announceRate * ANNOUNCE_RUN_S);
    const t0 = performance.now();
    const round: Promise<void>[] = [];
    for (let n = 0; n < total; n++) {
      const due = t0 + (n * 1000) / announceRate;
      const wait = due - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      const url = waitUrls[n % queued]!;
      const callSid = sid((n % queued) + 1);
      round.push(
        post(url, { CallSid: callSid, From: "+8613900000000", To: NUMBER, CallStatus: "in-progress" })
          .then((r) => {
            announcements.push(r.ms);
            const pos = /您排在第(\d+)位/.exec(r.body)?.[1];
            if (pos) positions.push(Number(pos));
            else if (!r.body.includes("下一位就是您")) errors.push("announcement without a position");
          })
          .catch((err: unknown) => void errors.push(err instanceof Error ? err.message : String(err))),
      );
    }
    await Promise.all(round);
    return {
      calls,
      answerSeconds: Math.round(answerSeconds * 10) / 10,
      offeredRate: RATE,
      serverCpuMsPerWebhook: Math.round(serverCpuMsPerWebhook * 100) / 100,
      stepsPerBatch: Math.round(((after.steps - before.steps) / Math.max(1, after.batches - before.batches)) * 10) / 10,
      batchFallbacks: after.fallbacks - before.fallbacks,
      inServer,
      loadAverage: [Math.round(loadBefore * 100) / 100, Math.round(loadAfter * 100) / 100],
      warmUp: {
        calls: warmUp.incoming.length,
        incoming: summarize(warmUp.incoming),
        gather: summarize(warmUp.gathers),
      },
      incoming: summarize(incoming),
      gather: summarize(gathers),
      queued,
      announcementRate: Math.round(announceRate * 10) / 10,
      announcements: summarize(announcements),
      highestPosition: positions.length ? Math.max(...positions) : 0,
      serverRssMb: Math.round(rssMb(server.pid)),
      serverRssAfterCallsMb: Math.round(rssAfterCalls),
      errors: errors.length,
      firstError: errors[0] ?? null,
    };
  } finally {
    await server.stop();
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
      `\n${driver}: ${r.calls} calls at ${r.offeredRate} webhooks/s (answered in ${r.answerSeconds} s), ${r.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ""}`,
    );
    console.log(
      `  warm-up before them, not in the figures: ${r.warmUp.calls} calls at the same rate, incoming p50 ${f(r.warmUp.incoming.p50)} / p99 ${f(r.warmUp.incoming.p99)} ms, gather p50 ${f(r.warmUp.gather.p50)} / p99 ${f(r.warmUp.gather.p99)} ms`,
    );
    console.log(
      `  load average ${r.loadAverage[0]} → ${r.loadAverage[1]}; server CPU ${f(r.serverCpuMsPerWebhook)} ms per webhook; ${r.stepsPerBatch} call writes per batch (${r.batchFallbacks} batches retried one by one)`,
    );
    console.log(
      `  incoming call TwiML   p50 ${f(r.incoming.p50)} ms   p99 ${f(r.incoming.p99)} ms   max ${f(r.incoming.max)} ms   (target p99 < ${TARGET_P99_MS} ms)`,
    );
    console.log(
      `  gather → queue TwiML  p50 ${f(r.gather.p50)} ms   p99 ${f(r.gather.p99)} ms   max ${f(r.gather.max)} ms`,
    );
    const late = Math.round(r.inServer.eventLoopLateOver20msPercent * 10) / 10;
    console.log(
      `  inside the server: ${r.inServer.webhooksWithin20msPercent}% of these webhooks answered within 20 ms of their handler starting; event loop more than 20 ms late in ${late}% of its 100 ms samples`,
    );
    console.log(
      `  ${r.queued} callers waiting in queue at once (target ≥ ${TARGET_QUEUED}); highest position announced ${r.highestPosition}`,
    );
    console.log(
      `  announcements at ${r.announcementRate}/s: p50 ${f(r.announcements.p50)} ms   p99 ${f(r.announcements.p99)} ms   max ${f(r.announcements.max)} ms`,
    );
    console.log(`  server RSS ${r.serverRssAfterCallsMb} MB after the calls, ${r.serverRssMb} MB at the end`);
  }
}
