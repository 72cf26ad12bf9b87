import { eq } from "drizzle-orm";
import { InProcessBus } from "../conversations/bus.ts";
import type { ConditionSubject } from "../conversations/condition.ts";
import type { DomainEvent } from "../conversations/event.ts";
import type { Core } from "../conversations/transaction.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import type { Database } from "../db/connect.ts";
import {
  automationRules,
  contacts,
  conversations,
  inboxes,
  timelineItems,
  type AutomationRule,
  type RuleCondition,
  workspaceCounters,
} from "../db/schema/index.ts";
import { AutomationEngine, compileRule, decide } from "../automation/engine.ts";
import { handleEvent } from "../automation/listeners.ts";
import { onEachDriver, type Target } from "./harness/database.ts";
import { summarize } from "./harness/stats.ts";

/**
 * `bun run bench automation`: 200 active rules of mixed conditions (Chinese text contains, regexes,
 * channel, labels, priority, contact attributes, language) for one event type. First the engine's
 * in-process path from an event's subject to its decisions (rules cached), p50/p99 and CPU per
 * event; then the whole listener path per event through the database (subject read, decisions, the
 * run claimed and its action applied) on PGlite and PostgreSQL. Target: p99 < 1 ms in-process.
 */
const RULES = 200;
const PURE_EVENTS = 20_000;
const DB_EVENTS = Number(process.env.BENCH_AUTOMATION_EVENTS ?? 500);
const TARGET_P99_MS = 1;

const WORDS = ["发票", "退款", "物流", "投诉", "账号", "refund", "invoice", "broken", "password", "urgent"];
const CHANNELS = ["webchat", "email", "wechat", "sms", "whatsapp"];

/** Deterministic: the same run twice builds the same rules and subjects. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
}

function conditionsOf(i: number, random: () => number): RuleCondition[] {
  const word = WORDS[i % WORDS.length]!;
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const kinds: RuleCondition[][] = [
    [{ field: "text", op: "contains", value: `${word}${i}` }],
    [{ field: "text", op: "regex", value: `(订单|order)\\s*#?${1000 + i}\\b` }],
    [
      { field: "channel", op: "equals", value: pick(CHANNELS) },
      { field: "text", op: "contains", value: [word, `${word}-${i}`] },
    ],
    [
      { field: "labels", op: "contains", value: `tag${i}` },
      { field: "priority", op: "gte", value: "high" },
    ],
    [
      { field: "contact.plan", op: "equals", value: `plan${i}` },
      { field: "language", op: "in", value: ["zh-CN", "en"] },
    ],
    [{ field: "text", op: "regex", value: `^(请问|hello)[^?？]{0,40}${word}${i}` }],
  ];
  return kinds[i % kinds.length]!;
}

function makeRules(workspaceId: string): (typeof automationRules.$inferInsert)[] {
  const random = prng(7);
  return Array.from({ length: RULES }, (_, i) => ({
    workspaceId,
    name: `Rule ${i}`,
    event: "message.created",
    // The last rule matches every bench message: each event makes one run with one action.
    conditions: i === RULES - 1 ? [{ field: "text", op: "contains", value: "bench" }] : conditionsOf(i, random),
    actions: [{ type: "label", value: i === RULES - 1 ? "bench" : `r${i}` }],
    position: i,
  }));
}

function subjects(n: number): ConditionSubject[] {
  const random = prng(11);
  return Array.from({ length: n }, (_, k) => ({
    kind: "conversation",
    channel: CHANNELS[k % CHANNELS.length],
    text: `您好，我想问一下${WORDS[k % WORDS.length]}的问题，订单 #${1000 + (k % 400)}，bench message ${k}`.repeat(
      1 + (k % 3),
    ),
    language: k % 2 ? "zh-CN" : "en",
    labels: [`tag${Math.floor(random() * 400)}`],
    priority: k % 4 === 0 ? "high" : "normal",
    contact: { plan: `plan${Math.floor(random() * 400)}` },
    businessHours: true,
  }));
}

/** The decision alone: compiled rules in memory, one subject per event. */
export function benchPure() {
  const rows = makeRules("w").map(
    (r, i) => ({ ...r, id: `r${i}`, createdAt: new Date(), updatedAt: new Date() }) as unknown as AutomationRule,
  );
  const rules = rows.map(compileRule);
  const events = subjects(1000);
  const cause = { ruleId: null, depth: -1 };
  let matched = 0;
  for (let i = 0; i < 2000; i++) matched += decide(rules, events[i % events.length]!, cause).length; // warm-up
  matched = 0;
  const samples: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < PURE_EVENTS; i++) {
    const t = performance.now();
    matched += decide(rules, events[i % events.length]!, cause).length;
    samples.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  const s = summarize(samples);
  return {
    events: PURE_EVENTS,
    p50Ms: s.p50,
    p99Ms: s.p99,
    maxMs: s.max,
    cpuUsPerEvent: (used.user + used.system) / PURE_EVENTS,
    matchesPerEvent: matched / PURE_EVENTS,
  };
}

