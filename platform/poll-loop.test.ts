import { describe, expect, it } from "bun:test";
import { PollLoop } from "./poll-loop.ts";

/** Resolves when `check` holds, polling every few milliseconds (the loop runs on timers). */
async function until(check: () => boolean, ms = 2000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await Bun.sleep(2);
  }
}

describe("the poll loop of a durable worker", () => {
  it("runs again at once while a run fills its batch, then waits for the poll interval", async () => {
    const claims = [3, 3, 1];
    let runs = 0;
    const loop = new PollLoop("test", async () => claims[runs++] ?? 0, { batch: 3, pollMs: 60_000 });
    loop.start();
    await until(() => runs === 3);
    await Bun.sleep(20);
    expect(runs).toBe(3);
    await loop.stop();
  });

  it("runs once more when woken during a run, and not at all after stop", async () => {
    let runs = 0;
    let release: () => void = () => {};
    const loop = new PollLoop(
      "test",
      async () => {
        runs++;
        if (runs === 1) await new Promise<void>((r) => (release = r));
        return 0;
      },
      { batch: 10, pollMs: 60_000 },
    );
    loop.start();
    await until(() => runs === 1);
    loop.wake();
    release();
    await until(() => runs === 2);
    const stopping = loop.stop();
    await stopping;
    loop.wake();
    await Bun.sleep(20);
    expect(runs).toBe(2);
  });

  it("keeps going after a failed run, and ignores wakes before start when asked to", async () => {
    let runs = 0;
    const loop = new PollLoop(
      "test",
      async () => {
        runs++;
        if (runs === 1) throw new Error("database away");
        return 0;
      },
      { batch: 1, pollMs: 5, idleUntilStarted: true },
    );
    loop.wake();
    await Bun.sleep(20);
    expect(runs).toBe(0);
    loop.start();
    await until(() => runs >= 2);
    await loop.stop();
  });
});
