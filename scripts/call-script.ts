import { parseArgs } from "node:util";

/**
 * `bun run call:simulate`: plays a phone call into a running Switchboard (demo mode) without a
 * Twilio account. The server's built-in Twilio stand-in signs the webhooks; this prints what the
 * caller hears and each step, and can answer as a demo agent so the whole call runs by itself:
 *
 *   bun run call:simulate --say 我想退款 --answer-as lina@demo.test --talk 5
 */
const { values } = parseArgs({
  options: {
    url: { type: "string", default: process.env.SWITCHBOARD_URL ?? "http://localhost:3000" },
    from: { type: "string", default: "+8613800138000" },
    name: { type: "string" },
    say: { type: "string" },
    digits: { type: "string" },
    talk: { type: "string", default: "5" },
    "answer-as": { type: "string" },
    password: { type: "string", default: "demo" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  console.log(`bun run call:simulate [--url http://localhost:3000] [--from +8613800138000] [--name 王伟]
    [--say 我想退款 | --digits 1] [--talk 5] [--answer-as lina@demo.test [--password demo]]`);
  process.exit(0);
}

const base = values.url!.replace(/\/$/, "");

async function call<T>(path: string, init: { method?: string; token?: string; body?: unknown } = {}): Promise<T> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { "content-type": "application/json", ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

type Leg = { callSid: string; status: string; inConference: boolean; heard: string[]; log: string[] };

async function main() {
  let agent: string | undefined;
  if (values["answer-as"]) {
    agent = (
      await call<{ token: string }>("/api/v1/auth/login", {
        body: { email: values["answer-as"], password: values.password },
      })
    ).token;
    await call("/api/v1/me/presence", { method: "PUT", token: agent, body: { presence: "available" } });
    console.log(`agent ${values["answer-as"]} is available`);
  }
  const leg = await call<Leg>("/simulator/calls", {
    body: {
      from: values.from,
      callerName: values.name,
      say: values.say,
      digits: values.digits,
      talkSeconds: Number(values.talk),
    },
  });
  console.log(`call ${leg.callSid} from ${values.from}`);
  let shownLog = 0;
  let shownHeard = 0;
  let accepted = false;
  const deadline = Date.now() + 10 * 60_000;
  for (let current = leg; Date.now() < deadline; current = await call<Leg>(`/simulator/calls/${leg.callSid}`)) {
    for (const line of current.heard.slice(shownHeard)) console.log(`  caller hears: ${line}`);
    for (const line of current.log.slice(shownLog)) console.log(`  twilio: ${line}`);
    shownHeard = current.heard.length;
    shownLog = current.log.length;
    if (current.status === "completed") {
      console.log("call ended; see it in the inbox: " + `${base}/app/`);
      return;
    }
    if (agent && !accepted) {
      const offers = await call<{ items: { workItemId: string; channel: string }[] }>("/api/v1/me/offers", {
        token: agent,
      });
      const offer = offers.items.find((o) => o.channel === "voice");
      if (offer) {
        await call(`/api/v1/offers/${offer.workItemId}/accept`, { token: agent, body: {} });
        console.log("agent accepted the call");
        accepted = true;
      }
    } else if (!agent && !accepted && current.log.some((l) => l.startsWith("gather at"))) {
      console.log(`waiting in the queue: accept the call in the inbox (${base}/app/) as an available agent`);
      accepted = true;
    }
    await Bun.sleep(500);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
