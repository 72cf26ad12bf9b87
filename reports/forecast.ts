/**
 * Forecasting arrivals and handle time per 30-minute interval: seasonal exponential smoothing, pure
 * functions over arrays (docs/forecast.md).
 *
 * History is a whole number of weeks of 336 half-hour slots, oldest first, each week starting at the
 * same local weekday and time as the forecast. Each slot (weekday × half-hour) is smoothed across the
 * weeks on its own: s ← α·x + (1 − α)·s, starting from the first week. The forecast of a slot for every
 * week ahead is its last smoothed value (no trend: contact volumes move by season far more than by
 * week). α is picked from a grid by the smallest one-week-ahead error over the history itself, so a
 * steady series gets a long memory (small α) and a shifting one a short memory.
 */

export const SLOT_MS = 1_800_000;
export const WEEK_SLOTS = 336;
export const ALPHAS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1] as const;

/** Per slot of the history (weeks × 336, oldest first). */
export type SlotSeries = {
  arrivals: number[];
  /** Sum of handle seconds of the interactions answered in the slot, and how many. */
  handleSum: number[];
  handled: number[];
};

export type ForecastWeek = {
  /** Arrivals per slot (336), not rounded: an expected count. */
  arrivals: number[];
  /** Mean handle seconds per slot (336); null when no interaction was ever handled. */
  ahtS: (number | null)[];
  alpha: number;
};

export type ForecastError = {
  /** Weeks held out (each forecast from the weeks before it only). */
  weeks: number;
  /** Σ|forecast − actual| / Σ actual, over every interval of the held-out weeks; null without arrivals. */
  wape: number | null;
  /** Mean of |forecast − actual| / actual over the intervals with arrivals; null without any. */
  mape: number | null;
  /** Mean |forecast − actual| per interval, in arrivals. */
  mae: number | null;
  /** The WAPE of the seasonal naive forecast (the same slot a week earlier), to compare against. */
  naiveWape: number | null;
};

function weeksOf(series: readonly number[]): number {
  if (series.length % WEEK_SLOTS !== 0) throw new Error(`History must be whole weeks of ${WEEK_SLOTS} slots`);
  return series.length / WEEK_SLOTS;
}

/**
 * Each slot smoothed across the weeks with α; the result is the one-week-ahead forecast (336 values).
 * NaN marks a slot not observed yet (the rest of today when the forecast starts tomorrow): it leaves the
 * slot's value as it was instead of pulling it toward zero. A slot never observed forecasts 0.
 */
export function smoothSlots(series: readonly number[], alpha: number): number[] {
  const weeks = weeksOf(series);
  const s = new Array<number>(WEEK_SLOTS).fill(NaN);
  for (let w = 0; w < weeks; w++)
    for (let k = 0; k < WEEK_SLOTS; k++) {
      const x = series[w * WEEK_SLOTS + k]!;
      if (Number.isNaN(x)) continue;
      s[k] = Number.isNaN(s[k]!) ? x : alpha * x + (1 - alpha) * s[k]!;
    }
  return s.map((v) => (Number.isNaN(v) ? 0 : v));
}

/** The α of the grid with the smallest sum of one-week-ahead absolute errors (ties: the smaller α). */
export function chooseAlpha(series: readonly number[]): number {
  const weeks = weeksOf(series);
  if (weeks < 3) return 0.5;
  let best: number = ALPHAS[0];
  let bestError = Infinity;
  for (const alpha of ALPHAS) {
    const s = new Array<number>(WEEK_SLOTS).fill(NaN);
    let error = 0;
    for (let w = 0; w < weeks; w++) {
      for (let k = 0; k < WEEK_SLOTS; k++) {
        const x = series[w * WEEK_SLOTS + k]!;
        if (Number.isNaN(x)) continue;
        if (Number.isNaN(s[k]!)) {
          s[k] = x;
          continue;
        }
        error += Math.abs(x - s[k]!);
        s[k] = alpha * x + (1 - alpha) * s[k]!;
      }
    }
    if (error < bestError - 1e-9) {
      best = alpha;
      bestError = error;
    }
  }
  return best;
}

/**
 * A slot's handle time is pulled toward the history's overall mean by this many interactions' worth
 * of weight: a night slot with one long call should not plan a night of long calls.
 */
export const AHT_PRIOR_WEIGHT = 3;

export function forecastWeek(history: SlotSeries): ForecastWeek {
  const alpha = chooseAlpha(history.arrivals);
  const arrivals = smoothSlots(history.arrivals, alpha);
  const handleSum = smoothSlots(history.handleSum, alpha);
  const handled = smoothSlots(history.handled, alpha);
  const sum = (xs: number[]) => xs.reduce((a, b) => (Number.isNaN(b) ? a : a + b), 0);
  const totalHandled = sum(history.handled);
  const overall = totalHandled ? sum(history.handleSum) / totalHandled : null;
  const ahtS = handled.map((n, k) => {
    if (overall === null) return null;
    return (handleSum[k]! + AHT_PRIOR_WEIGHT * overall) / (n + AHT_PRIOR_WEIGHT);
  });
  return { arrivals, ahtS, alpha };
}

export function errorOf(forecast: readonly number[], actual: readonly number[]) {
  let absSum = 0;
  let actualSum = 0;
  let apeSum = 0;
  let apeCount = 0;
  let count = 0;
  for (let i = 0; i < actual.length; i++) {
    // Intervals not observed (NaN) are left out of every measure.
    if (Number.isNaN(actual[i]!) || Number.isNaN(forecast[i]!)) continue;
    count++;
    const e = Math.abs(forecast[i]! - actual[i]!);
    absSum += e;
    actualSum += actual[i]!;
    if (actual[i]! > 0) {
      apeSum += e / actual[i]!;
      apeCount++;
    }
  }
  return {
    absSum,
    actualSum,
    wape: actualSum > 0 ? absSum / actualSum : null,
    mape: apeCount ? apeSum / apeCount : null,
    mae: count ? absSum / count : null,
  };
}

/**
 * The forecast's error on the last `holdout` weeks of the history: each held-out week is forecast from
 * the weeks before it only (a rolling origin), as the forecast of next week is made from the past.
 * A week needs at least one week before it, so at most weeks − 1 are held out.
 */
export function heldOutError(history: SlotSeries, holdout = 4): ForecastError {
  const weeks = weeksOf(history.arrivals);
  const n = Math.max(0, Math.min(holdout, weeks - 1));
  const forecasts: number[] = [];
  const naive: number[] = [];
  const actual: number[] = [];
  for (let w = weeks - n; w < weeks; w++) {
    const train = (s: number[]) => s.slice(0, w * WEEK_SLOTS);
    const f = forecastWeek({
      arrivals: train(history.arrivals),
      handleSum: train(history.handleSum),
      handled: train(history.handled),
    });
    forecasts.push(...f.arrivals);
    naive.push(...history.arrivals.slice((w - 1) * WEEK_SLOTS, w * WEEK_SLOTS));
    actual.push(...history.arrivals.slice(w * WEEK_SLOTS, (w + 1) * WEEK_SLOTS));
  }
  const e = errorOf(forecasts, actual);
  return { weeks: n, wape: e.wape, mape: e.mape, mae: n ? e.mae : null, naiveWape: errorOf(naive, actual).wape };
}
