import { and, eq, gte, inArray, lt, or, sql, isNull, gt } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import {
  agentSkills,
  agentStates,
  agentStateSpans,
  interactions,
  queues as queueTable,
  skills,
  users,
} from "../db/schema/index.ts";
import { DEFAULT_CAPACITY } from "../routing/acd.ts";
import { mulberry32 } from "../routing/planner.ts";
import { Invalid } from "../platform/errors.ts";
import { parseInput } from "../platform/validation.ts";
import { replay, type Figures, type ReplayAgent, type ReplayArrival, type ReplayQueue, type Shift } from "./replay.ts";
import { meanPatience } from "./staffing.ts";
import { changedQueues, changedShifts, checkWhatIf, intervalsOf, MAX_ARRIVALS, WhatIfInput } from "./what-if.ts";

/**
 * A what-if over a workspace's real history: the period's interactions become arrivals, the agents'
 * state spans the roster, and the period is replayed twice through the ACD — as staffed (before) and
 * with the change (after) — beside what really happened (docs/forecast.md).
 */

/** Each replay's wall-clock budget: the request is answered in bounded time whatever it asks. */
const REPLAY_BUDGET_MS = 15_000;
/** Presences in which an agent counts as on duty (signed in and taking or finishing work). */
const ON_DUTY = ["available", "busy", "wrap_up"];
const DEFAULT_HANDLE_S = 300;

type Row = {
  id: string;
  queueId: string;
  channel: string;
  offeredAt: Date;
  answeredAt: Date | null;
  endedAt: Date | null;
  outcome: string;
  waitS: number | null;
  handleS: number | null;
  answeredInSl: boolean | null;
  agentId: string | null;
};

async function loadQueues(db: Executor, workspaceId: string): Promise<(ReplayQueue & { name: string })[]> {
  const rows = await db.select().from(queueTable).where(eq(queueTable.workspaceId, workspaceId));
  return rows.map((q) => ({
    id: q.id,
    name: q.name,
    requiredSkills: q.requiredSkills,
    overflow: q.overflow,
    serviceLevelS: q.serviceLevelSeconds,
    priority: 0,
  }));
}

/** Every person of the workspace (one disabled since may have worked in the period); `active`: those still enabled. */
async function loadAgents(db: Executor, workspaceId: string): Promise<{ agents: ReplayAgent[]; active: string[] }> {
  const people = await db
    .select({ id: users.id, capacity: agentStates.capacity, disabledAt: users.disabledAt })
    .from(users)
    .leftJoin(agentStates, eq(agentStates.userId, users.id))
    .where(and(eq(users.workspaceId, workspaceId), eq(users.kind, "person")));
  const levels = await db
    .select({ userId: agentSkills.userId, name: skills.name, level: agentSkills.level })
    .from(agentSkills)
    .innerJoin(skills, eq(skills.id, agentSkills.skillId))
    .where(eq(agentSkills.workspaceId, workspaceId));
  const agents = people.map((p) => ({
    id: p.id,
    capacity: { ...DEFAULT_CAPACITY, ...p.capacity },
    skills: Object.fromEntries(levels.filter((l) => l.userId === p.id).map((l) => [l.name, l.level])),
  }));
  return { agents, active: people.filter((p) => !p.disabledAt).map((p) => p.id) };
}

/**
 * Who was on duty in each half-hour: an agent whose on-duty spans cover at least half of it. An agent
 * with no span in the period (state history began later) counts in the intervals they answered in.
 */
async function loadRoster(db: Executor, workspaceId: string, from: number, to: number, rows: Row[]): Promise<Shift[]> {
  const spans = await db
    .select({ userId: agentStateSpans.userId, startedAt: agentStateSpans.startedAt, endedAt: agentStateSpans.endedAt })
    .from(agentStateSpans)
    .where(
      and(
        eq(agentStateSpans.workspaceId, workspaceId),
        inArray(agentStateSpans.presence, ON_DUTY),
        lt(agentStateSpans.startedAt, new Date(to)),
        or(isNull(agentStateSpans.endedAt), gt(agentStateSpans.endedAt, new Date(from))),
      ),
    );
  const intervals = intervalsOf(from, to);
  const covered = intervals.map(() => new Map<string, number>());
  const now = Date.now();
  for (const s of spans) {
    const a = s.startedAt.getTime();
    const b = s.endedAt?.getTime() ?? now;
    const first = Math.max(0, Math.floor((a - from) / 1_800_000));
    for (let i = first; i < intervals.length && intervals[i]!.start < b; i++) {
      const overlap = Math.min(b, intervals[i]!.end) - Math.max(a, intervals[i]!.start);
      if (overlap > 0) covered[i]!.set(s.userId, (covered[i]!.get(s.userId) ?? 0) + overlap);
    }
  }
  const ids = intervals.map((iv, i) => {
    const half = (iv.end - iv.start) / 2;
    return new Set([...covered[i]!].filter(([, ms]) => ms >= half).map(([id]) => id));
  });
  const withSpans = new Set(spans.map((s) => s.userId));
  for (const r of rows) {
    if (!r.agentId || !r.answeredAt || withSpans.has(r.agentId)) continue;
    const a = r.answeredAt.getTime();
    const b = Math.max(a, r.endedAt?.getTime() ?? a);
    const first = Math.max(0, Math.floor((a - from) / 1_800_000));
    for (let i = first; i < intervals.length && intervals[i]!.start <= b; i++) ids[i]!.add(r.agentId);
  }
  return intervals.map((iv, i) => ({ ...iv, agentIds: [...ids[i]!].sort() }));
}

