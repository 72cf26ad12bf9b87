import { describe, expect, it } from "bun:test";
import { Histogram, mayReadMetrics, watchEventLoopLag } from "./metrics.ts";

const count = (lines: string[], le: string) =>
  Number(
    lines
      .find((l) => l.includes(`le="${le}"`))
      ?.split(" ")
      .pop(),
  );

describe("event loop lag", () => {
  it("records how late the loop ran its timer when synchronous work held it", async () => {
    const lag = new Histogram("lag_seconds", "test", [0.02, 0.1]);
    const stop = watchEventLoopLag(lag);
    try {
      await Bun.sleep(250);
      const blockedUntil = performance.now() + 350;
      while (performance.now() < blockedUntil) {
        // Hold the loop, as a long synchronous statement would.
      }
      await Bun.sleep(250);
    } finally {
      stop();
    }
    const lines = lag.lines();
    const samples = count(lines, "+Inf");
    expect(samples).toBeGreaterThanOrEqual(3);
    // The timer due during the block ran at least 250 ms late; the others on time.
    expect(count(lines, "0.1")).toBeLessThan(samples);
    expect(count(lines, "0.02")).toBeGreaterThanOrEqual(1);
  });
});

describe("who may read /metrics", () => {
  it("without METRICS_TOKEN: loopback clients only", () => {
    expect(mayReadMetrics(undefined, undefined, true)).toBe(true);
    expect(mayReadMetrics(undefined, "Bearer anything", false)).toBe(false);
  });

  it("with METRICS_TOKEN: only that bearer token, from anywhere, loopback included", () => {
    const token = "metrics-token-0123456789";
    expect(mayReadMetrics(token, `Bearer ${token}`, false)).toBe(true);
    expect(mayReadMetrics(token, `bearer ${token}`, false)).toBe(true);
    expect(mayReadMetrics(token, undefined, true)).toBe(false);
    expect(mayReadMetrics(token, "Bearer wrong", true)).toBe(false);
    expect(mayReadMetrics(token, token, false)).toBe(false);
  });
});
