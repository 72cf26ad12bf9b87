import { log } from "../platform/log.ts";

type Pending<In, Out> = { input: In; resolve(result: Out): void; reject(err: unknown): void };

/** How a queue writes: many inputs in one transaction, or one alone (when a batch failed). */
export type BatchWriter<In, Out> = {
  /** What the log says when a batch fails ("inbound", "voice"). */
  name: string;
  batch(workspaceId: string, inputs: In[]): Promise<Out[]>;
  one(workspaceId: string, input: In): Promise<Out>;
};

const MAX_BATCH = 200;

/**
 * Work of a workspace, written in batches: while one transaction runs, the next arrivals queue, and
 * the following transaction takes them all. Each arrival's promise settles once its batch has
 * committed (so a provider can be acked). A batch that fails for any reason is retried one by one,
 * so one bad input never fails its neighbours.
 */
export class BatchQueue<In, Out> {
  private queues = new Map<string, Pending<In, Out>[]>();
  private inFlight = new Map<string, number>();
  /** Batches committed, inputs committed in them, and batches that had to be retried one by one. */
  readonly stats = { batches: 0, items: 0, fallbacks: 0 };

  /**
   * `parallel`: batches of one workspace in flight at once. On PostgreSQL two overlap usefully (one
   * reads and locks while the other holds the counter row through its commit); PGlite runs one
   * transaction at a time, so more would only make batches smaller.
   */
  constructor(
    private readonly writer: BatchWriter<In, Out>,
    private readonly parallel = 1,
  ) {}

  submit(workspaceId: string, input: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(workspaceId);
      if (!queue) this.queues.set(workspaceId, (queue = []));
      queue.push({ input, resolve, reject });
      this.drain(workspaceId);
    });
  }

  private drain(workspaceId: string) {
    const running = this.inFlight.get(workspaceId) ?? 0;
    if (running >= this.parallel || !this.queues.get(workspaceId)?.length) return;
    this.inFlight.set(workspaceId, running + 1);
    // Start on the next turn of the event loop, after pending I/O: requests that already arrived
    // join this batch. PGlite runs queries without yielding to I/O, so without this every batch
    // there would hold exactly one input.
    setImmediate(() => {
      const queue = this.queues.get(workspaceId) ?? [];
      const batch = queue.splice(0, MAX_BATCH);
      if (!queue.length) this.queues.delete(workspaceId);
      void this.process(workspaceId, batch).finally(() => {
        const left = (this.inFlight.get(workspaceId) ?? 1) - 1;
        if (left) this.inFlight.set(workspaceId, left);
        else this.inFlight.delete(workspaceId);
        this.drain(workspaceId);
      });
    });
  }

  private async process(workspaceId: string, batch: Pending<In, Out>[]) {
    if (!batch.length) return;
    try {
      const results = await this.writer.batch(
        workspaceId,
        batch.map((p) => p.input),
      );
      this.stats.batches++;
      this.stats.items += batch.length;
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      this.stats.fallbacks++;
      log.warn(`${this.writer.name}: batch failed, writing one by one`, { workspaceId, size: batch.length, err });
      for (const p of batch) await this.writer.one(workspaceId, p.input).then(p.resolve, p.reject);
    }
  }
}
