import { describe, expect, it } from "bun:test";
import { DEFAULT_CAPACITY } from "../routing/acd.ts";
import { erlangC } from "../routing/erlang.ts";
import { erlangA } from "./erlang-a.ts";
import { mulberry32 } from "../routing/planner.ts";
import { Invalid } from "../platform/errors.ts";
import { SLOT_MS } from "./forecast.ts";
import {
  replay,
  type ReplayAgent,
  type ReplayArrival,
  type ReplayInput,
  type ReplayQueue,
  type Shift,
} from "./replay.ts";

const HOUR = 3_600_000;
const FROM = Date.UTC(2026, 0, 5);

/** Poisson arrivals with exponential handle times (and patience when given), from a seeded stream. */
function poissonArrivals(o: {
  ratePerHour: number;
  aht: number;
  hours: number;
  seed: number;
  queueId?: string;
  patience?: number;
  channel?: string;
}) {
  const random = mulberry32(o.seed);
  const exp = (mean: number) => -mean * Math.log(1 - random());
  const out: ReplayArrival[] = [];
  for (let t = FROM + exp(HOUR / o.ratePerHour); t < FROM + o.hours * HOUR; t += exp(HOUR / o.ratePerHour)) {
    out.push({
      id: `${o.queueId ?? "q"}-${out.length}`,
      queueId: o.queueId ?? "q",
      channel: o.channel ?? "voice",
      at: t,
      handleS: exp(o.aht),
      patienceS: o.patience ? exp(o.patience) : null,
    });
  }
  return out;
}

