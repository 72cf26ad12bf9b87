import type { OverflowStep, SkillRequirement } from "../db/schema/index.ts";
import { channelClass, route, type Agent, type ChannelClass, type WorkItem } from "../routing/acd.ts";
import { dueSteps } from "../routing/overflow.ts";
import { Invalid } from "../platform/errors.ts";
import { accept, OFFER_TIMEOUT_MS, reserve } from "../routing/reservation.ts";
import { SLOT_MS } from "./forecast.ts";
import { ARRIVAL, COMPLETION, EventQueue, OVERFLOW, SHIFT } from "./replay-events.ts";

/**
 * A replay of real arrivals through the real ACD: routing/planner.ts's simulation generalized to
 * several queues, agents with their own skills and capacities, a roster that changes every interval,
 * overflow steps (routing/overflow.ts's `dueSteps`, applied when due) and priorities. Each arrival
 * keeps its own time, channel, handle time and patience; `route` picks every match, which is then
 * reserved and accepted at once (a simulated agent always answers). Pure and deterministic.
 */

export type ReplayQueue = {
  id: string;
  requiredSkills: SkillRequirement[];
  overflow: OverflowStep[];
  /** "Answered within T seconds" for this queue's service level. */
  serviceLevelS: number;
  /** Priority points its items start with (the ACD ages them by a point a minute). */
  priority: number;
};

export type ReplayArrival = {
  id: string;
  queueId: string;
  channel: string;
  at: number;
  handleS: number;
  /** Seconds the customer waits before leaving; null: waits as long as it takes. */
  patienceS: number | null;
};

export type ReplayAgent = { id: string; skills: Record<string, number>; capacity: Record<ChannelClass, number> };

/** Who is on duty in one interval [start, end): consecutive, covering the replayed period. */
export type Shift = { start: number; end: number; agentIds: string[] };

export type ReplayInput = {
  from: number;
  to: number;
  queues: ReplayQueue[];
  arrivals: ReplayArrival[];
  agents: ReplayAgent[];
  shifts: Shift[];
  /** Wall-clock milliseconds the replay may take before it gives up (Invalid, field `to`). */
  budgetMs?: number;
};

export type Figures = {
  offered: number;
  answered: number;
  /** Left before an agent took them (or still waiting when the replay stopped). */
  abandoned: number;
  /** Answered within the queue's threshold, as a fraction of offered; null when nothing was offered. */
  serviceLevel: number | null;
  /** Mean wait of the answered; null when none was. */
  asaS: number | null;
  /** Abandoned / offered. */
  abandonment: number | null;
};

export type ReplayResult = Figures & {
  queues: Record<string, Figures>;
  /** Per interval of arrival: offered and the service level reached, with the agents on duty. */
  intervals: { start: string; offered: number; serviceLevel: number | null; agents: number }[];
};

/** After the period the last interval's agents stay until the queue is empty, but no longer than this. */
export const DRAIN_MS = 4 * 3_600_000;

type Waiting = {
  index: number;
  item: WorkItem;
  abandonAt: number;
  applied: number;
  /** Bumped when the item moves to another list, so its old entry is known to be stale. */
  version: number;
  done: boolean;
  /** The queue it was offered to, whose threshold and figures it counts in. */
  offeredTo: string;
};
type Entry = { w: Waiting; version: number };
type Seat = { agent: Agent; onDuty: boolean; total: number; most: number };

class Tally {
  offered = 0;
  answered = 0;
  abandoned = 0;
  inSl = 0;
  waitMs = 0;
  figures(): Figures {
    return {
      offered: this.offered,
      answered: this.answered,
      abandoned: this.abandoned,
      serviceLevel: this.offered ? this.inSl / this.offered : null,
      asaS: this.answered ? this.waitMs / this.answered / 1000 : null,
      abandonment: this.offered ? this.abandoned / this.offered : null,
    };
  }
}

const kindOf = (w: Waiting) =>
  `${w.item.queueId}|${channelClass(w.item.channel)}|${w.item.requiredSkills.map((r) => `${r.skill}:${r.minLevel}`).join(",")}`;

