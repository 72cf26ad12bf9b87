import { and, eq, inArray } from "drizzle-orm";
import { InProcessBus } from "../conversations/bus.ts";
import type { Core } from "../conversations/transaction.ts";
import { createWorkspace } from "../conversations/workspace.ts";
import type { Database } from "../db/connect.ts";
import {
  agentSkills,
  agentStates,
  contacts,
  conversations,
  inboxes,
  queues,
  skills,
  users,
  workItems,
} from "../db/schema/index.ts";
import { pickAgent, route, type Agent, type WorkItem } from "../routing/acd.ts";
import { routeWorkspace } from "../routing/offer.ts";
import { openPglite, openPostgres, type Target } from "./harness/database.ts";
import { summarize } from "./harness/stats.ts";

/**
 * The ACD at scale: 10,000 waiting items and 2,000 agents of mixed skills. First the pure decision
 * (route over everything; one pickAgent per item), then the database routers — four at once, as four
 * nodes would — on PGlite and PostgreSQL, counting double offers and over-filled agents (must be 0).
 */

const ITEMS = 10_000;
const AGENTS = 2_000;
const ROUTERS = 4;
const SKILLS = ["billing", "technical", "chinese", "english", "vip"];
const TARGET_P99_MS = 5;

/** Deterministic data: the same run twice routes the same way. */
function prng(seed: number) {
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
    return seed / 2_147_483_648;
  };
}

function makeAgents(random: () => number, now: number): Agent[] {
  return Array.from({ length: AGENTS }, (_, i) => {
    const own = SKILLS.filter(() => random() < 0.4);
    return {
      id: `agent-${i}`,
      presence: "available" as const,
      skills: Object.fromEntries(
        (own.length ? own : [SKILLS[i % SKILLS.length]!]).map((s) => [s, 1 + Math.floor(random() * 5)]),
      ),
      capacity: { voice: 1, chat: 3, email: 5, messaging: 4 },
      load: { voice: 0, chat: 0, email: 0, messaging: 0 },
      idleSince: now - Math.floor(random() * 3_600_000),
    };
  });
}

function makeItems(random: () => number, now: number): WorkItem[] {
  return Array.from({ length: ITEMS }, (_, i) => ({
    id: `item-${i}`,
    queueId: "q",
    channel: "webchat",
    priority: random() < 0.1 ? 10 : 0,
    enqueuedAt: now - Math.floor(random() * 600_000),
    requiredSkills:
      random() < 0.7
        ? [{ skill: SKILLS[Math.floor(random() * SKILLS.length)]!, minLevel: 1 + Math.floor(random() * 3) }]
        : [],
  }));
}

function benchPure() {
  const now = Date.now();
  const random = prng(7);
  const agents = makeAgents(random, now);
  const items = makeItems(random, now);
  let started = performance.now();
  const matches = route(items, agents, now);
  const routeMs = performance.now() - started;
  const one: number[] = [];
  for (const item of items.slice(0, 2000)) {
    started = performance.now();
    pickAgent(item, agents, now);
    one.push(performance.now() - started);
  }
  const latency = summarize(one);
  return {
    routeAllMs: routeMs,
    matched: matches.length,
    decisionsPerSec: matches.length / (routeMs / 1000),
    pickAgentP50Ms: latency.p50,
    pickAgentP99Ms: latency.p99,
  };
}

async function chunks<T>(rows: T[], size: number, insert: (chunk: T[]) => Promise<unknown>) {
  for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
}

