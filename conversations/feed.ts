import { and, asc, eq, gt, lte, max, min } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { events } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import type { BusMessage, EventBus } from "./bus.ts";
import type { DomainEvent } from "./event.ts";

export type Subscriber = {
  /** Which events this subscriber may see (role, contact, conversation scope). */
  filter(event: DomainEvent): boolean;
  deliver(event: DomainEvent): void;
  /** Called once before any replayed event, with the newest seq of the workspace. */
  start?(latestSeq: number): void;
};

type WorkspaceStream = {
  /** Highest seq dispatched to this node's subscribers; everything at or below it was delivered. */
  cursor: number | undefined;
  subscribers: Set<SubscriberState>;
  /** Serializes dispatch and gap-filling per workspace. */
  chain: Promise<void>;
};

type SubscriberState = Subscriber & { lastSeq: number; ready: boolean; buffer: DomainEvent[] };

const BACKLOG_LIMIT = 5000;

/**
 * Turns the bus into what clients are promised: every event of a workspace, in seq order, exactly
 * once, including those missed while disconnected (`after`). Gaps — events another node's NOTIFY has
 * not brought yet, or lost during a reconnect — are read from the events table; seqs are handed out in
 * commit order (event.ts), so once seq N is visible, everything below it is too.
 */
export class EventFeed {
  private streams = new Map<string, WorkspaceStream>();
  private unsubscribe: () => void;
  private poll: ReturnType<typeof setInterval>;

  constructor(private readonly db: Db, bus: EventBus) {
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
        const [row] = await this.db.select({ seq: max(events.seq) }).from(events).where(eq(events.workspaceId, workspaceId));
        const latest = Number(row?.seq ?? 0);
        if (stream.cursor !== undefined && latest > stream.cursor) await this.fill(workspaceId, stream, latest);
      });
    }
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
      for (const sub of stream.subscribers) if (sub.ready && sub.filter(message)) sub.deliver({ ...message, seq: sub.lastSeq });
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

  /** Loads (cursor, upTo] from the table and dispatches it in order. */
  private async fill(workspaceId: string, stream: WorkspaceStream, upTo: number) {
    const from = stream.cursor ?? upTo - 1;
    const rows = await this.load(workspaceId, from, upTo);
    for (const e of rows) this.dispatch(stream, e);
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

  private async load(workspaceId: string, after: number, upTo?: number): Promise<DomainEvent[]> {
    const rows = await this.db
      .select()
      .from(events)
      .where(
        and(eq(events.workspaceId, workspaceId), gt(events.seq, after), upTo === undefined ? undefined : lte(events.seq, upTo)),
      )
      .orderBy(asc(events.seq))
      .limit(BACKLOG_LIMIT);
    return rows.map((r) => ({
      workspaceId: r.workspaceId,
      seq: Number(r.seq),
      type: r.type,
      conversationId: r.conversationId,
      public: r.public,
      payload: r.payload,
    }));
  }

  /**
   * Subscribes to a workspace. With `after`, first replays what was stored after that seq, then goes
   * live with no gap and no repeat. Resolves with the seq the subscriber is now at.
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
        const [row] = await this.db
          .select({ latest: max(events.seq), oldest: min(events.seq) })
          .from(events)
          .where(eq(events.workspaceId, workspaceId));
        const latest = Number(row?.latest ?? 0);
        subscriber.start?.(latest);
        if (after !== undefined && after < latest) {
          const backlog = await this.load(workspaceId, after, latest);
          // Too much missed for one replay, or what was missed has been pruned: the client reloads.
          truncated = backlog.length === BACKLOG_LIMIT || Number(row?.oldest ?? 0) > after + 1;
          for (const e of backlog) if (subscriber.filter(e)) subscriber.deliver(e);
        }
        // Bring the other subscribers up to `latest` first (this one is not ready, so it only buffers),
        // so the stream cursor never jumps past an event someone has not been given.
        if (stream.cursor === undefined) stream.cursor = latest;
        else if (stream.cursor < latest) await this.fill(workspaceId, stream, latest);
        state.lastSeq = latest;
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
