import { describe, expect, it } from "bun:test";
import { agentsFor, erlangC } from "../routing/erlang.ts";
import { mulberry32 } from "../routing/planner.ts";
import { agentsForErlangA, erlangA } from "./erlang-a.ts";
import {
  chooseAlpha,
  errorOf,
  forecastWeek,
  heldOutError,
  smoothSlots,
  WEEK_SLOTS,
  type SlotSeries,
} from "./forecast.ts";
import { agentsNeeded, meanPatience } from "./staffing.ts";

/** Poisson by inversion (small means) from a seeded stream. */
function poisson(random: () => number, mean: number): number {
  const l = Math.exp(-mean);
  let k = 0;
  let p = random();
  while (p > l) {
    k++;
    p *= random();
  }
  return k;
}

/** A center's week: nothing at night, a morning and an afternoon peak, quieter weekends. */
function expectedAt(k: number): number {
  const day = Math.floor(k / 48);
  const hour = (k % 48) / 2;
  if (hour < 8 || hour >= 20) return 0.5;
  const peaks = 12 * Math.exp(-((hour - 10) ** 2) / 2) + 9 * Math.exp(-((hour - 15) ** 2) / 3);
  return (4 + peaks) * (day >= 5 ? 0.4 : 1);
}

function synthetic(weeks: number, seed: number): SlotSeries {
  const random = mulberry32(seed);
  const arrivals: number[] = [];
  const handleSum: number[] = [];
  for (let w = 0; w < weeks; w++)
    for (let k = 0; k < WEEK_SLOTS; k++) {
      const n = poisson(random, expectedAt(k));
      arrivals.push(n);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += -240 * Math.log(1 - random());
      handleSum.push(sum);
    }
  return { arrivals, handleSum, handled: arrivals.slice() };
}

describe("forecast", () => {
  it("smooths each weekday × half-hour slot across weeks", () => {
    const series = [...new Array(WEEK_SLOTS).fill(10), ...new Array(WEEK_SLOTS).fill(20)];
    expect(smoothSlots(series, 0.5)[0]).toBe(15);
    expect(smoothSlots(series, 1)[100]).toBe(20);
    expect(() => smoothSlots([1, 2, 3], 0.5)).toThrow();
  });

  it("keeps a long memory for a steady noisy series and a short one for a shifted series", () => {
    expect(chooseAlpha(synthetic(8, 3).arrivals)).toBeLessThanOrEqual(0.3);
    const shifted = synthetic(8, 3).arrivals.map((x, i) => (i >= 5 * WEEK_SLOTS ? x + 40 : x));
    expect(chooseAlpha(shifted)).toBeGreaterThanOrEqual(0.6);
  });

  // Poisson noise alone puts a floor under any forecast: even the true means score about 0.34 WAPE
  // here (the quiet night slots weigh heavily), so the bound is set against that floor.
  for (const seed of [1, 2, 3]) {
    it(`forecasts a seasonal series with noise (seed ${seed}) within 15% of the true means' error, beating the naive forecast`, () => {
      const series = synthetic(8, seed);
      const error = heldOutError(series, 4);
      const truth = Array.from({ length: 4 * WEEK_SLOTS }, (_, i) => expectedAt(i % WEEK_SLOTS));
      const floor = errorOf(truth, series.arrivals.slice(4 * WEEK_SLOTS)).wape!;
      expect(error.weeks).toBe(4);
      expect(error.wape!).toBeLessThan(0.42);
      expect(error.wape!).toBeLessThan(floor * 1.15);
      expect(error.wape!).toBeLessThan(error.naiveWape! * 0.9);
      expect(error.mae!).toBeGreaterThan(0);
      expect(error.mape!).toBeGreaterThan(0);
    });
  }

  it("forecasts handle time near the true mean and falls back to the overall mean in empty slots", () => {
    const f = forecastWeek(synthetic(8, 5));
    const peak = 10 * 2; // Monday 10:00
    expect(Math.abs(f.ahtS[peak]! - 240)).toBeLessThan(40);
    const none = forecastWeek({ arrivals: new Array(WEEK_SLOTS).fill(0), handleSum: [], handled: [] });
    expect(none.ahtS[0]).toBeNull();
  });

  it("leaves slots not observed yet out, instead of reading them as quiet", () => {
    const series = synthetic(4, 9);
    const smoothed = forecastWeek(series).arrivals;
    // The last week's Monday afternoon onwards has not happened yet.
    const partial = {
      arrivals: series.arrivals.map((x, i) => (i >= 3 * WEEK_SLOTS + 30 ? NaN : x)),
      handleSum: series.handleSum.map((x, i) => (i >= 3 * WEEK_SLOTS + 30 ? NaN : x)),
      handled: series.handled.map((x, i) => (i >= 3 * WEEK_SLOTS + 30 ? NaN : x)),
    };
    const f = forecastWeek(partial);
    const afternoon = 15 * 2;
    expect(f.arrivals[afternoon]).toBeGreaterThan(0);
    expect(f.arrivals[afternoon]).not.toBe(smoothed[afternoon]);
    // With the same α, an unobserved slot is what the three observed weeks made of it.
    const observed = smoothSlots(series.arrivals.slice(0, 3 * WEEK_SLOTS), f.alpha);
    expect(f.arrivals[afternoon]).toBeCloseTo(observed[afternoon]!, 10);
    expect(f.ahtS.every((x) => x !== null && Number.isFinite(x))).toBe(true);
    expect(errorOf([1, 2, NaN], [2, NaN, 5])).toMatchObject({ absSum: 1, actualSum: 2, mae: 1 });
  });

  it("holds nothing out of a single week", () => {
    const e = heldOutError(synthetic(1, 1));
    expect(e).toEqual({ weeks: 0, wape: null, mape: null, mae: null, naiveWape: null });
  });
});