/** The same population in the database: users and their states and skills, contacts, conversations, work. */
async function seed(database: Database) {
  const db = database.db;
  const random = prng(7);
  const now = Date.now();
  const ws = await createWorkspace(db, "Routing bench");
  const w = ws.id;
  const [inbox] = await db.insert(inboxes).values({ workspaceId: w, channel: "webchat", name: "Chat" }).returning();
  const skillRows = await db
    .insert(skills)
    .values(SKILLS.map((name) => ({ workspaceId: w, name })))
    .returning();
  const skillId = new Map(skillRows.map((s) => [s.name, s.id]));
  const [queue] = await db.insert(queues).values({ workspaceId: w, name: "All" }).returning();
  const agents = makeAgents(random, now).map((a) => ({ ...a, id: crypto.randomUUID() }));
  // Sign-in is not measured: one placeholder hash instead of 2,000 slow password hashes.
  await chunks(agents, 500, (c) =>
    db.insert(users).values(
      c.map((a, i) => ({
        id: a.id,
        workspaceId: w,
        email: `${a.id}@bench.test`,
        name: `Agent ${i}`,
        role: "agent" as const,
        passwordHash: "x",
      })),
    ),
  );
  await chunks(agents, 500, (c) =>
    db.insert(agentStates).values(
      c.map((a) => ({
        userId: a.id,
        workspaceId: w,
        presence: "available" as const,
        idleSince: new Date(a.idleSince),
      })),
    ),
  );
  const levels = agents.flatMap((a) =>
    Object.entries(a.skills).map(([s, level]) => ({ workspaceId: w, userId: a.id, skillId: skillId.get(s)!, level })),
  );
  await chunks(levels, 1000, (c) => db.insert(agentSkills).values(c));
  const items = makeItems(random, now).map((i) => ({
    ...i,
    contactId: crypto.randomUUID(),
    conversationId: crypto.randomUUID(),
  }));
  await chunks(items, 1000, (c) => db.insert(contacts).values(c.map((i) => ({ id: i.contactId, workspaceId: w }))));
  await chunks(items, 1000, (c) =>
    db.insert(conversations).values(
      c.map((i) => ({
        id: i.conversationId,
        workspaceId: w,
        contactId: i.contactId,
        inboxId: inbox!.id,
        channel: "webchat" as const,
      })),
    ),
  );
  await chunks(items, 1000, (c) =>
    db.insert(workItems).values(
      c.map((i) => ({
        workspaceId: w,
        conversationId: i.conversationId,
        queueId: queue!.id,
        channel: "webchat",
        priority: i.priority,
        requiredSkills: i.requiredSkills,
        enqueuedAt: new Date(i.enqueuedAt),
      })),
    ),
  );
  return w;
}

async function benchDatabase(target: Target) {
  const database = await target.open();
  try {
    const workspaceId = await seed(database);
    const core: Core = { db: database.db, bus: new InProcessBus() };
    const passes: { ms: number; matched: number }[] = [];
    const started = performance.now();
    await Promise.all(
      Array.from({ length: ROUTERS }, async () => {
        // A router stops after two passes in a row find nothing it can do.
        for (let idle = 0; idle < 2; ) {
          const t = performance.now();
          const matched = (await routeWorkspace(core, workspaceId)).length;
          passes.push({ ms: performance.now() - t, matched });
          idle = matched ? 0 : idle + 1;
        }
      }),
    );
    const wallMs = performance.now() - started;
    const matched = passes.reduce((n, p) => n + p.matched, 0);
    const live = await database.db
      .select({ conversationId: workItems.conversationId, agentId: workItems.agentId })
      .from(workItems)
      .where(and(eq(workItems.workspaceId, workspaceId), inArray(workItems.state, ["reserved", "assigned"])));
    const perAgent = new Map<string, number>();
    for (const i of live) perAgent.set(i.agentId!, (perAgent.get(i.agentId!) ?? 0) + 1);
    const working = passes.filter((p) => p.matched);
    const pass = summarize(working.map((p) => p.ms));
    const perDecision = summarize(working.map((p) => p.ms / p.matched));
    return {
      routers: ROUTERS,
      decisions: matched,
      decisionsPerSec: matched / (wallMs / 1000),
      passes: working.length,
      passP50Ms: pass.p50,
      passP99Ms: pass.p99,
      perDecisionP50Ms: perDecision.p50,
      perDecisionP99Ms: perDecision.p99,
      doubleOffers: live.length - new Set(live.map((i) => i.conversationId)).size,
      agentsOverCapacity: [...perAgent.values()].filter((n) => n > 3).length,
    };
  } finally {
    await database.close();
    await target.dispose();
  }
}

export async function benchRouting({ json }: { json: boolean }) {
  const pure = benchPure();
  const drivers: Record<string, unknown> = {};
  for (const [name, open] of [
    ["pglite", async () => openPglite()],
    ["postgres", openPostgres],
  ] as const) {
    try {
      drivers[name] = await benchDatabase(await open());
    } catch (err) {
      drivers[name] = { skipped: err instanceof Error ? err.message : String(err) };
    }
  }
  const report = { items: ITEMS, agents: AGENTS, pure, drivers, targetP99Ms: TARGET_P99_MS };
  if (json) return console.log(JSON.stringify(report));
  const rows: [string, string][] = [];
  const add = (prefix: string, o: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(o))
      rows.push([
        `${prefix}${k}`,
        typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v),
      ]);
  };
  add("pure.", pure);
  for (const [name, r] of Object.entries(drivers)) add(`${name}.`, r as Record<string, unknown>);
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`${ITEMS} waiting items, ${AGENTS} agents of mixed skills, ${ROUTERS} database routers at once`);
  for (const [k, v] of rows) console.log(`${k.padEnd(width)} | ${v}`);
  console.log(`target: one decision p99 < ${TARGET_P99_MS} ms; double offers and agents over capacity must be 0`);
}
