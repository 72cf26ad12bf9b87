/**
 * The ACD's decisions: which waiting work item goes first and which agent should take it. Pure
 * functions over plain data with the clock passed in (ms); reading and claiming rows is the caller's
 * job, so the same code routes in production, in tests and in the simulator.
 */

export type ChannelClass = "voice" | "chat" | "email" | "messaging";

const CLASS_OF_CHANNEL: Readonly<Record<string, ChannelClass>> = {
  voice: "voice",
  webchat: "chat",
  email: "email",
  wechat: "messaging",
  slack: "messaging",
  sms: "messaging",
  whatsapp: "messaging",
  telegram: "messaging",
  // A business's own app posting through the API channel: a written thread like the messengers.
  api: "messaging",
};

/** Capacity is counted per class of channel: a WhatsApp thread and an SMS thread weigh the same. */
export function channelClass(channel: string): ChannelClass {
  const cls = Object.hasOwn(CLASS_OF_CHANNEL, channel) ? CLASS_OF_CHANNEL[channel] : undefined;
  // An unknown channel is a bug upstream; routing it as some other class would hide it.
  if (!cls) throw new Error(`Unknown channel "${channel}"`);
  return cls;
}

export type SkillRequirement = { skill: string; minLevel: number };

export type WorkItem = {
  id: string;
  queueId: string;
  channel: string;
  priority: number;
  enqueuedAt: number;
  requiredSkills: SkillRequirement[];
  contactId?: string;
  /** The agent this contact last worked with, preferred while `stickyUntil` is ahead. */
  stickyAgentId?: string | null;
  stickyUntil?: number | null;
};

export type Presence = "available" | "busy" | "away" | "wrap_up" | "offline";

export type Agent = {
  id: string;
  presence: Presence;
  /** Skill name → level 1–5. */
  skills: Record<string, number>;
  capacity: Record<ChannelClass, number>;
  /** Items held now per class, reserved ones included. */
  load: Record<ChannelClass, number>;
  /** When the agent last became free (ms). */
  idleSince: number;
};

export const DEFAULT_CAPACITY: Readonly<Record<ChannelClass, number>> = { voice: 1, chat: 3, email: 5, messaging: 4 };

export type RoutingOptions = {
  /** Priority points an item gains per minute waited, so old normal work eventually beats new VIP work. */
  agingPerMinute: number;
};

export const DEFAULT_ROUTING_OPTIONS: Readonly<RoutingOptions> = { agingPerMinute: 1 };

/** One routing decision: offer this item to this agent. */
export type Match = { itemId: string; agentId: string };

const MINUTE_MS = 60_000;

/**
 * Not clamped at zero wait: an item stamped slightly in the future by another node's clock just
 * ranks a hair lower, and the queue order stays the same whatever `now` is (aging is linear).
 */
export function effectivePriority(item: WorkItem, now: number, opts: RoutingOptions = DEFAULT_ROUTING_OPTIONS): number {
  return item.priority + (opts.agingPerMinute * (now - item.enqueuedAt)) / MINUTE_MS;
}

/** Highest effective priority first, then longest waiting, then id, so every node agrees on the order. */
export function orderQueue(
  items: readonly WorkItem[],
  now: number,
  opts: RoutingOptions = DEFAULT_ROUTING_OPTIONS,
): WorkItem[] {
  return items
    .map((item) => ({ item, key: effectivePriority(item, now, opts) }))
    .sort(
      (a, b) =>
        b.key - a.key ||
        a.item.enqueuedAt - b.item.enqueuedAt ||
        (a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : 0),
    )
    .map((k) => k.item);
}

/** "busy" means on work, possibly with room left in some channel; away, wrap-up and offline take nothing. */
function routable(presence: Presence): boolean {
  return presence === "available" || presence === "busy";
}

function levelOf(agent: Agent, skill: string): number {
  const level = agent.skills[skill];
  // A skill named like an Object.prototype member ("constructor") must not read as a level.
  return typeof level === "number" ? level : 0;
}

function hasSkills(agent: Agent, requirements: readonly SkillRequirement[]): boolean {
  for (const r of requirements) if (levelOf(agent, r.skill) < r.minLevel) return false;
  return true;
}

function totalOf(counts: Record<ChannelClass, number>): number {
  return counts.voice + counts.chat + counts.email + counts.messaging;
}

