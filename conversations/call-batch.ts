import type { Tx } from "../db/connect.ts";
import { BatchQueue } from "./batch-queue.ts";
import { appendItems, type ItemWrites } from "./conversation.ts";
import { withEvents, type Core } from "./transaction.ts";

/**
 * One call's writes in a batch: its own rows at once; its timeline items and events handed back,
 * for the batch to number and write with everyone else's.
 */
export type CallStep<T> = (tx: Tx, now: Date) => Promise<{ result: T; writes: ItemWrites[] }>;

/**
 * Call webhooks that write (a call's start, an IVR turn), batched as inbound messages are
 * (batch-queue.ts): steps that arrive while a transaction runs share the next one. Their timeline
 * items and events are numbered and written together at its end, so the workspace counter row is
 * taken once per batch and last, as the lock order (contact → conversation → counter) wants.
 */
export class CallBatch {
  private readonly queue: BatchQueue<CallStep<unknown>, unknown>;

  /** `parallel`: batches of one workspace in flight at once (see BatchQueue). */
  constructor(core: Core, parallel = 1) {
    this.queue = new BatchQueue<CallStep<unknown>, unknown>(
      { name: "voice", batch: (_, steps) => run(core, steps), one: async (_, step) => (await run(core, [step]))[0] },
      parallel,
    );
  }

  get stats() {
    return this.queue.stats;
  }

  /** Runs the step in the next batch of the workspace; resolves with its result once committed. */
  submit<T>(workspaceId: string, step: CallStep<T>): Promise<T> {
    return this.queue.submit(workspaceId, step) as Promise<T>;
  }
}

function run(core: Core, steps: CallStep<unknown>[]) {
  return withEvents(core, async (tx, events) => {
    const now = new Date();
    const done = [];
    for (const step of steps) done.push(await step(tx, now));
    const written = await appendItems(tx, events, done.flatMap((d) => d.writes), now);
    // A call's item is keyed by its provider id: a racing first webhook of the same call got here first.
    if (!written) throw new Error("a call item already exists");
    return done.map((d) => d.result);
  });
}
