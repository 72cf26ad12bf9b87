import { DEFAULT_CAPACITY, route, type Agent, type WorkItem } from "./acd.ts";
import { erlangC, SERVICE_LEVEL_SECONDS, type ServiceLevels } from "./erlang.ts";
import { Invalid } from "../platform/errors.ts";
import { accept, OFFER_TIMEOUT_MS, reserve } from "./reservation.ts";

/**
 * A discrete-event simulation of one voice queue that lets the real ACD (`route`, then `reserve` and
 * an immediate `accept`) decide every assignment, so its numbers can be held against Erlang C and
 * the routing code exercised at volumes no test database reaches.
 *
 * Poisson arrivals, exponential handle times, optional exponential patience, a seeded PRNG and a
 * simulated clock: the same input gives the same output, bit for bit.
 */

export type SimulationInput = {
  ratePerHour: number;
  ahtSeconds: number;
  agents: number;
  hours: number;
  /** Mean time a caller waits before hanging up; absent or null: callers never hang up. */
  patienceSeconds?: number | null;
  seed: number;
};

export type SimulationResult = {
  /** Arrivals in the first `hours`; every one is then followed to its end (answered or abandoned). */
  offered: number;
  answered: number;
  abandoned: number;
  /** Fraction of offered items that found no free agent and waited (Erlang C's Pw, measured). */
  pw: number;
  /** Mean wait of answered items, those answered at once counting 0; null when none was answered. */
  asa_s: number | null;
  /** Answered within t seconds, as a fraction of offered: an abandoned item counts as a miss. */
  service_level: ServiceLevels;
  /** Agent time spent handling, as a fraction of all agent time in the first `hours`. */
  occupancy: number;
  /** Erlang C for the same rate, handle time and agents (it knows nothing of patience). */
  erlang_c: { pw: number; asa_s: number | null; service_level: ServiceLevels; occupancy: number };
};

/** mulberry32: tiny, fast and good enough for queueing (and for tests' random inputs); uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Separate streams for arrivals, handle times and patience, so turning patience on does not change
 * who arrives when or how long each call takes (common random numbers between runs).
 */
function streams(seed: number) {
  const base = (seed ^ Math.floor(seed / 4294967296)) >>> 0;
  const stream = (salt: number) => mulberry32(Math.imul(base ^ salt, 0x9e3779b1) ^ salt);
  return { arrivals: stream(0x1b873593), handling: stream(0x85ebca6b), patience: stream(0xc2b2ae35) };
}

function exponential(random: () => number, mean: number): number {
  return -mean * Math.log(1 - random());
}

/**
 * The pending events, earliest first: one next arrival at most, plus one completion per busy agent,
 * so it never holds more than agents + 1. A completion sorts before an arrival at the same instant:
 * the agent is free first.
 */
class EventHeap {
  private readonly times: Float64Array;
  /** Agent index for a completion, ARRIVAL for the next arrival. */
  private readonly what: Int32Array;
  size = 0;

  constructor(capacity: number) {
    this.times = new Float64Array(capacity);
    this.what = new Int32Array(capacity);
  }

  private before(i: number, j: number): boolean {
    const ti = this.times[i]!;
    const tj = this.times[j]!;
    return ti < tj || (ti === tj && this.what[i]! > this.what[j]!);
  }

  private swap(i: number, j: number) {
    const t = this.times[i]!;
    this.times[i] = this.times[j]!;
    this.times[j] = t;
    const w = this.what[i]!;
    this.what[i] = this.what[j]!;
    this.what[j] = w;
  }

  push(time: number, what: number) {
    let i = this.size++;
    this.times[i] = time;
    this.what[i] = what;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  topTime(): number {
    return this.times[0]!;
  }

  topWhat(): number {
    return this.what[0]!;
  }

  pop() {
    const last = --this.size;
    this.swap(0, last);
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= last) break;
      const r = l + 1;
      const c = r < last && this.before(r, l) ? r : l;
      if (!this.before(c, i)) break;
      this.swap(c, i);
      i = c;
    }
  }
}

const ARRIVAL = -1;
const SKILL = "support";
const REQUIRED_SKILLS = [{ skill: SKILL, minLevel: 1 }];

/** A caller in the queue; `done` once answered or gone. */
type Waiting = { item: WorkItem; abandonAt: number; done: boolean };

function validate(input: SimulationInput) {
  const positive = (field: keyof SimulationInput, value: number) => {
    if (!Number.isFinite(value) || value <= 0) throw new Invalid(`${field} must be a number > 0`, field);
  };
  positive("ratePerHour", input.ratePerHour);
  positive("ahtSeconds", input.ahtSeconds);
  positive("hours", input.hours);
  if (input.patienceSeconds != null) positive("patienceSeconds", input.patienceSeconds);
  if (!Number.isSafeInteger(input.agents) || input.agents < 1)
    throw new Invalid("agents must be a whole number ≥ 1", "agents");
  if (!Number.isSafeInteger(input.seed) || input.seed < 0) throw new Invalid("seed must be a whole number ≥ 0", "seed");
}

