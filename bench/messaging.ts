import { createHmac } from "node:crypto";
import { loadavg } from "node:os";
import { and, count, eq } from "drizzle-orm";
import { twilioSignature } from "../channels/voice/verify.ts";
import { timelineItems } from "../db/schema/index.ts";
import { onEachDriver, type Driver, type Target } from "./harness/database.ts";
import { closedLoop, openLoop } from "./harness/load.ts";
import { startServer } from "./harness/server.ts";
import { summarize } from "./harness/stats.ts";
import { cpuSeconds, rssMb } from "./harness/usage.ts";

/**
 * Signed inbound webhooks of each messaging channel against the server in its own process, into the
 * demo's inboxes, signed as each provider signs (Twilio's X-Twilio-Signature for SMS and WhatsApp,
 * Slack's v0 HMAC, Telegram's secret-token header, the API channel's inbox token). Every answer comes
 * after the message is committed, so each answer counts one timeline item. Per channel:
 * 1. A warm-up, reported apart: each of 500 customers' first message, which opens a conversation and
 *    queues it (and, on SMS, WhatsApp and Telegram, sends the queue's wait notice to a local stand-in of
 *    the provider's API).
 * 2. A steady 200 webhooks/s for 10 s, open loop: answer time p50/p99/max and the server's CPU per webhook.
 * 3. The highest sustained rate: 32 senders in a closed loop for 5 s.
 * Then outgoing webhooks: one registered for message.created to a local receiver that checks every
 * signature, and a burst of API-channel messages: deliveries per second from the first to the last.
 */
const RATE = 200;
const CUSTOMERS = 500;
const RUN_S = 10;
const SENDERS = 32;
const MAX_RUN_S = 5;
const TARGET_P99_MS = 50;
const DELIVERY_BURST = 2000;

const DEMO_TWILIO = { accountSid: "AC00000000000000000000000000000000", authToken: "demo-twilio-token" };
const DEMO_SLACK = { teamId: "T0DEMO0001", signingSecret: "demo-slack-signing-secret" };
const DEMO_TELEGRAM_SECRET = "demo-telegram-secret";

type Request = { url: string; headers: Record<string, string>; body: string; expect: (status: number) => boolean };
type Channel = "sms" | "whatsapp" | "slack" | "telegram" | "api";
type ListedInbox = { id: string; channel: string; phoneNumber?: string; teamId?: string };

export async function benchMessaging({ json }: { json: boolean }) {
  const drivers = await onEachDriver(measure);
  if (json) console.log(JSON.stringify({ drivers }));
  else print(drivers as Record<Driver, Awaited<ReturnType<typeof measure>>>);
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/**
 * The i-th message of `customer` on a channel, signed. A customer's first message opens their
 * conversation; on Slack the later ones are replies in its thread (a top-level message is a new
 * conversation there).
 */
function requestFor(
  channel: Channel,
  base: string,
  inbox: ListedInbox & { token?: string },
  i: number,
  tag: string,
): Request {
  const customer = i % CUSTOMERS;
  const text = `您好，我想查询订单 ${i} 的物流 / where is order ${i}?`;
  const ok = (s: number) => s >= 200 && s < 300;
  if (channel === "sms" || channel === "whatsapp") {
    const url = `${base}/webhooks/twilio/messaging`;
    const wa = channel === "whatsapp" ? "whatsapp:" : "";
    const params: Record<string, string> = {
      AccountSid: DEMO_TWILIO.accountSid,
      MessageSid: `SM${tag}${hex(i, 32 - tag.length)}`,
      From: `${wa}+1555${String(customer).padStart(7, "0")}`,
      To: `${wa}${inbox.phoneNumber}`,
      Body: text,
      NumMedia: "0",
      ...(wa ? { ProfileName: `Customer ${customer}` } : {}),
    };
    return {
      url,
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": twilioSignature(DEMO_TWILIO.authToken, url, params),
      },
      body: new URLSearchParams(params).toString(),
      expect: ok,
    };
  }
  if (channel === "slack") {
    const first = i < CUSTOMERS;
    const rootTs = `1700000000.${String(customer).padStart(6, "0")}`;
    const event = {
      type: "message",
      channel: `C${tag.toUpperCase()}${String(customer).padStart(6, "0")}`,
      user: `U${String(customer).padStart(8, "0")}`,
      text,
      ts: first ? rootTs : `1700000001.${String(i).padStart(6, "0")}`,
      ...(first ? {} : { thread_ts: rootTs }),
      channel_type: "channel",
    };
    const body = JSON.stringify({
      type: "event_callback",
      team_id: DEMO_SLACK.teamId,
      api_app_id: "A0DEMO0001",
      event,
      event_id: `Ev${tag}${String(i).padStart(10, "0")}`,
      event_time: Math.floor(Date.now() / 1000),
    });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const signature = `v0=${createHmac("sha256", DEMO_SLACK.signingSecret).update(`v0:${timestamp}:${body}`).digest("hex")}`;
    return {
      url: `${base}/webhooks/slack/events`,
      headers: {
        "content-type": "application/json",
        "x-slack-request-timestamp": timestamp,
        "x-slack-signature": signature,
      },
      body,
      expect: ok,
    };
  }
  if (channel === "telegram") {
    const userId = 700_000_000 + customer;
    return {
      url: `${base}/webhooks/telegram/${inbox.id}`,
      headers: { "content-type": "application/json", "x-telegram-bot-api-secret-token": DEMO_TELEGRAM_SECRET },
      body: JSON.stringify({
        update_id: 100_000_000 + i,
        message: {
          message_id: i + 1,
          from: { id: userId, is_bot: false, first_name: `Customer ${customer}`, language_code: "zh-hans" },
          chat: { id: userId, type: "private", first_name: `Customer ${customer}` },
          date: Math.floor(Date.now() / 1000),
          text,
        },
      }),
      expect: ok,
    };
  }
  return {
    url: `${base}/api/v1/inboxes/${inbox.id}/messages`,
    headers: { "content-type": "application/json", authorization: `Bearer ${inbox.token}` },
    body: JSON.stringify({
      contact: { identifier: `customer-${customer}`, name: `Customer ${customer}` },
      text,
      externalId: `${tag}-${i}`,
    }),
    expect: (s: number) => s === 201 || s === 200,
  };
}

