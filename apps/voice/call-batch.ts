import { inArray } from "drizzle-orm";
import { BatchQueue } from "../../conversations/batch-queue.ts";
import { advanceIvrsWithin, startCallsWithin, type CallStart, type IvrAdvance, type StartedCall } from "../../conversations/call.ts";
import { appendItems, scopeOf, systemItem, type ItemWrites } from "../../conversations/conversation.ts";
import { withEvents, type Core } from "../../conversations/transaction.ts";
import type { Tx } from "../../db/connect.ts";
import { conversations, type Call } from "../../db/schema/index.ts";
import { placeCallsWithin, type CallTarget } from "../../routing/call.ts";

/** An IVR turn to save: the call as the webhook read it, the step it answered, and what follows. */
export type IvrTurn = {
  call: Call;
  step: number;
  change: Omit<IvrAdvance, "queueId" | "enqueuedAt">;
  /** The queue the turn reached, if any. */
  enqueue?: CallTarget;
  /** The turn's timeline events (the IVR nodes it went through, a transfer out). */
  events: { eventType: string; data: Record<string, unknown> }[];
  /** When the caller answered: their place in the queue. */
  at: Date;
};
export type SavedTurn = { call: Call; eta: { position: number; estimatedWaitS: number | null } | undefined } | undefined;

type Entry = { start: CallStart } | { turn: IvrTurn };
type Started = Omit<StartedCall, "item">;

/** What the voice webhook has made sure of before it hands a call start to the batch. */
const WEBHOOK_CHECKS = { inboxOfWorkspace: true, notYetStarted: true };

/**
 * Call webhooks that write (a call's start, an IVR turn), batched as inbound messages are
 * (batch-queue.ts): what arrives while a transaction runs shares the next one. The batch's call
 * starts and its IVR turns are each written set-based (a handful of statements for all of them);
 * its timeline items and events are numbered and written together at the end, so the workspace
 * counter row is taken once per batch and last, as the lock order (contact → conversation →
 * counter) wants.
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

  /**
   * Saves an IVR turn (and queues the caller when it reached a queue) with the batch's other turns.
   * Undefined when the call had moved on (a retry of a turn already saved).
   */
  turn(workspaceId: string, turn: IvrTurn): Promise<SavedTurn> {
    return this.queue.submit(workspaceId, { turn }) as Promise<SavedTurn>;
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
    const turns = entries.flatMap((e, at) => ("turn" in e ? [{ at, turn: e.turn }] : []));
    if (turns.length) {
      const saved = await saveTurns(tx, turns.map((t) => t.turn), now);
      saved.forEach((s, n) => {
        results[turns[n]!.at] = s?.result;
        if (s) writes.push(s.writes);
      });
    }
    // A call's item is keyed by its provider id: a racing first webhook of the same call got here first.
    if (!(await appendItems(tx, events, writes, now))) throw new Error("a call item already exists");
    return results;
  });
}

/**
 * A batch's IVR turns, set-based: the calls' conditional updates, their conversations locked (sorted)
 * before their queue entries, and the queue entries, each in one statement for all.
 */
async function saveTurns(tx: Tx, turns: IvrTurn[], now: Date) {
  const moved = await advanceIvrsWithin(
    tx,
    turns.map((t) => ({ callId: t.call.id, step: t.step, change: { ...t.change, ...(t.enqueue ? { queueId: t.enqueue.queueId, enqueuedAt: t.at } : {}) } })),
    now,
  );
  // Of a call's turns in one batch only the first was tried; a retry beside it finds it done.
  const tried = new Set<string>();
  const applied = turns.map((t) => {
    const first = !tried.has(t.call.id);
    tried.add(t.call.id);
    return first ? moved.get(t.call.id) : undefined;
  });
  const conversationIds = [...new Set(applied.flatMap((m) => (m ? [m.call.conversationId] : [])))].sort();
  const locked = conversationIds.length
    ? await tx.select().from(conversations).where(inArray(conversations.id, conversationIds)).orderBy(conversations.id).for("update")
    : [];
  const conversationOf = new Map(locked.map((c) => [c.id, c]));
  const queued = turns.flatMap((t, n) => (applied[n] && t.enqueue ? [{ n, conversation: conversationOf.get(applied[n]!.call.conversationId)!, target: t.enqueue, at: t.at }] : []));
  const placed = await placeCallsWithin(tx, queued);
  const placedOf = new Map(queued.map((q, i) => [q.n, placed[i]!]));
  return turns.map((t, n) => {
    const m = applied[n];
    if (!m) return undefined;
    const conversation = conversationOf.get(m.call.conversationId)!;
    const place = placedOf.get(n);
    const items = [...t.events.map((e) => systemItem(e.eventType, { callId: t.call.id, ...e.data })), ...(place ? [systemItem("queued", place.queued)] : [])];
    const lead = m.item ? [{ type: "item.updated", payload: { item: m.item, scope: scopeOf(conversation) } }] : [];
    const writes: ItemWrites = { conversation, items, lead };
    return { result: { call: m.call, eta: place?.eta } as SavedTurn, writes };
  });
}
