import { describe, expect, it } from "bun:test";
import { Invalid } from "../platform/errors.ts";
import { agentsFor, erlangB, erlangC } from "./erlang.ts";

/**
 * Erlang C the textbook way, independent of the recursion under test:
 *   C(N, A) = (A^N/N! · N/(N−A)) / (Σ_{k<N} A^k/k! + A^N/N! · N/(N−A)),
 * summed in logarithms (log k! as a sum of logs) so it also works where A^N and N! overflow.
 */
function erlangCBySums(a: number, n: number): number {
  const logTerm = (k: number) => {
    let logFactorial = 0;
    for (let i = 2; i <= k; i++) logFactorial += Math.log(i);
    return k * Math.log(a) - logFactorial;
  };
  const logTail = logTerm(n) + Math.log(n / (n - a));
  const logs = [...Array.from({ length: n }, (_, k) => logTerm(k)), logTail];
  const max = Math.max(...logs);
  const total = logs.reduce((sum, l) => sum + Math.exp(l - max), 0);
  return Math.exp(logTail - max) / total;
}

describe("Erlang C", () => {
  it("matches a case worked by hand: 2 Erlangs on 3 agents wait with probability 4/9", () => {
    // Σ_{k<3} 2^k/k! = 1 + 2 + 2 = 5; tail 2³/3! · 3/(3−2) = 4; C = 4 / (5 + 4).
    const r = erlangC({ arrivalsPerHour: 60, ahtSeconds: 120, agents: 3 });
    expect(r.trafficErlangs).toBe(2);
    expect(r.pw).toBeCloseTo(4 / 9, 12);
    expect(r.asa_s).toBeCloseTo(((4 / 9) * 120) / (3 - 2), 9);
    expect(r.occupancy).toBeCloseTo(2 / 3, 12);
  });

  it("agrees with the direct sums across small and large centers", () => {
    for (const [a, n] of [
      [0.5, 1],
      [2, 3],
      [24, 25],
      [24, 28],
      [24, 30],
      [24, 40],
      [95.5, 100],
      [480, 500], // far past where A^N/N! fits in a double
    ] as const) {
      const pw = erlangC({ arrivalsPerHour: a * 3600, ahtSeconds: 1, agents: n }).pw;
      expect(Math.abs(pw - erlangCBySums(a, n))).toBeLessThan(1e-9);
    }
  });

  it("360 calls an hour at 240 s is 24 Erlangs; 30 agents wait 17.3% of the time", () => {
    // Not the "≈ 0.22" sometimes remembered for this case: the direct sums give C(30, 24) = 0.17286…
    const r = erlangC({ arrivalsPerHour: 360, ahtSeconds: 240, agents: 30 });
    expect(r.trafficErlangs).toBe(24);
    expect(r.pw).toBeCloseTo(erlangCBySums(24, 30), 12);
    expect(r.pw).toBeCloseTo(0.17286, 5);
    expect(r.asa_s).toBeCloseTo((r.pw * 240) / 6, 9); // Pw · AHT / (N − A) ≈ 6.9 s
    expect(r.service_level["20"]).toBeCloseTo(1 - r.pw * Math.exp((-6 * 20) / 240), 12); // ≈ 89.5%
    expect(r.occupancy).toBeCloseTo(0.8, 12);
  });

  it("reports every standard service level, rising with the wait, and the target's when asked", () => {
    const r = erlangC({ arrivalsPerHour: 360, ahtSeconds: 240, agents: 28, targetSeconds: 45 });
    const levels = ["10", "15", "20", "30", "45", "60"].map((k) => r.service_level[k]!);
    expect(levels.every((x, i) => i === 0 || x > levels[i - 1]!)).toBe(true);
    expect(Object.keys(r.service_level).sort()).toEqual(["10", "15", "20", "30", "45", "60"]);
  });

  it("waits less with every agent added", () => {
    let previous = 1;
    for (let n = 25; n <= 40; n++) {
      const pw = erlangC({ arrivalsPerHour: 360, ahtSeconds: 240, agents: n }).pw;
      expect(pw).toBeLessThan(previous);
      previous = pw;
    }
  });

  it("calls a queue with no more agents than Erlangs unstable: everyone waits, no finite average wait", () => {
    for (const agents of [0, 23, 24]) {
      const r = erlangC({ arrivalsPerHour: 360, ahtSeconds: 240, agents });
      expect(r).toMatchObject({ pw: 1, asa_s: null, occupancy: 1 });
      expect(Object.values(r.service_level).every((x) => x === 0)).toBe(true);
    }
  });

  it("has nobody wait when nothing arrives", () => {
    expect(erlangC({ arrivalsPerHour: 0, ahtSeconds: 240, agents: 3 })).toMatchObject({
      trafficErlangs: 0,
      pw: 0,
      asa_s: 0,
      occupancy: 0,
    });
  });

  it("rejects impossible inputs", () => {
    expect(() => erlangC({ arrivalsPerHour: -1, ahtSeconds: 240, agents: 3 })).toThrow(Invalid);
    expect(() => erlangC({ arrivalsPerHour: 10, ahtSeconds: NaN, agents: 3 })).toThrow(Invalid);
    expect(() => erlangC({ arrivalsPerHour: 10, ahtSeconds: 240, agents: 2.5 })).toThrow(Invalid);
  });

  it("computes Erlang B by recursion without overflow", () => {
    // B(1, A) = A / (1 + A); B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2.
    expect(erlangB(3, 1)).toBeCloseTo(0.75, 12);
    expect(erlangB(1, 2)).toBeCloseTo(0.2, 12);
    const b = erlangB(1000, 1100);
    expect(b).toBeGreaterThan(0);
    expect(b).toBeLessThan(1);
  });
});

describe("staffing", () => {
  it("finds the fewest agents that answer 80% within 20 s", () => {
    const target = { arrivalsPerHour: 360, ahtSeconds: 240, targetServiceLevel: 0.8, targetSeconds: 20 };
    const n = agentsFor(target);
    const level = (agents: number) => erlangC({ arrivalsPerHour: 360, ahtSeconds: 240, agents }).service_level["20"];
    expect(level(n)).toBeGreaterThanOrEqual(0.8);
    expect(level(n - 1)).toBeLessThan(0.8);
    expect(n).toBe(29);
  });

  it("staffs above the traffic even for a lax target, and no one for no traffic", () => {
    expect(agentsFor({ arrivalsPerHour: 360, ahtSeconds: 240, targetServiceLevel: 0, targetSeconds: 20 })).toBe(25);
    expect(agentsFor({ arrivalsPerHour: 0, ahtSeconds: 240, targetServiceLevel: 0.8, targetSeconds: 20 })).toBe(0);
  });

  it("refuses a target no staff can reach", () => {
    expect(() =>
      agentsFor({ arrivalsPerHour: 360, ahtSeconds: 240, targetServiceLevel: 1, targetSeconds: 20 }),
    ).toThrow(Invalid);
  });
});