async function send(r: Request) {
  const started = performance.now();
  const res = await fetch(r.url, { method: "POST", headers: r.headers, body: r.body });
  const text = await res.text();
  if (!r.expect(res.status)) throw new Error(`${res.status} ${text.slice(0, 200)}`);
  return performance.now() - started;
}

/**
 * One stand-in for the three providers' APIs (the server's TWILIO_API_BASE, SLACK_API_BASE and
 * TELEGRAM_API_BASE all point here): every call answered at once with what the provider answers, so the
 * run measures the product and not a retrying outbox. It also receives the outgoing webhooks, checking
 * each signature.
 */
function startStandIn() {
  const state = {
    port: 0,
    providerCalls: 0,
    deliveries: [] as number[],
    badSignatures: 0,
    webhookSecret: "",
    stop: () => {},
  };
  let n = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/hook") {
        const body = await req.text();
        const timestamp = req.headers.get("x-switchboard-timestamp") ?? "";
        const expected = `sha256=${createHmac("sha256", state.webhookSecret).update(`${timestamp}.${body}`).digest("hex")}`;
        if (req.headers.get("x-switchboard-signature") !== expected) state.badSignatures++;
        state.deliveries.push(performance.now());
        return new Response("ok");
      }
      state.providerCalls++;
      n++;
      if (path.includes("/Messages.json"))
        return Response.json({ sid: `SM${hex(n, 32)}`, status: "queued" }, { status: 201 });
      if (path.startsWith("/api/")) return Response.json({ ok: true, channel: "C0", ts: `1800000000.${n}` });
      // Telegram numbers a private chat's messages in both directions together: the bot's replies get
      // ids the customers' messages (1, 2, 3… here) never take.
      if (path.startsWith("/bot"))
        return Response.json({
          ok: true,
          result: { message_id: 1_000_000_000 + n, date: 0, chat: { id: 1, type: "private" } },
        });
      return Response.json({});
    },
  });
  state.port = server.port!;
  state.stop = () => void server.stop(true);
  return state;
}

// BENCH_CHANNELS=slack,api measures some channels only, e.g. while profiling.
const CHANNELS = (["sms", "whatsapp", "slack", "telegram", "api"] as Channel[]).filter(
  (c) => !process.env.BENCH_CHANNELS || process.env.BENCH_CHANNELS.split(",").includes(c),
);