/** Throws `Invalid` (with the input's field name) for a non-positive rate, handle time, hours or patience, or bad counts. */
export function simulate(input: SimulationInput): SimulationResult {
  validate(input);
  const { ratePerHour, ahtSeconds, agents: agentCount, hours, seed } = input;
  const patienceSeconds = input.patienceSeconds ?? null;
  const random = streams(seed);
  const meanGapMs = 3_600_000 / ratePerHour;
  const ahtMs = ahtSeconds * 1000;
  const patienceMs = patienceSeconds === null ? null : patienceSeconds * 1000;
  const horizon = hours * 3_600_000;
  const thresholdsMs = SERVICE_LEVEL_SECONDS.map((s) => s * 1000);

  const agents: Agent[] = [];
  for (let i = 0; i < agentCount; i++) {
    agents.push({
      id: `agent-${String(i).padStart(6, "0")}`,
      presence: "available",
      skills: { [SKILL]: 1 },
      capacity: { ...DEFAULT_CAPACITY, chat: 0, email: 0, messaging: 0 },
      load: { voice: 0, chat: 0, email: 0, messaging: 0 },
      idleSince: 0,
    });
  }
  const indexOf = new Map(agents.map((a, i) => [a.id, i]));
  // Free agents in an array route() can read as is, with O(1) removal by swapping with the last.
  const free: Agent[] = [...agents];
  const freeSlot = Int32Array.from(agents, (_, i) => i);

  let queue: Waiting[] = [];
  let head = 0;
  const events = new EventHeap(agentCount + 1);

  let offered = 0;
  let answered = 0;
  let abandoned = 0;
  let answeredAtOnce = 0;
  let totalWaitMs = 0;
  let busyMs = 0;
  let reservations = 0;
  const withinThreshold = thresholdsMs.map(() => 0);

  const takeFree = (agentIndex: number) => {
    const slot = freeSlot[agentIndex]!;
    const last = free.pop()!;
    if (slot < free.length) {
      free[slot] = last;
      freeSlot[indexOf.get(last.id)!] = slot;
    }
    freeSlot[agentIndex] = -1;
  };

  /**
   * Offers waiting callers to free agents through the ACD. Every caller wants the same skill and
   * waits with the same priority, so the queue's order is arrival order (aging is linear) and only
   * its first (free agents) live callers can be matched: those are all route() needs to see.
   */
  const dispatch = (now: number) => {
    if (!free.length) return;
    const offeredNow: Waiting[] = [];
    for (let i = head; i < queue.length && offeredNow.length < free.length; i++) {
      const w = queue[i]!;
      if (w.done) continue;
      if (w.abandonAt <= now) {
        w.done = true;
        abandoned++;
        continue;
      }
      offeredNow.push(w);
    }
    while (head < queue.length && queue[head]!.done) head++;
    if (head > 4096 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    if (!offeredNow.length) return;

    for (const match of route(
      offeredNow.map((w) => w.item),
      free,
      now,
    )) {
      const w = offeredNow.find((o) => o.item.id === match.itemId)!;
      const agentIndex = indexOf.get(match.agentId)!;
      const agent = agents[agentIndex]!;
      // The simulated agent always answers, at once.
      accept(reserve(w.item.id, agent.id, now, OFFER_TIMEOUT_MS.voice, `r${++reservations}`), agent.id, now);
      w.done = true;
      takeFree(agentIndex);
      agent.presence = "busy";
      agent.load.voice = 1;

      const wait = now - w.item.enqueuedAt;
      answered++;
      if (wait === 0) answeredAtOnce++;
      totalWaitMs += wait;
      for (let k = 0; k < thresholdsMs.length; k++) if (wait <= thresholdsMs[k]!) withinThreshold[k]!++;
      const end = now + exponential(random.handling, ahtMs);
      busyMs += Math.min(end, horizon) - Math.min(now, horizon);
      events.push(end, agentIndex);
    }
    while (head < queue.length && queue[head]!.done) head++;
  };

  const firstArrival = exponential(random.arrivals, meanGapMs);
  if (firstArrival < horizon) events.push(firstArrival, ARRIVAL);

  while (events.size) {
    const now = events.topTime();
    const what = events.topWhat();
    events.pop();
    if (what === ARRIVAL) {
      offered++;
      queue.push({
        item: {
          id: `c${offered}`,
          queueId: "simulated",
          channel: "voice",
          priority: 0,
          enqueuedAt: now,
          requiredSkills: REQUIRED_SKILLS,
        },
        abandonAt: patienceMs === null ? Infinity : now + exponential(random.patience, patienceMs),
        done: false,
      });
      const next = now + exponential(random.arrivals, meanGapMs);
      if (next < horizon) events.push(next, ARRIVAL);
    } else {
      const agent = agents[what]!;
      agent.presence = "available";
      agent.load.voice = 0;
      agent.idleSince = now;
      freeSlot[what] = free.length;
      free.push(agent);
    }
    dispatch(now);
  }
  // No events left: every agent is free, so the last dispatch answered or dropped everyone waiting.

  const fraction = (n: number) => (offered ? n / offered : 0);
  const service_level = {} as ServiceLevels;
  SERVICE_LEVEL_SECONDS.forEach((s, k) => (service_level[`${s}`] = fraction(withinThreshold[k]!)));
  const erlang = erlangC({ arrivalsPerHour: ratePerHour, ahtSeconds, agents: agentCount });
  return {
    offered,
    answered,
    abandoned,
    pw: fraction(offered - answeredAtOnce),
    asa_s: answered ? totalWaitMs / answered / 1000 : null,
    service_level,
    occupancy: busyMs / (agentCount * horizon),
    erlang_c: { pw: erlang.pw, asa_s: erlang.asa_s, service_level: erlang.service_level, occupancy: erlang.occupancy },
  };
}
