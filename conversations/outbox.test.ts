import { expect, it } from "bun:test";
import { retryDelay } from "./outbox.ts";

it("backs off exponentially with bounded jitter and a ceiling", () => {
  const mid = () => 0.5;
  expect([1, 2, 3, 4].map((a) => retryDelay(a, 1000, 60_000, mid))).toEqual([1000, 2000, 4000, 8000]);
  expect(retryDelay(30, 1000, 60_000, mid)).toBe(60_000);
  expect(retryDelay(1, 1000, 60_000, () => 0)).toBe(800);
  expect(retryDelay(1, 1000, 60_000, () => 0.999)).toBeLessThanOrEqual(1200);
});
