import { describe, expect, test } from "bun:test";
import { percentile, summarize } from "./stats.ts";

describe("bench stats", () => {
  test("nearest-rank percentiles, whatever the input order", () => {
    const samples = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(samples, 50)).toBe(5);
    expect(percentile(samples, 99)).toBe(10);
    expect(percentile(samples, 0)).toBe(1);
    expect(summarize(samples)).toEqual({ count: 10, p50: 5, p99: 10, max: 10 });
  });

  test("p99 of 1,000 samples is the 990th smallest", () => {
    const samples = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(percentile(samples, 99)).toBe(990);
  });

  test("no samples: NaN, not a crash", () => {
    expect(summarize([])).toEqual({ count: 0, p50: NaN, p99: NaN, max: NaN });
  });
});
