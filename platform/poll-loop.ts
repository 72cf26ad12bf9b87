import { log } from "./log.ts";

export type PollLoopOptions = {
  /** A run that claims this many rows is followed by another at once: there may be more waiting. */
  batch: number;
  /** Otherwise the next run comes this long after the last one. */
  pollMs: number;
  /** `wake()` does nothing until `start()` (a worker made but not started must not run). */
  idleUntilStarted?: boolean;
};

/**
 * The loop of a durable worker (the outbox, webhook deliveries): one run at a time; again at once while a
 * run fills its batch or a wake came during it; else after `pollMs`. A failed run is logged and the loop
 * goes on. `stop()` waits for the run under way.
 */
export class PollLoop {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private again = false;
  private stopped: boolean;

  constructor(
    private readonly name: string,
    private readonly run: () => Promise<number>,
    private readonly options: PollLoopOptions,
  ) {
    this.stopped = options.idleUntilStarted ?? false;
  }

  start() {
    this.stopped = false;
    this.schedule(0);
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    while (this.running) await Bun.sleep(5);
  }

  /** Work was just written: run now rather than at the next poll (or right after the run under way). */
  wake() {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick() {
    if (this.running || this.stopped) return;
    this.running = true;
    let claimed = 0;
    try {
      claimed = await this.run();
    } catch (err) {
      log.error(`${this.name}: run failed`, { err });
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    const more = this.again || claimed === this.options.batch;
    this.again = false;
    this.schedule(more ? 0 : this.options.pollMs);
  }
}
