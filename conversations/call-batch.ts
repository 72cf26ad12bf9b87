import type { Tx } from "../db/connect.ts";
import { BatchQueue } from "./batch-queue.ts";
import { startCallsWithin, type CallStart, type StartedCall } from "./call.ts";
import { appendItems, type ItemWrites } from "./conversation.ts";
import { withEvents, type Core } from "./transaction.ts";

/**
 * One call's writes in a batch: its own rows at once; its timeline items and events handed back,
 * for the batch to number and write with everyone else's.
 */
export type CallStep<T> = (tx: Tx, now: Date) => Promise<{ result: T; writes: ItemWrites[] }>;

type Entry = { start: CallStart } | { step: CallStep<unknown> };
type Started = Omit<StartedCall, "item">;

/** What the voice webhook has made sure of before it hands a call start to the batch. */
const WEBHOOK_CHECKS = { inboxOfWorkspace: true, notYetStarted: true };

/**
 * Call webhooks that write (a call's start, an IVR turn), batched as inbound messages are
 * (batch-queue.ts): what arrives while a transaction runs shares the next one. The batch's call
 * starts are written set-based (a handful of statements for all of them); its timeline items and
 * events are numbered and written together at the end, so the workspace counter row is taken once
 * per batch and last, as the lock order (contact → conversation → counter) wants.
 */
export class CallBatch {
  private readonly queue: BatchQueue<Entry, unknown>;

  /** `parallel`: batches of one workspace in flight at once (see BatchQueue). */
  constructor(core: Core, parallel = 1) {
    this.queue = new BatchQueue<Entry, unknown>(
      { name: "voice", batch: (workspaceId, entries) => run(core, workspaceId, entries), one: async (workspaceId, entry) => (await run(core, workspaceId, [entry]))[0] },
      parallel,
    );
  }

  get stats() {
    return this.queue.stats;
  }

  /** Starts a call the webhook has checked (the inbox is the workspace's, no call has its id yet). */
  start(workspaceId: string, input: CallStart): Promise<Started> {
    return this.queue.submit(workspaceId, { start: input }) as Promise<Started>;
  }

  /** Runs the step in the next batch of the workspace; resolves with its result once committed. */
  submit<T>(workspaceId: string, step: CallStep<T>): Promise<T> {
    return this.queue.submit(workspaceId, { step }) as Promise<T>;
  }
}

function run(core: Core, workspaceId: string, entries: Entry[]) {
  return withEvents(core, async (tx, events) => {
    const now = new Date();
    const results: unknown[] = new Array(entries.length);
    const writes: ItemWrites[] = [];
    const starts = entries.flatMap((e, at) => ("start" in e ? [{ at, input: e.start }] : []));
    if (starts.length) {
      const begun = await startCallsWithin(tx, workspaceId, starts.map((s) => s.input), WEBHOOK_CHECKS, now);
      begun.forEach((b, n) => {
        results[starts[n]!.at] = b.started;
        writes.push(b.writes);
      });
    }
    for (const [at, e] of entries.entries()) {
      if (!("step" in e)) continue;
      const done = await e.step(tx, now);
      results[at] = done.result;
      writes.push(...done.writes);
    }
    // A call's item is keyed by its provider id: a racing first webhook of the same call got here first.
    if (!(await appendItems(tx, events, writes, now))) throw new Error("a call item already exists");
    return results;
  });
}