async function measure(target: Target) {
  const standIn = startStandIn();
  const standInUrl = `http://127.0.0.1:${standIn.port}`;
  const server = await startServer({
    ...target,
    env: {
      ...target.env,
      TWILIO_API_BASE: standInUrl,
      SLACK_API_BASE: standInUrl,
      TELEGRAM_API_BASE: standInUrl,
      OUTBOUND_ALLOW_HOSTS: "127.0.0.1",
    },
  }).catch((err: unknown) => {
    standIn.stop();
    throw err;
  });
  const tag = hex(Date.now() % 0xfffff, 5);
  const errors: string[] = [];
  const fail = (err: unknown) => void errors.push(err instanceof Error ? err.message : String(err));
  const admin = { authorization: `Bearer ${server.agentToken}`, "content-type": "application/json" };
  const perChannel: Partial<Record<Channel, ReturnType<typeof channelResult> | { skipped: string }>> = {};
  const inboxOf: Partial<Record<Channel, string>> = {};
  let delivery: { events: number; seconds: number; perSecond: number; badSignatures: number } | { skipped: string };
  let serverRssMb = 0;
  try {
    const list = (await (await fetch(`${server.url}/api/v1/inboxes`, { headers: admin })).json()) as {
      items: ListedInbox[];
    };
    // The API channel's demo inbox token is shown only once: the benchmark makes an inbox of its own.
    const apiInbox = (await (
      await fetch(`${server.url}/api/v1/inboxes`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ name: "Bench API", channel: "api", callbackUrl: `${standInUrl}/callback` }),
      })
    ).json()) as ListedInbox & { token: string };

    for (const channel of CHANNELS) {
      const inbox = channel === "api" ? apiInbox : list.items.find((i) => i.channel === channel);
      if (!inbox) {
        perChannel[channel] = { skipped: "the demo has no inbox of this channel" };
        continue;
      }
      inboxOf[channel] = inbox.id;
      let sent = 0;
      const run = (n: number, rate: number) => {
        const requests = Array.from({ length: n }, (_, k) => requestFor(channel, server.url, inbox, sent + k, tag));
        sent += n;
        return openLoop(requests, rate, send, fail);
      };
      const errorsBefore = errors.length;
      const warmUp = await run(CUSTOMERS, RATE);
      // Let the warm-up's routing and wait notices (sent to the stand-in a pass at a time) finish, so
      // the steady phase measures itself: until the stand-in has heard nothing for 3 s.
      for (let quiet = 0, last = -1, waited = 0; quiet < 3000 && waited < 60_000; waited += 250) {
        await Bun.sleep(250);
        quiet = standIn.providerCalls === last ? quiet + 250 : 0;
        last = standIn.providerCalls;
      }
      const load = loadavg()[0]!;
      const cpuBefore = cpuSeconds(server.pid);
      const steady = await run(RATE * RUN_S, RATE);
      const cpuMsPerWebhook = ((cpuSeconds(server.pid) - cpuBefore) * 1000) / Math.max(1, steady.length);
      const loadAfter = loadavg()[0]!;

      const requests = Array.from({ length: 800 * MAX_RUN_S }, (_, k) =>
        requestFor(channel, server.url, inbox, sent + k, tag),
      );
      const maxCpuBefore = cpuSeconds(server.pid);
      const max = await closedLoop(requests, SENDERS, MAX_RUN_S, send, fail);
      sent += max.taken;
      perChannel[channel] = channelResult({
        sent,
        errors: errors.length - errorsBefore,
        firstError: errors[errorsBefore] ?? null,
        warmUp,
        steady,
        cpuMsPerWebhook,
        load: [load, loadAfter],
        max: {
          latencies: max.latencies,
          seconds: max.seconds,
          cpuMsPerWebhook: ((cpuSeconds(server.pid) - maxCpuBefore) * 1000) / Math.max(1, max.latencies.length),
        },
      });
      await Bun.sleep(2000);
    }

    // Outgoing webhooks: one registered for message.created, then a burst of API-channel messages.
    const hook = (await (
      await fetch(`${server.url}/api/v1/webhooks`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ url: `${standInUrl}/hook`, events: ["message.created"] }),
      })
    ).json()) as { id?: string; secret?: string };
    if (!hook.secret) delivery = { skipped: `could not register a webhook: ${JSON.stringify(hook)}` };
    else {
      standIn.webhookSecret = hook.secret;
      const burst = Array.from({ length: DELIVERY_BURST }, (_, k) =>
        requestFor("api", server.url, apiInbox, 1_000_000 + k, `${tag}d`),
      );
      let next = 0;
      await Promise.all(
        Array.from({ length: SENDERS }, async () => {
          while (next < burst.length) await send(burst[next++]!).catch(fail);
        }),
      );
      for (let waited = 0; waited < 120_000 && standIn.deliveries.length < DELIVERY_BURST; waited += 100)
        await Bun.sleep(100);
      const times = standIn.deliveries;
      const seconds = times.length > 1 ? (times.at(-1)! - times[0]!) / 1000 : NaN;
      delivery = {
        events: times.length,
        seconds: Math.round(seconds * 100) / 100,
        perSecond: Math.round(times.length / seconds),
        badSignatures: standIn.badSignatures,
      };
    }
  } finally {
    serverRssMb = Math.round(rssMb(server.pid));
    await server.stop();
    standIn.stop();
  }

  // With the server stopped (PGlite: one process at a time), count what each channel committed.
  const database = await target.open();
  try {
    const committed: Partial<Record<Channel, number>> = {};
    for (const [channel, inboxId] of Object.entries(inboxOf)) {
      const [row] = await database.db
        .select({ n: count() })
        .from(timelineItems)
        .where(and(eq(timelineItems.inboxId, inboxId), eq(timelineItems.direction, "in")));
      committed[channel as Channel] = Number(row?.n ?? 0);
    }
    return { perChannel, committed, delivery: delivery!, serverRssMb, errors: errors.length };
  } finally {
    await database.close();
  }
}

