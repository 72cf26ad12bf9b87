import { and, asc, eq, gt, inArray, lte, min, type SQL } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { events, workspaceCounters } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import type { BusMessage, EventBus } from "./bus.ts";
import type { DomainEvent } from "./event.ts";

export type Subscriber = {
  /** Which events this subscriber may see (role, contact, conversation scope). */
  filter(event: DomainEvent): boolean;
  deliver(event: DomainEvent): void;
  /**
   * Called once before anything else: where the subscriber resumes (the `after` it gave, else the
   * head) and the workspace's newest seq (the head).
   */
  start?(resumeAt: number, head: number): void;
  /**
   * Called instead of a replay that is too long, or whose events were pruned: the client reloads its
   * views and continues after `seq`; nothing up to `seq` is delivered to it.
   */
  resync?(seq: number): void;
  /**
   * The conversations a replay may read (a visitor's), read when the replay starts; without it the
   * replay reads the whole workspace's events.
   */
  replayConversations?(): Promise<string[]>;
  /** At most this many events in one replay, else `resync` (default: the feed's replayLimit). */
  replayLimit?: number;
};

export type FeedOptions = {
  /** Rows read from the events table per query when filling a gap or replaying. */
  pageSize?: number;
  /** Events one subscriber's replay may hold before it is told to resync instead. */
  replayLimit?: number;
};

type WorkspaceStream = {
  /** Highest seq dispatched to this node's subscribers; everything at or below it was delivered. */
  cursor: number | undefined;
  subscribers: Set<SubscriberState>;
  /** Serializes dispatch and gap-filling per workspace. */
  chain: Promise<void>;
};

type SubscriberState = Subscriber & { lastSeq: number; ready: boolean; buffer: DomainEvent[] };

const PAGE_SIZE = 1000;
const REPLAY_LIMIT = 5000;

/**
 * Turns the bus into what clients are promised: every event of a workspace, in seq order, exactly
 * once, including those missed while disconnected (`after`). Gaps — events another node's NOTIFY has
 * not brought yet, or lost during a reconnect — are read from the events table page by page; seqs are
 * handed out in commit order (event.ts), so once seq N is visible, everything below it is too. A
 * replay longer than the limit is never cut short silently: the subscriber is told to resync.
 */
export class EventFeed {
  private streams = new Map<string, WorkspaceStream>();
  private unsubscribe: () => void;
  private poll: ReturnType<typeof setInterval>;
  private readonly pageSize: number;
  private readonly replayLimit: number;

  constructor(
    private readonly db: Db,
    bus: EventBus,
    options: FeedOptions = {},
  ) {
    this.pageSize = options.pageSize ?? PAGE_SIZE;
    this.replayLimit = options.replayLimit ?? REPLAY_LIMIT;
    this.unsubscribe = bus.subscribe((m) => this.receive(m));
    // Safety net for notifications lost while a LISTEN connection was down and nothing new came since.
    this.poll = setInterval(() => this.catchUp(), 5000);
    this.poll.unref?.();
  }

  close() {
    clearInterval(this.poll);
    this.unsubscribe();
  }

  /** Re-reads every watched workspace's newest seq and delivers what this node has not seen. */
  catchUp() {
    for (const [workspaceId, stream] of this.streams) {
      if (stream.subscribers.size === 0) continue;
      void this.enqueue(workspaceId, stream, async () => {
        const latest = await this.head(workspaceId);
        if (stream.cursor !== undefined && latest > stream.cursor) await this.fill(workspaceId, stream, latest);
      });
    }
  }

  /**
   * The workspace's newest committed seq, from its counter: the events table may have been pruned
   * empty in a quiet workspace, and its max would then say 0. The counter row is updated in the
   * transaction that writes the events, so everything up to its value is visible once it is.
   */
  private async head(workspaceId: string) {
    const [row] = await this.db
      .select({ seq: workspaceCounters.seq })
      .from(workspaceCounters)
      .where(eq(workspaceCounters.workspaceId, workspaceId));
    return Number(row?.seq ?? 0);
  }

  private stream(workspaceId: string): WorkspaceStream {
    let s = this.streams.get(workspaceId);
    if (!s) {
      s = { cursor: undefined, subscribers: new Set(), chain: Promise.resolve() };
      this.streams.set(workspaceId, s);
    }
    return s;
  }

  /**
   * Runs `work` after everything queued for the workspace. A failure is logged and does not stop the
   * chain; the returned promise still rejects, for a caller that waits on it (subscribe).
   */
  private enqueue(workspaceId: string, stream: WorkspaceStream, work: () => Promise<void>) {
    const run = stream.chain.then(work);
    stream.chain = run.catch((err: unknown) => log.error("feed: dispatch failed", { workspaceId, err }));
    return run;
  }

  /** Whether anyone on this node is subscribed to the workspace. */
  watched(workspaceId: string) {
    return (this.streams.get(workspaceId)?.subscribers.size ?? 0) > 0;
  }

  /** Hands an event to this node's subscribers only (a view each node computes for itself). */
  publishLocal(event: DomainEvent) {
    this.receive(event);
  }

  private receive(message: BusMessage) {
    const stream = this.stream(message.workspaceId);
    if ("ephemeral" in message && message.ephemeral) {
      // Not an event of the log: it carries the seq the subscriber was last brought to, a safe resume point.
      for (const sub of stream.subscribers)
        if (sub.ready && sub.filter(message)) sub.deliver({ ...message, seq: sub.lastSeq });
      return;
    }
    if (stream.subscribers.size === 0) {
      // Nobody here is listening: remember how far the workspace got, fetch nothing.
      stream.cursor = Math.max(stream.cursor ?? 0, message.seq);
      return;
    }
    void this.enqueue(message.workspaceId, stream, async () => {
      if (stream.cursor !== undefined && message.seq <= stream.cursor) return;
      if ("ref" in message || (stream.cursor !== undefined && message.seq > stream.cursor + 1)) {
        await this.fill(message.workspaceId, stream, message.seq);
      } else {
        this.dispatch(stream, message);
      }
    });
  }

