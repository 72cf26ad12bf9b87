import { expect, it } from "bun:test";
import { RateLimiter } from "./rate-limit.ts";

it("allows a burst, then asks the caller to wait until a token refills", () => {
  const limiter = new RateLimiter(3, 1);
  const t = 1_000_000;
  expect([limiter.take("ip", t), limiter.take("ip", t), limiter.take("ip", t)]).toEqual([0, 0, 0]);
  expect(limiter.take("ip", t)).toBe(1);
  expect(limiter.take("other", t)).toBe(0);
  expect(limiter.take("ip", t + 1000)).toBe(0);
});