export function replay(input: ReplayInput): ReplayResult {
  const queues = new Map(input.queues.map((q) => [q.id, q]));
  const seats: Seat[] = input.agents.map((a) => ({
    agent: {
      id: a.id,
      presence: "offline",
      skills: a.skills,
      capacity: { ...a.capacity },
      load: { voice: 0, chat: 0, email: 0, messaging: 0 },
      idleSince: input.from,
    },
    onDuty: false,
    total: 0,
    most: Math.max(a.capacity.voice, a.capacity.chat, a.capacity.email, a.capacity.messaging),
  }));
  const seatOf = new Map(seats.map((s, i) => [s.agent.id, i]));
  const events = new EventQueue();
  const lists = new Map<string, { entries: Entry[]; head: number }>();
  const waiting: Waiting[] = [];
  const byArrival: (Waiting | undefined)[] = new Array(input.arrivals.length);
  const overall = new Tally();
  const perQueue = new Map(input.queues.map((q) => [q.id, new Tally()]));
  const slots = Math.max(1, Math.ceil((input.to - input.from) / SLOT_MS));
  const slotOffered = new Array<number>(slots).fill(0);
  const slotInSl = new Array<number>(slots).fill(0);
  let reservations = 0;
  /** Contacts waiting (not yet answered or counted as gone). */
  let live = 0;

  input.shifts.forEach((s, i) => events.push(s.start, SHIFT, i));
  input.arrivals.forEach((a, i) => {
    if (queues.has(a.queueId)) events.push(a.at, ARRIVAL, i);
  });

  const list = (w: Waiting) => {
    const key = kindOf(w);
    let l = lists.get(key);
    if (!l) lists.set(key, (l = { entries: [], head: 0 }));
    // Kept in arrival order: an item moved here by overflow has waited longer than those already in.
    let i = l.entries.length;
    while (i > l.head && l.entries[i - 1]!.w.item.enqueuedAt > w.item.enqueuedAt) i--;
    l.entries.splice(i, 0, { w, version: w.version });
  };

  const scheduleOverflow = (w: Waiting) => {
    const step = queues.get(w.item.queueId)?.overflow[w.applied];
    if (step) events.push(w.item.enqueuedAt + step.afterSeconds * 1000, OVERFLOW, w.index);
  };

  const finish = (w: Waiting, answeredAt: number | null) => {
    w.done = true;
    live--;
    const tallies = [overall, perQueue.get(w.offeredTo)!];
    const slot = Math.min(slots - 1, Math.max(0, Math.floor((w.item.enqueuedAt - input.from) / SLOT_MS)));
    for (const t of tallies) t.offered++;
    slotOffered[slot]!++;
    if (answeredAt === null) {
      for (const t of tallies) t.abandoned++;
      return;
    }
    const wait = answeredAt - w.item.enqueuedAt;
    const inSl = wait <= queues.get(w.offeredTo)!.serviceLevelS * 1000;
    for (const t of tallies) {
      t.answered++;
      t.waitMs += wait;
      if (inSl) t.inSl++;
    }
    if (inSl) slotInSl[slot]!++;
  };

  const setPresence = (s: Seat, now: number) => {
    if (!s.onDuty) s.agent.presence = s.total ? "away" : "offline";
    else s.agent.presence = s.total ? "busy" : "available";
    if (!s.total) s.agent.idleSince = now;
  };

  const dispatch = (now: number) => {
    // Most events (a call ending while nobody waits) can match nothing.
    if (!live) return;
    const free = seats.filter(
      (s) =>
        s.onDuty &&
        (s.total === 0 ||
          (s.agent.load.voice === 0 &&
            (["chat", "email", "messaging"] as const).some((c) => s.agent.load[c] < s.agent.capacity[c]))),
    );
    if (!free.length) return;
    let room = 0;
    // An upper bound on what the free agents can take now: no list needs more of its first items than this.
    for (const s of free) room += s.most - s.total;
    const offeredNow: Waiting[] = [];
    for (const l of lists.values()) {
      const entries = l.entries;
      let taken = 0;
      for (let i = l.head; i < entries.length && taken < room; i++) {
        const { w, version } = entries[i]!;
        if (w.done || version !== w.version) continue;
        if (w.abandonAt <= now) {
          finish(w, null);
          continue;
        }
        offeredNow.push(w);
        taken++;
      }
      // Drop the dead entries at the front so the lists do not grow without end.
      const stale = (e: Entry) => e.w.done || e.version !== e.w.version;
      while (l.head < entries.length && stale(entries[l.head]!)) l.head++;
      if (l.head > 4096 && l.head * 2 > entries.length) {
        l.entries = entries.slice(l.head);
        l.head = 0;
      }
    }
    if (!offeredNow.length) return;
    const byId = new Map(offeredNow.map((w) => [w.item.id, w]));
    for (const match of route(
      offeredNow.map((w) => w.item),
      free.map((s) => s.agent),
      now,
    )) {
      const w = byId.get(match.itemId)!;
      const seatIndex = seatOf.get(match.agentId)!;
      const seat = seats[seatIndex]!;
      const cls = channelClass(w.item.channel);
      accept(reserve(w.item.id, seat.agent.id, now, OFFER_TIMEOUT_MS[cls], `r${++reservations}`), seat.agent.id, now);
      seat.agent.load[cls]++;
      seat.total++;
      setPresence(seat, now);
      finish(w, now);
      const handleMs = input.arrivals[w.index]!.handleS * 1000;
      events.push(now + handleMs, COMPLETION, seatIndex, ["voice", "chat", "email", "messaging"].indexOf(cls));
    }
  };

  const lastShift = input.shifts.at(-1);
  const stopAt = Math.max(input.to, lastShift?.end ?? input.to) + DRAIN_MS;
  const deadline = performance.now() + (input.budgetMs ?? Infinity);
  let steps = 0;
  for (let e = events.pop(); e && e.at <= stopAt; e = events.pop()) {
    const now = e.at;
    if (++steps % 4096 === 0 && performance.now() > deadline)
      throw new Invalid("The replay took too long: choose a shorter period or fewer queues", "to");
    if (e.kind === COMPLETION) {
      const seat = seats[e.ref]!;
      const cls = (["voice", "chat", "email", "messaging"] as const)[e.extra]!;
      seat.agent.load[cls]--;
      seat.total--;
      setPresence(seat, now);
    } else if (e.kind === SHIFT) {
      const shift = input.shifts[e.ref]!;
      // The last interval's roster stays on after the period so that everyone waiting is served or leaves.
      const onDuty = new Set(shift.agentIds);
      for (const s of seats) {
        s.onDuty = onDuty.has(s.agent.id);
        setPresence(s, now);
      }
    } else if (e.kind === ARRIVAL) {
      const a = input.arrivals[e.ref]!;
      const q = queues.get(a.queueId)!;
      const w: Waiting = {
        index: e.ref,
        item: {
          id: a.id,
          queueId: q.id,
          channel: a.channel,
          priority: q.priority,
          enqueuedAt: a.at,
          requiredSkills: q.requiredSkills,
        },
        abandonAt: a.patienceS === null ? Infinity : a.at + a.patienceS * 1000,
        applied: 0,
        version: 0,
        done: false,
        offeredTo: q.id,
      };
      waiting.push(w);
      live++;
      byArrival[e.ref] = w;
      list(w);
      scheduleOverflow(w);
    } else if (e.kind === OVERFLOW) {
      const w = byArrival[e.ref];
      if (w && !w.done && w.abandonAt > now) applyOverflow(w, now);
    }
    dispatch(now);
  }
  // Whoever is still waiting was never answered: gone at their patience, or when the replay stopped.
  for (const w of waiting) if (!w.done) finish(w, null);

  function applyOverflow(w: Waiting, now: number) {
    const steps = queues.get(w.item.queueId)!.overflow;
    const due = dueSteps(steps, w.applied, (now - w.item.enqueuedAt) / 1000);
    if (!due.length) return;
    w.applied += due.length;
    for (const step of due) {
      if (step.action === "widen_skills") w.item = { ...w.item, requiredSkills: step.skills };
      else if (step.action === "move_queue") {
        const target = queues.get(step.queueId);
        // A queue outside the replay cannot take it: as in routing/work.ts, a missing target is skipped.
        if (!target) continue;
        w.item = { ...w.item, queueId: target.id, requiredSkills: target.requiredSkills, priority: target.priority };
        w.applied = 0;
      }
    }
    w.version++;
    list(w);
    scheduleOverflow(w);
  }

  const rosterAt = (t: number) => input.shifts.find((s) => s.start <= t && t < s.end)?.agentIds.length ?? 0;
  return {
    ...overall.figures(),
    queues: Object.fromEntries([...perQueue].map(([id, t]) => [id, t.figures()])),
    intervals: slotOffered.map((offered, i) => {
      const start = input.from + i * SLOT_MS;
      return {
        start: new Date(start).toISOString(),
        offered,
        serviceLevel: offered ? slotInSl[i]! / offered : null,
        agents: rosterAt(start),
      };
    }),
  };
}
