import { inArray, type SQLWrapper } from "drizzle-orm";
import { BatchQueue } from "../conversations/batch-queue.ts";
import { advanceIvrsQuery, mirroredViews, mirrorQuery, type CallStart, type IvrAdvance } from "./call.ts";
import { startCallsWithin, type StartedCall } from "./call-start.ts";
import { seqsFor, systemItem, writeItems, type ItemWrites } from "../conversations/append-item.ts";
import { scopeOf } from "../conversations/conversation.ts";
import { firstSeq, seqsQuery } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { combined, rowsOf, type Tx } from "../db/connect.ts";
import { conversations, type Call, type TimelineItem } from "../db/schema/index.ts";
import { placeCalls, placementReads, type CallTarget } from "./call-queue.ts";

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
export type SavedTurn =
  | { call: Call; eta: { position: number; estimatedWaitS: number | null } | undefined }
  | undefined;

type Entry = { start: CallStart } | { turn: IvrTurn };
type Started = Omit<StartedCall, "item">;

/**
 * What the voice webhook has made sure of before it hands a call start to the batch. It does not
 * look for the call first: a retried start fails on the unique keys.
 */
const WEBHOOK_CHECKS = { inboxOfWorkspace: true };

/**
 * Call webhooks that write (a call's start, an IVR turn), batched as inbound messages are
 * (batch-queue.ts): what arrives while a transaction runs shares the next one. The batch's call
 * starts and its IVR turns are each written set-based (a handful of statements for all of them);
 * its timeline items and events are numbered and written together at the end, so the workspace
 * counter row is taken once per batch and last, as the lock order (contact → conversation →
 * counter) wants. Statements that do not wait for each other's results go out together, in one
 * round trip (the driver pipelines them in the order given), and writes whose rows nothing reads
 * back share one statement (`combined`): on a busy machine each round trip waits for a core, and
 * each statement costs both ends of the connection, whatever it writes.
 */
export class CallBatch {
  private readonly queue: BatchQueue<Entry, unknown>;

  /** `parallel`: batches of one workspace in flight at once (see BatchQueue). */
  constructor(core: Core, parallel = 1) {
    this.queue = new BatchQueue<Entry, unknown>(
      {
        name: "voice",
        batch: (workspaceId, entries) => run(core, workspaceId, entries),
        one: async (workspaceId, entry) => (await run(core, workspaceId, [entry]))[0],
      },
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
    const unsent: SQLWrapper[] = [];
    const startedIn = new Set<string>();
    const starts = entries.flatMap((e, at) => ("start" in e ? [{ at, input: e.start }] : []));
    if (starts.length) {
      const { begun, pending } = await startCallsWithin(
        tx,
        workspaceId,
        starts.map((s) => s.input),
        WEBHOOK_CHECKS,
        now,
      );
      begun.forEach((b, n) => {
        results[starts[n]!.at] = b.started;
        writes.push(b.writes);
        startedIn.add(b.started.call.conversationId);
      });
      unsent.push(...pending);
    }
    const turns = entries.flatMap((e, at) => ("turn" in e ? [{ at, turn: e.turn }] : []));
    const saving = turns.length
      ? await readTurns(
          tx,
          workspaceId,
          turns.map((t) => t.turn),
          now,
        )
      : undefined;
    // One round trip: the call items' mirrors; the starts' and turns' writes with the seqs of all
    // their items, as one statement; and the positions of the queue entries, which must see them.
    const seqs = seqsFor(writes) + (saving?.seqs ?? 0);
    // One statement must not change a row twice (only one change would stand): a call starting in
    // the conversation where another call of the batch is queued sends the starts' writes apart.
    const apart = !!saving?.queuedIn.some((id) => startedIn.has(id));
    const written = [...(apart ? [] : unsent), ...(saving?.writes ?? [])];
    const counted = seqs
      ? combined(written, seqsQuery(tx, workspaceId, seqs))
      : written.length
        ? combined(written)
        : undefined;
    const [, mirrored, taken, positioned] = await Promise.all([
      apart ? tx.execute(combined(unsent)) : undefined,
      saving?.mirror ?? [],
      counted ? tx.execute(counted) : undefined,
      saving?.positions,
    ]);
    const alongside: SQLWrapper[] = [];
    if (saving) {
      const done = await saving.finish(mirrored, positioned);
      done.saved.forEach((s, n) => {
        results[turns[n]!.at] = s?.result;
        if (s) writes.push(s.writes);
      });
      if (done.estimated) alongside.push(done.estimated);
    }
    if (seqsFor(writes) !== seqs) throw new Error("a call's item is missing");
    const first = seqs ? firstSeq(rowsOf<{ seq: number | string }>(taken), workspaceId, seqs) : 0;
    // A call's item is keyed by its provider id: a racing first webhook of the same call got here first.
    if (!(await writeItems(tx, events, writes, first, now, alongside))) throw new Error("a call item already exists");
    return results;
  });
}