describe("staffing", () => {
  const target = { serviceLevel: 0.8, targetSeconds: 20, patienceSeconds: null, shrinkage: 0 };

  it("staffs an interval as erlang.ts does when patience is unknown", () => {
    // 180 arrivals in 30 minutes = 360 per hour.
    expect(agentsNeeded(180, 240, 1800, target)).toBe(
      agentsFor({ arrivalsPerHour: 360, ahtSeconds: 240, targetServiceLevel: 0.8, targetSeconds: 20 }),
    );
    expect(agentsNeeded(0, 240, 1800, target)).toBe(0);
    expect(agentsNeeded(10, null, 1800, target)).toBe(0);
  });

  it("grosses agents up for shrinkage", () => {
    const net = agentsNeeded(180, 240, 1800, target);
    expect(agentsNeeded(180, 240, 1800, { ...target, shrinkage: 0.3 })).toBe(Math.ceil(net / 0.7));
  });

  it("Erlang A tends to Erlang C as patience grows, and needs fewer agents with impatient customers", () => {
    for (const agents of [26, 28, 30]) {
      const c = erlangC({ arrivalsPerHour: 360, ahtSeconds: 240, agents, targetSeconds: 20 });
      const a = erlangA({ arrivalsPerHour: 360, ahtSeconds: 240, agents, patienceSeconds: 1e7, targetSeconds: 20 });
      expect(Math.abs(a.serviceLevel - c.service_level["20"])).toBeLessThan(0.005);
      expect(a.abandonment).toBeLessThan(0.001);
    }
    const common = { arrivalsPerHour: 360, ahtSeconds: 240, targetSeconds: 20, targetServiceLevel: 0.8 };
    expect(agentsForErlangA({ ...common, patienceSeconds: 1e7 })).toBe(agentsFor(common));
    expect(agentsForErlangA({ ...common, patienceSeconds: 30 })).toBeLessThan(agentsFor(common));
    expect(agentsNeeded(180, 240, 1800, { ...target, patienceSeconds: 30 })).toBeLessThan(
      agentsNeeded(180, 240, 1800, target),
    );
  });

  it("estimates patience from waits that ended either way, and only from enough hang-ups", () => {
    expect(meanPatience(6000, 20)).toBe(300);
    expect(meanPatience(6000, 3)).toBeNull();
  });
});