/** What really happened, from the rows as recorded. */
function actualFigures(rows: Row[]): Figures {
  const answered = rows.filter((r) => r.outcome === "answered");
  const abandoned = rows.filter((r) => r.outcome === "abandoned").length;
  const waits = answered.map((r) => r.waitS).filter((w): w is number => w !== null);
  return {
    offered: rows.length,
    answered: answered.length,
    abandoned,
    serviceLevel: rows.length ? answered.filter((r) => r.answeredInSl).length / rows.length : null,
    asaS: waits.length ? waits.reduce((a, b) => a + b, 0) / waits.length : null,
    abandonment: rows.length ? abandoned / rows.length : null,
  };
}

/**
 * Arrivals as the replay takes them. An abandoned customer's patience is their wait; an answered one
 * waited less than their patience, so (patience being memoryless) it is their wait plus a draw from the
 * queue's mean patience, or unlimited where the queue shows none. An abandoned call's handle time, never
 * seen, is drawn from the queue's answered ones.
 */
function arrivalsOf(rows: Row[], seed: number): ReplayArrival[] {
  const random = mulberry32(seed);
  const byQueue = new Map<string, Row[]>();
  for (const r of rows) {
    const list = byQueue.get(r.queueId);
    if (list) list.push(r);
    else byQueue.set(r.queueId, [r]);
  }
  const handles = new Map<string, number[]>();
  const patience = new Map<string, number | null>();
  for (const [queueId, qs] of byQueue) {
    handles.set(
      queueId,
      qs.flatMap((r) => (r.outcome === "answered" && r.handleS !== null ? [r.handleS] : [])),
    );
    const waited = qs.reduce((sum, r) => sum + (r.waitS ?? 0), 0);
    patience.set(queueId, meanPatience(waited, qs.filter((r) => r.outcome === "abandoned").length));
  }
  const allHandles = [...handles.values()].flat();
  const pick = (list: number[]) => list[Math.floor(random() * list.length)]!;
  return rows.map((r) => {
    const wait =
      r.waitS ??
      ((r.answeredAt ?? r.endedAt)?.getTime() ?? r.offeredAt.getTime()) / 1000 - r.offeredAt.getTime() / 1000;
    const own = handles.get(r.queueId)!;
    const handleS =
      r.outcome === "answered" && r.handleS !== null
        ? r.handleS
        : own.length
          ? pick(own)
          : allHandles.length
            ? pick(allHandles)
            : DEFAULT_HANDLE_S;
    const mean = patience.get(r.queueId) ?? null;
    const patienceS =
      r.outcome === "abandoned"
        ? Math.max(0, wait)
        : mean === null
          ? null
          : Math.max(0, wait) - mean * Math.log(1 - random());
    return { id: r.id, queueId: r.queueId, channel: r.channel, at: r.offeredAt.getTime(), handleS, patienceS };
  });
}

export async function runWhatIf(db: Executor, workspaceId: string, raw: unknown) {
  const input = parseInput(WhatIfInput, raw);
  const allQueues = await loadQueues(db, workspaceId);
  checkWhatIf(input, new Set(allQueues.map((q) => q.id)));
  const from = Date.parse(input.from);
  const to = Date.parse(input.to);
  const where = and(
    eq(interactions.workspaceId, workspaceId),
    gte(interactions.offeredAt, new Date(from)),
    lt(interactions.offeredAt, new Date(to)),
    inArray(interactions.outcome, ["answered", "abandoned"]),
    input.queueIds ? inArray(interactions.queueId, input.queueIds) : sql`${interactions.queueId} IS NOT NULL`,
  );
  const [{ n }] = (await db.select({ n: sql<number>`count(*)::int` }).from(interactions).where(where)) as [
    { n: number },
  ];
  if (Number(n) > MAX_ARRIVALS)
    throw new Invalid(`The period holds ${n} arrivals; a what-if replays at most ${MAX_ARRIVALS}`, "to");
  const rows = (await db
    .select({
      id: interactions.id,
      queueId: interactions.queueId,
      channel: interactions.channel,
      offeredAt: interactions.offeredAt,
      answeredAt: interactions.answeredAt,
      endedAt: interactions.endedAt,
      outcome: interactions.outcome,
      waitS: interactions.waitS,
      handleS: interactions.handleS,
      answeredInSl: interactions.answeredInSl,
      agentId: interactions.agentId,
    })
    .from(interactions)
    .where(where)
    .orderBy(interactions.offeredAt, interactions.id)) as Row[];

  const arrivals = arrivalsOf(rows, input.seed);
  const { agents, active } = await loadAgents(db, workspaceId);
  const known = new Set(agents.map((a) => a.id));
  // An answer by a user since deleted names nobody the replay could seat.
  const shifts = (await loadRoster(db, workspaceId, from, to, rows)).map((s) => ({
    ...s,
    agentIds: s.agentIds.filter((id) => known.has(id)),
  }));
  const before = replay({ from, to, queues: allQueues, arrivals, agents, shifts, budgetMs: REPLAY_BUDGET_MS });
  const changed = changedShifts(shifts, agents, allQueues, input.change, active);
  const after = replay({
    from,
    to,
    queues: changedQueues(allQueues, input.change),
    arrivals,
    agents: changed.agents,
    shifts: changed.shifts,
    budgetMs: REPLAY_BUDGET_MS,
  });
  const replayed = new Set(input.queueIds ?? rows.map((r) => r.queueId));
  const names = new Map(allQueues.map((q) => [q.id, q.name]));
  const trim = (r: typeof before) => ({
    ...r,
    queues: Object.fromEntries(Object.entries(r.queues).filter(([id]) => replayed.has(id))),
  });
  return {
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    queues: [...replayed].map((id) => ({ id, name: names.get(id) ?? null })),
    arrivals: arrivals.length,
    change: input.change,
    actual: actualFigures(rows),
    before: trim(before),
    after: trim(after),
  };
}