function agents(n: number, skills: Record<string, number> = { support: 1 }, prefix = "a"): ReplayAgent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${String(i).padStart(4, "0")}`,
    skills,
    capacity: { ...DEFAULT_CAPACITY },
  }));
}

/** The same agents on duty in every half-hour of the period. */
function allDay(hours: number, ids: string[]): Shift[] {
  return Array.from({ length: (hours * HOUR) / SLOT_MS }, (_, i) => ({
    start: FROM + i * SLOT_MS,
    end: FROM + (i + 1) * SLOT_MS,
    agentIds: ids,
  }));
}

const queue = (id = "q", over: Partial<ReplayQueue> = {}): ReplayQueue => ({
  id,
  requiredSkills: [{ skill: "support", minLevel: 1 }],
  overflow: [],
  serviceLevelS: 20,
  priority: 0,
  ...over,
});

function input(hours: number, arrivals: ReplayArrival[], team: ReplayAgent[], queues = [queue()]): ReplayInput {
  return {
    from: FROM,
    to: FROM + hours * HOUR,
    queues,
    arrivals,
    agents: team,
    shifts: allDay(
      hours,
      team.map((a) => a.id),
    ),
  };
}

describe("replay through the ACD", () => {
  // 300 hours of Poisson traffic (about 108,000 calls): the sampling noise on the 20 s service level
  // is about ±0.015 there, on ASA about ±12%, measured over seeds.
  const hours = 300;
  const arrivals = poissonArrivals({ ratePerHour: 360, aht: 240, hours, seed: 11 });

  it("matches Erlang C on Poisson arrivals, and more agents give a higher service level", () => {
    const results = [26, 28, 30].map((n) => ({ n, r: replay(input(hours, arrivals, agents(n))) }));
    for (const { n, r } of results) {
      const e = erlangC({ arrivalsPerHour: 360, ahtSeconds: 240, agents: n });
      expect(r.offered).toBe(arrivals.length);
      expect(r.abandoned).toBe(0);
      expect(Math.abs(r.serviceLevel! - e.service_level["20"])).toBeLessThan(0.04);
      expect(Math.abs(r.asaS! / e.asa_s! - 1)).toBeLessThan(0.3);
    }
    expect(results[1]!.r.serviceLevel!).toBeGreaterThan(results[0]!.r.serviceLevel!);
    expect(results[2]!.r.serviceLevel!).toBeGreaterThan(results[1]!.r.serviceLevel!);
    expect(results[2]!.r.asaS!).toBeLessThan(results[0]!.r.asaS!);
  });

  // The replay and reports/erlang-a.ts know nothing of each other: agreeing checks both.
  for (const [n, patience] of [
    [24, 60],
    [26, 180],
  ] as const) {
    it(`matches Erlang A with impatient callers (${n} agents, patience ${patience} s)`, () => {
      const calls = poissonArrivals({ ratePerHour: 360, aht: 240, hours: 200, seed: 5, patience });
      const r = replay(input(200, calls, agents(n)));
      const e = erlangA({
        arrivalsPerHour: 360,
        ahtSeconds: 240,
        patienceSeconds: patience,
        agents: n,
        targetSeconds: 20,
      });
      expect(Math.abs(r.serviceLevel! - e.serviceLevel)).toBeLessThan(0.025);
      expect(Math.abs(r.abandonment! - e.abandonment)).toBeLessThan(0.01);
    });
  }

  it("loses impatient customers, and fewer when more agents answer", () => {
    const impatient = poissonArrivals({ ratePerHour: 360, aht: 240, hours: 50, seed: 3, patience: 60 });
    const few = replay(input(50, impatient, agents(23)));
    const many = replay(input(50, impatient, agents(27)));
    expect(few.abandoned).toBeGreaterThan(0);
    expect(few.answered + few.abandoned).toBe(few.offered);
    expect(many.abandonment!).toBeLessThan(few.abandonment!);
  });

  it("serves only while agents are on duty", () => {
    const team = agents(5);
    const shifts = allDay(
      4,
      team.map((a) => a.id),
    ).map((s, i) => (i < 4 ? { ...s, agentIds: [] } : s));
    const calls = poissonArrivals({ ratePerHour: 30, aht: 120, hours: 4, seed: 5 });
    const r = replay({ ...input(4, calls, team), shifts });
    const firstHours = r.intervals.slice(0, 4).filter((i) => i.offered);
    const later = r.intervals.slice(5).filter((i) => i.offered);
    expect(firstHours.every((i) => i.serviceLevel === 0)).toBe(true);
    expect(later.some((i) => i.serviceLevel! > 0)).toBe(true);
    expect(r.intervals[0]!.agents).toBe(0);
    expect(r.intervals[7]!.agents).toBe(5);
  });

  it("applies overflow steps when they come due: wider skills, another queue", () => {
    const calls = poissonArrivals({ ratePerHour: 20, aht: 60, hours: 2, seed: 8, queueId: "billing" });
    const team = agents(3, { support: 2 });
    const billing = queue("billing", { requiredSkills: [{ skill: "billing", minLevel: 1 }] });
    // Nobody holds "billing": without a step nobody is answered.
    expect(replay(input(2, calls, team, [billing])).answered).toBe(0);
    const widened = replay(
      input(2, calls, team, [
        {
          ...billing,
          overflow: [{ afterSeconds: 30, action: "widen_skills", skills: [{ skill: "support", minLevel: 1 }] }],
        },
      ]),
    );
    expect(widened.answered).toBe(calls.length);
    // Every wait is at least the 30 s before the step: none within 20 s.
    expect(widened.serviceLevel).toBe(0);
    expect(widened.asaS!).toBeGreaterThanOrEqual(30);
    const moved = replay(
      input(2, calls, team, [
        { ...billing, overflow: [{ afterSeconds: 10, action: "move_queue", queueId: "q" }] },
        queue(),
      ]),
    );
    expect(moved.answered).toBe(calls.length);
    // Counted in the queue it was offered to.
    expect(moved.queues.billing!.answered).toBe(calls.length);
    expect(moved.queues.q!.offered).toBe(0);
  });

  it("answers the higher-priority queue first when agents are short", () => {
    const a = poissonArrivals({ ratePerHour: 180, aht: 240, hours: 20, seed: 21, queueId: "a" });
    const b = poissonArrivals({ ratePerHour: 180, aht: 240, hours: 20, seed: 22, queueId: "b" });
    const arrivals = [...a, ...b].sort((x, y) => x.at - y.at);
    const team = agents(25);
    const even = replay(input(20, arrivals, team, [queue("a"), queue("b")]));
    const first = replay(input(20, arrivals, team, [queue("a", { priority: 30 }), queue("b")]));
    expect(first.queues.a!.serviceLevel!).toBeGreaterThan(even.queues.a!.serviceLevel!);
    expect(first.queues.b!.serviceLevel!).toBeLessThan(even.queues.b!.serviceLevel!);
  });

  it("gives up past its time budget, naming the period", () => {
    let field: string | undefined;
    try {
      replay({ ...input(hours, arrivals, agents(28)), budgetMs: 0 });
    } catch (err) {
      field = err instanceof Invalid ? err.field : "other";
    }
    expect(field).toBe("to");
  });

  it("gives chat agents several chats at once, within their capacity", () => {
    const chats = poissonArrivals({ ratePerHour: 60, aht: 600, hours: 4, seed: 4, channel: "webchat" });
    // Traffic is 10 Erlangs: 4 agents taking 3 chats each keep up, 4 taking one each could not.
    const r = replay(input(4, chats, agents(4)));
    expect(r.answered).toBe(chats.length);
    expect(r.serviceLevel!).toBeGreaterThan(0.5);
  });
});