/** Voice is exclusive: a call needs an agent holding nothing, and an agent on a call takes nothing else. */
function hasRoom(
  capacity: Record<ChannelClass, number>,
  load: Record<ChannelClass, number>,
  totalLoad: number,
  cls: ChannelClass,
): boolean {
  // Written so a class missing from stored JSON (undefined) means no room rather than unlimited.
  if (!(load[cls] < capacity[cls])) return false;
  return cls === "voice" ? totalLoad === 0 : load.voice === 0;
}

export function canTake(agent: Agent, item: WorkItem): boolean {
  if (!routable(agent.presence) || !hasSkills(agent, item.requiredSkills)) return false;
  return hasRoom(agent.capacity, agent.load, totalOf(agent.load), channelClass(item.channel));
}

/** How far the agent exceeds the item's minimum levels; only meaningful for an agent who can take it. */
export function skillScore(agent: Agent, item: WorkItem): number {
  let score = 0;
  for (const r of item.requiredSkills) score += levelOf(agent, r.skill) - r.minLevel;
  return score;
}

function stickyWindowOpen(item: WorkItem, now: number): boolean {
  return item.stickyAgentId != null && item.stickyUntil != null && now < item.stickyUntil;
}

/** Signed in and soon free: whom an open sticky window waits for (routable, or in wrap-up). */
function present(presence: Presence): boolean {
  return routable(presence) || presence === "wrap_up";
}

/** What ranks one eligible agent against another for the same item. */
type Rank = { id: string; score: number; idleSince: number; occupancy: number };

/** Better skill match, then longest idle, then least occupied, then id (deterministic). */
function ranksBefore(a: Rank, b: Rank): boolean {
  if (a.score !== b.score) return a.score > b.score;
  if (a.idleSince !== b.idleSince) return a.idleSince < b.idleSince;
  if (a.occupancy !== b.occupancy) return a.occupancy < b.occupancy;
  return a.id < b.id;
}

function occupancyOf(totalLoad: number, totalCapacity: number): number {
  return totalCapacity > 0 ? totalLoad / totalCapacity : 1;
}

function rankOf(agent: Agent, item: WorkItem): Rank {
  return {
    id: agent.id,
    score: skillScore(agent, item),
    idleSince: agent.idleSince,
    occupancy: occupancyOf(totalOf(agent.load), totalOf(agent.capacity)),
  };
}

/** The best eligible agent for one item: the sticky agent while the window is open, else by rank. */
export function pickAgent(item: WorkItem, agents: readonly Agent[], now: number): Agent | undefined {
  if (stickyWindowOpen(item, now)) {
    const sticky = agents.find((a) => a.id === item.stickyAgentId);
    if (sticky && canTake(sticky, item)) return sticky;
    // "If available within N seconds": while the window is open, work waits for a sticky agent who
    // is signed in and able to do it (busy now, or wrapping up) rather than going to someone else.
    if (sticky && present(sticky.presence) && hasSkills(sticky, item.requiredSkills)) return undefined;
  }
  let best: Agent | undefined;
  let bestRank: Rank | undefined;
  for (const agent of agents) {
    if (!canTake(agent, item)) continue;
    const rank = rankOf(agent, item);
    if (!bestRank || ranksBefore(rank, bestRank)) {
      best = agent;
      bestRank = rank;
    }
  }
  return best;
}

/** An agent as `route` sees it while it hands out work: a private copy of the load. */
type Seat = {
  agent: Agent;
  load: Record<ChannelClass, number>;
  totalLoad: number;
  totalCapacity: number;
  /** Bumped on every match, so ranks computed before it are known to be stale. */
  version: number;
};

type Candidate = Rank & { seat: Seat; version: number };

/**
 * The agents who could take items of one kind (channel class + skill requirements), best last so
 * the best comes off with pop(). During one `route` call loads only grow, so an agent who has lost
 * room never gets it back, and a stale rank is only ever too good: taking the top, re-ranking it if
 * stale and dropping it if full is enough.
 */
class Pool {
  private readonly worstFirst: Candidate[];

  constructor(
    candidates: Candidate[],
    private readonly cls: ChannelClass,
  ) {
    this.worstFirst = candidates.sort((a, b) => (ranksBefore(a, b) ? 1 : ranksBefore(b, a) ? -1 : 0));
  }

  /** The best agent with room now, left in the pool. */
  best(): Seat | undefined {
    for (;;) {
      const top = this.worstFirst.at(-1);
      if (!top) return undefined;
      const s = top.seat;
      if (!hasRoom(s.agent.capacity, s.load, s.totalLoad, this.cls)) {
        this.worstFirst.pop();
      } else if (top.version !== s.version) {
        this.worstFirst.pop();
        this.insert(candidateOf(s, top.score));
      } else {
        return s;
      }
    }
  }

