import { expect, it } from "bun:test";
import { TooManyRequests } from "./errors.ts";
import { RateLimiter, Semaphore } from "./rate-limit.ts";

it("allows a burst, then asks the caller to wait until a token refills", () => {
  const limiter = new RateLimiter(3, 1);
  const t = 1_000_000;
  expect([limiter.take("ip", t), limiter.take("ip", t), limiter.take("ip", t)]).toEqual([0, 0, 0]);
  expect(limiter.take("ip", t)).toBe(1);
  expect(limiter.take("other", t)).toBe(0);
  expect(limiter.take("ip", t + 1000)).toBe(0);
});

it("tells how long until a token without taking one", () => {
  const limiter = new RateLimiter(1, 0.5);
  const t = 1_000_000;
  expect(limiter.wait("k", t)).toBe(0);
  expect(limiter.take("k", t)).toBe(0);
  expect(limiter.wait("k", t)).toBe(2);
  expect(limiter.wait("k", t)).toBe(2);
  expect(limiter.wait("k", t + 2000)).toBe(0);
});

it("runs at most `permits` tasks at once and refuses quickly past the waiting room", async () => {
  const gate = new Semaphore(2, 1, 60_000);
  let running = 0;
  let most = 0;
  const release: (() => void)[] = [];
  const task = () =>
    gate.run(async () => {
      most = Math.max(most, ++running);
      await new Promise<void>((r) => release.push(r));
      running--;
    });
  const accepted = [task(), task(), task()];
  const refused = await task().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(refused).toBeInstanceOf(TooManyRequests);
  expect(release.length).toBe(2);
  while (release.length) {
    release.shift()!();
    await Bun.sleep(0);
  }
  await Promise.all(accepted);
  expect(most).toBe(2);
  // The permits all came back: two more run at once again.
  const again = [task(), task()];
  await Bun.sleep(0);
  expect(release.length).toBe(2);
  release.splice(0).forEach((r) => r());
  await Promise.all(again);
});

it("refuses a task that waited too long", async () => {
  const gate = new Semaphore(1, 10, 20);
  let open!: () => void;
  const first = gate.run(() => new Promise<void>((r) => (open = r)));
  expect(await gate.run(async () => "ran").catch((err: unknown) => err)).toBeInstanceOf(TooManyRequests);
  open();
  await first;
  expect(await gate.run(async () => "ran")).toBe("ran");
});