/** The listener's whole path per event, through the database: subject, decisions, claim, action. */
async function benchDatabase(target: Target) {
  const database: Database = await target.open();
  try {
    const db = database.db;
    const core: Core = { db, bus: new InProcessBus() };
    const ws = await createWorkspace(db, `Bench ${crypto.randomUUID().slice(0, 8)}`);
    await db.insert(automationRules).values(makeRules(ws.id));
    const [inbox] = await db
      .insert(inboxes)
      .values({ workspaceId: ws.id, channel: "webchat", name: "Chat" })
      .returning();
    const [contact] = await db
      .insert(contacts)
      .values({ workspaceId: ws.id, attributes: { plan: "plan7", language: "zh-CN" } })
      .returning();
    const [conversation] = await db
      .insert(conversations)
      .values({ workspaceId: ws.id, contactId: contact!.id, inboxId: inbox!.id, channel: "webchat" })
      .returning();
    await db.insert(timelineItems).values({
      workspaceId: ws.id,
      conversationId: conversation!.id,
      seq: 1,
      type: "message",
      direction: "in",
      senderType: "contact",
      text: "您好，我要开发票 bench",
    });
    // The item took seq 1 by hand: the workspace's counter moves past it.
    await db.update(workspaceCounters).set({ seq: 1 }).where(eq(workspaceCounters.workspaceId, ws.id));
    const engine = new AutomationEngine(core, { ttlMs: 60_000 });
    const texts = subjects(DB_EVENTS).map((s) => s.text!);
    const event = (k: number): DomainEvent => ({
      workspaceId: ws.id,
      seq: 1_000_000 + k,
      type: "item.created",
      conversationId: conversation!.id,
      public: true,
      payload: { item: { type: "message", direction: "in", sender: { type: "contact" }, text: texts[k] } },
    });
    for (let k = 0; k < 20; k++) await handleEvent(core, engine, event(DB_EVENTS + k)); // warm-up, cache filled
    const samples: number[] = [];
    const cached: number[] = [];
    let ran = 0;
    for (let k = 0; k < DB_EVENTS; k++) {
      const t0 = performance.now();
      await engine.rulesFor(ws.id, "message.created");
      cached.push(performance.now() - t0);
      const t = performance.now();
      ran += await handleEvent(core, engine, event(k));
      samples.push(performance.now() - t);
    }
    const s = summarize(samples);
    const c = summarize(cached);
    return {
      events: DB_EVENTS,
      runsPerEvent: ran / DB_EVENTS,
      cachedRulesP99Ms: c.p99,
      p50Ms: s.p50,
      p99Ms: s.p99,
      maxMs: s.max,
    };
  } finally {
    await database.close();
  }
}

export async function benchAutomation({ json }: { json: boolean }) {
  const pure = benchPure();
  const drivers = await onEachDriver(benchDatabase);
  const report = { rules: RULES, pure, drivers, targetP99Ms: TARGET_P99_MS };
  if (json) return console.log(JSON.stringify(report));
  const rows: [string, string][] = [];
  const add = (prefix: string, o: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(o))
      rows.push([
        `${prefix}${k}`,
        typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v),
      ]);
  };
  add("in-process.", pure);
  for (const [name, r] of Object.entries(drivers)) add(`${name}.`, r as Record<string, unknown>);
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`${RULES} active rules for message.created (text contains in Chinese and English, regexes, channel,`);
  console.log("labels, priority, contact attributes, language)");
  for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);
  console.log(`target: in-process decision per event p99 < ${TARGET_P99_MS} ms`);
}