  private insert(c: Candidate) {
    let lo = 0;
    let hi = this.worstFirst.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ranksBefore(c, this.worstFirst[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    this.worstFirst.splice(lo, 0, c);
  }
}

function candidateOf(seat: Seat, score: number): Candidate {
  return {
    seat,
    version: seat.version,
    id: seat.agent.id,
    score,
    idleSince: seat.agent.idleSince,
    occupancy: occupancyOf(seat.totalLoad, seat.totalCapacity),
  };
}

function kindOf(cls: ChannelClass, requirements: readonly SkillRequirement[]): string {
  if (!requirements.length) return cls;
  return `${cls}|${requirements
    .map((r) => `${r.skill}\u0000${r.minLevel}`)
    .sort()
    .join("\u0001")}`;
}

/**
 * Greedy matching in queue order: each item goes to the agent `pickAgent` would choose given the
 * matches made before it (a matched agent is busy now, which still routes while it has room); an
 * item nobody can take is skipped, so a chat behind an unanswerable call still gets routed. Inputs
 * are not mutated.
 *
 * Items of one kind (channel class + skill requirements) share a ranked pool of agents built once,
 * from the agents holding the rarest required skill, so the cost is about one pass over the agents
 * per kind plus a little per item — and an item whose kind has no one left costs nothing.
 */
export function route(
  items: readonly WorkItem[],
  agents: readonly Agent[],
  now: number,
  opts: RoutingOptions = DEFAULT_ROUTING_OPTIONS,
): Match[] {
  const matches: Match[] = [];
  if (!items.length || !agents.length) return matches;

  const seats: Seat[] = [];
  for (const agent of agents) {
    if (!routable(agent.presence)) continue;
    const load = { ...agent.load };
    seats.push({ agent, load, totalLoad: totalOf(load), totalCapacity: totalOf(agent.capacity), version: 0 });
  }
  let seatById: Map<string, Seat> | undefined;
  let presentById: Map<string, Agent> | undefined;
  let seatsBySkill: Map<string, Seat[]> | undefined;
  const pools = new Map<string, Pool>();
  const matched = new Set<string>();

  const buildPool = (item: WorkItem, cls: ChannelClass) => {
    let source = seats;
    // The first kind scans every seat anyway; indexing only pays off from the second kind on.
    if (item.requiredSkills.length && pools.size > 0) {
      if (!seatsBySkill) {
        seatsBySkill = new Map();
        for (const s of seats) {
          for (const skill of Object.keys(s.agent.skills)) {
            const list = seatsBySkill.get(skill);
            if (list) list.push(s);
            else seatsBySkill.set(skill, [s]);
          }
        }
      }
      for (const r of item.requiredSkills) {
        const holders = seatsBySkill.get(r.skill) ?? [];
        if (holders.length < source.length) source = holders;
      }
    }
    const candidates: Candidate[] = [];
    for (const s of source) {
      if (hasSkills(s.agent, item.requiredSkills) && hasRoom(s.agent.capacity, s.load, s.totalLoad, cls)) {
        candidates.push(candidateOf(s, skillScore(s.agent, item)));
      }
    }
    return new Pool(candidates, cls);
  };

  for (const item of orderQueue(items, now, opts)) {
    if (matched.has(item.id)) continue; // the same item listed twice is still offered once
    const cls = channelClass(item.channel);
    let seat: Seat | undefined;
    if (stickyWindowOpen(item, now)) {
      seatById ??= new Map(seats.map((s) => [s.agent.id, s]));
      const sticky = seatById.get(item.stickyAgentId!);
      if (
        sticky &&
        hasSkills(sticky.agent, item.requiredSkills) &&
        hasRoom(sticky.agent.capacity, sticky.load, sticky.totalLoad, cls)
      ) {
        seat = sticky;
      } else {
        presentById ??= new Map(agents.filter((a) => present(a.presence)).map((a) => [a.id, a]));
        const awaited = presentById.get(item.stickyAgentId!);
        if (awaited && hasSkills(awaited, item.requiredSkills)) continue; // held for the sticky agent
      }
    }
    if (!seat) {
      const kind = kindOf(cls, item.requiredSkills);
      let pool = pools.get(kind);
      if (!pool) pools.set(kind, (pool = buildPool(item, cls)));
      seat = pool.best();
    }
    if (!seat) continue;
    seat.load[cls] += 1;
    seat.totalLoad += 1;
    seat.version += 1;
    matched.add(item.id);
    matches.push({ itemId: item.id, agentId: seat.agent.id });
  }
  return matches;
}