/**
 * A batch's IVR turns, set-based. One round trip: the calls' conditional update, then their
 * conversations locked (sorted), then what queueing reads (the queues, the conversations' live work).
 * What that allows comes back unsent, for the batch's next round trip: the call items' mirrors, the
 * queue entries' writes and the query of their positions; `seqs` is how many seqs the turns' items
 * take, and `finish` reads the mirrors and positions into each turn's result and items.
 */
async function readTurns(tx: Tx, workspaceId: string, turns: IvrTurn[], now: Date) {
  // Of a call's turns in one batch only the first is tried; a retry beside it finds it done.
  const first = turns.map((t, n) => turns.findIndex((u) => u.call.id === t.call.id) === n);
  const tried = turns.filter((_, n) => first[n]);
  // A call's conversation never changes: the webhook's read of the call names the one to lock.
  const conversationIds = [...new Set(tried.map((t) => t.call.conversationId))].sort();
  const queuing = tried.filter((t) => t.enqueue);
  const reads = queuing.length
    ? placementReads(
        tx,
        workspaceId,
        queuing.map((t) => ({ conversationId: t.call.conversationId, target: t.enqueue! })),
      )
    : undefined;
  const [moved, locked, found, lives] = await Promise.all([
    advanceIvrsQuery(
      tx,
      tried.map((t) => ({
        callId: t.call.id,
        step: t.step,
        change: { ...t.change, ...(t.enqueue ? { queueId: t.enqueue.queueId, enqueuedAt: t.at } : {}) },
      })),
      now,
    ),
    tx
      .select()
      .from(conversations)
      .where(inArray(conversations.id, conversationIds))
      .orderBy(conversations.id)
      .for("update"),
    reads?.[0] ?? [],
    reads?.[1] ?? [],
  ]);
  const movedOf = new Map(moved.map((c) => [c.id, c]));
  const applied = turns.map((t, n) => (first[n] ? movedOf.get(t.call.id) : undefined));
  const conversationOf = new Map(locked.map((c) => [c.id, c]));
  const places = turns.flatMap((t, n) =>
    applied[n] && t.enqueue
      ? [{ n, conversation: conversationOf.get(applied[n]!.conversationId)!, target: t.enqueue, at: t.at }]
      : [],
  );
  const placing = places.length ? placeCalls(tx, places, found, lives) : undefined;
  const changed = applied.filter((c): c is Call => !!c);
  // Each saved turn: its item's update, its IVR events and its queued event.
  const seqs = turns.reduce((sum, t, n) => sum + (applied[n] ? 1 + t.events.length + (t.enqueue ? 1 : 0) : 0), 0);

  async function finish(mirrored: TimelineItem[], positioned: unknown) {
    const views = await mirroredViews(tx, changed, mirrored);
    const placement = placing?.finish(positioned);
    const placedOf = new Map(places.map((p, i) => [p.n, placement!.placed[i]!]));
    const saved = turns.map((t, n) => {
      const call = applied[n];
      if (!call) return undefined;
      const item = views.get(call.id);
      const conversation = conversationOf.get(call.conversationId)!;
      const place = placedOf.get(n);
      const items = [
        ...t.events.map((e) => systemItem(e.eventType, { callId: t.call.id, ...e.data })),
        ...(place ? [systemItem("queued", place.queued)] : []),
      ];
      // Without its item (never expected) the seqs taken do not match: the batch fails.
      const lead = item ? [{ type: "item.updated", payload: { item, scope: scopeOf(conversation) } }] : [];
      const writes: ItemWrites = { conversation, items, lead };
      return { result: { call, eta: place?.eta } as SavedTurn, writes };
    });
    return { saved, estimated: placement?.estimated };
  }
  return {
    mirror: changed.length ? mirrorQuery(tx, changed, now) : undefined,
    writes: placing?.writes ?? [],
    positions: placing?.positions,
    /** The conversations whose call this batch queues (their rows are among `writes`). */
    queuedIn: places.map((p) => p.conversation.id),
    seqs,
    finish,
  };
}