function channelResult(r: {
  sent: number;
  errors: number;
  firstError: string | null;
  warmUp: number[];
  steady: number[];
  cpuMsPerWebhook: number;
  load: number[];
  max: { latencies: number[]; seconds: number; cpuMsPerWebhook: number };
}) {
  const r2 = (n: number) => Math.round(n * 100) / 100;
  return {
    sent: r.sent,
    errors: r.errors,
    firstError: r.firstError,
    warmUp: summarize(r.warmUp),
    steady: summarize(r.steady),
    serverCpuMsPerWebhook: r2(r.cpuMsPerWebhook),
    loadAverage: r.load.map(r2),
    maxSustained: {
      senders: SENDERS,
      webhooksPerSecond: Math.round(r.max.latencies.length / r.max.seconds),
      latency: summarize(r.max.latencies),
      serverCpuMsPerWebhook: r2(r.max.cpuMsPerWebhook),
    },
  };
}

function print(drivers: Record<Driver, Awaited<ReturnType<typeof measure>> | { skipped: string }>) {
  const f = (n: number) => n.toFixed(1);
  for (const [driver, r] of Object.entries(drivers)) {
    if ("skipped" in r) {
      console.log(`${driver}: skipped (${r.skipped})`);
      continue;
    }
    console.log(`\n${driver}: ${r.errors} errors in all; server memory after the run ${r.serverRssMb} MB`);
    for (const [channel, c] of Object.entries(r.perChannel)) {
      if ("skipped" in c) {
        console.log(`  ${channel}: skipped (${c.skipped})`);
        continue;
      }
      const committed = r.committed[channel as Channel] ?? 0;
      console.log(
        `  ${channel}: ${c.sent} signed webhooks, ${committed} timeline items committed, ${c.errors} errors${c.firstError ? ` (first: ${c.firstError})` : ""}`,
      );
      console.log(
        `    warm-up (first messages, new conversations, not in the figures): p50 ${f(c.warmUp.p50)} / p99 ${f(c.warmUp.p99)} ms`,
      );
      console.log(
        `    steady ${RATE}/s: answer p50 ${f(c.steady.p50)} ms   p99 ${f(c.steady.p99)} ms   max ${f(c.steady.max)} ms   (target p99 < ${TARGET_P99_MS} ms); server CPU ${c.serverCpuMsPerWebhook} ms per webhook; load ${c.loadAverage.join(" → ")}`,
      );
      const m = c.maxSustained;
      console.log(
        `    max sustained (${m.senders} senders, closed loop): ${m.webhooksPerSecond} webhooks/s, p50 ${f(m.latency.p50)} / p99 ${f(m.latency.p99)} ms, server CPU ${m.serverCpuMsPerWebhook} ms per webhook`,
      );
    }
    const d = r.delivery;
    if ("skipped" in d) console.log(`  outgoing webhooks: skipped (${d.skipped})`);
    else
      console.log(
        `  outgoing webhooks: ${d.events} message.created deliveries in ${d.seconds} s = ${d.perSecond} deliveries/s, ${d.badSignatures} with a bad signature`,
      );
  }
}