  /** Loads (cursor, upTo] from the table, a page at a time, and dispatches all of it in order. */
  private async fill(workspaceId: string, stream: WorkspaceStream, upTo: number) {
    const from = stream.cursor ?? upTo - 1;
    await this.pages(workspaceId, from, upTo, undefined, (e) => this.dispatch(stream, e));
    stream.cursor = Math.max(stream.cursor ?? 0, upTo);
  }

  private dispatch(stream: WorkspaceStream, event: DomainEvent) {
    stream.cursor = Math.max(stream.cursor ?? 0, event.seq);
    for (const sub of stream.subscribers) {
      if (!sub.ready) {
        sub.buffer.push(event);
        continue;
      }
      if (event.seq <= sub.lastSeq) continue;
      sub.lastSeq = event.seq;
      if (sub.filter(event)) sub.deliver(event);
    }
  }

  private range(
    workspaceId: string,
    after: number,
    upTo: number,
    conversationIds: string[] | undefined,
  ): SQL | undefined {
    return and(
      eq(events.workspaceId, workspaceId),
      gt(events.seq, after),
      lte(events.seq, upTo),
      conversationIds ? inArray(events.conversationId, conversationIds) : undefined,
    );
  }

  /** Hands every stored event in (after, upTo] to `each`, in seq order, reading `pageSize` rows at a time. */
  private async pages(
    workspaceId: string,
    after: number,
    upTo: number,
    conversationIds: string[] | undefined,
    each: (e: DomainEvent) => void,
  ) {
    if (conversationIds?.length === 0) return;
    for (let from = after; from < upTo; ) {
      const rows = await this.db
        .select()
        .from(events)
        .where(this.range(workspaceId, from, upTo, conversationIds))
        .orderBy(asc(events.seq))
        .limit(this.pageSize);
      for (const r of rows) {
        each({
          workspaceId: r.workspaceId,
          seq: Number(r.seq),
          type: r.type,
          conversationId: r.conversationId,
          public: r.public,
          payload: r.payload,
        });
      }
      if (rows.length < this.pageSize) return;
      from = Number(rows[rows.length - 1]!.seq);
    }
  }

  /**
   * Whether a replay of (after, head] cannot be sent: more than `limit` events (found by an index
   * probe, without reading them), or events there were pruned, or a client ahead of this workspace.
   */
  private async replayTooLong(
    workspaceId: string,
    after: number,
    head: number,
    conversationIds: string[] | undefined,
    limit: number,
  ) {
    if (after > head) return true;
    const [kept] = await this.db
      .select({ oldest: min(events.seq) })
      .from(events)
      .where(eq(events.workspaceId, workspaceId));
    // Every seq up to the head was handed out; none kept after `after` + 1 means they were pruned.
    if (Number(kept?.oldest ?? head + 1) > after + 1) return true;
    if (conversationIds?.length === 0) return false;
    const beyond = await this.db
      .select({ seq: events.seq })
      .from(events)
      .where(this.range(workspaceId, after, head, conversationIds))
      .orderBy(asc(events.seq))
      .offset(limit)
      .limit(1);
    return beyond.length > 0;
  }

  /**
   * Subscribes to a workspace. With `after`, first replays what was stored after that seq (or says
   * `resync` when that is too long), then goes live with no gap and no repeat. Resolves with the seq
   * the subscriber is now at.
   */
  async subscribe(
    workspaceId: string,
    subscriber: Subscriber,
    after?: number,
  ): Promise<{ seq: number; unsubscribe: () => void; truncated: boolean }> {
    const stream = this.stream(workspaceId);
    const state: SubscriberState = { ...subscriber, lastSeq: 0, ready: false, buffer: [] };
    stream.subscribers.add(state);
    const unsubscribe = () => void stream.subscribers.delete(state);
    let truncated = false;
    try {
      // Run in the workspace's chain, so no live dispatch interleaves with the replay.
      await this.enqueue(workspaceId, stream, async () => {
        const head = await this.head(workspaceId);
        // A client ahead of the head (a seq from a database since restored) resumes at the head, after a resync.
        subscriber.start?.(after !== undefined && after <= head ? after : head, head);
        if (after !== undefined && after !== head) {
          const conversationIds = await subscriber.replayConversations?.();
          truncated = await this.replayTooLong(
            workspaceId,
            after,
            head,
            conversationIds,
            subscriber.replayLimit ?? this.replayLimit,
          );
          if (truncated) subscriber.resync?.(head);
          else
            await this.pages(
              workspaceId,
              after,
              head,
              conversationIds,
              (e) => subscriber.filter(e) && subscriber.deliver(e),
            );
        }
        // Bring the other subscribers up to the head first (this one is not ready, so it only buffers),
        // so the stream cursor never jumps past an event someone has not been given.
        if (stream.cursor === undefined) stream.cursor = head;
        else if (stream.cursor < head) await this.fill(workspaceId, stream, head);
        state.lastSeq = head;
        state.ready = true;
        for (const e of state.buffer) {
          if (e.seq <= state.lastSeq) continue;
          state.lastSeq = e.seq;
          if (subscriber.filter(e)) subscriber.deliver(e);
        }
        state.buffer = [];
      });
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return { seq: state.lastSeq, unsubscribe, truncated };
  }
}
