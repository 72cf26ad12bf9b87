import { eq, lt, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import type { Tx } from "../db/connect.ts";
import { insertRecords } from "../db/records.ts";
import { events, workspaceCounters } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";

/**
 * A domain event as it travels: stored with its workspace seq, published after commit, pushed to
 * sockets as `{seq, type, conversationId, ...payload}`.
 */
export type DomainEvent = {
  workspaceId: string;
  seq: number;
  type: string;
  conversationId: string | null;
  /** Shown to the customer's widget too (public replies, agent typing). */
  public: boolean;
  payload: Record<string, unknown> & { scope?: EventScope; previousScope?: EventScope };
  /** Typing and other transient signals: not stored, carry the latest seq, never replayed. */
  ephemeral?: boolean;
};

/** Who may see an event: checked by the realtime feed for every subscriber. */
export type EventScope = { contactId?: string; assigneeId?: string | null; teamId?: string | null };

/**
 * Takes the next seq of the workspace. The counter row stays locked until the transaction commits,
 * which is what puts seqs in commit order; call it as late in a transaction as possible.
 */
export async function nextSeq(tx: Tx, workspaceId: string): Promise<number> {
  return takeSeqs(tx, workspaceId, 1);
}

/** Takes `count` seqs at once and returns the first; a batch numbers its events from it. */
export async function takeSeqs(tx: Tx, workspaceId: string, count: number): Promise<number> {
  return firstSeq(await seqsQuery(tx, workspaceId, count), workspaceId, count);
}

/**
 * `takeSeqs`'s statement, not yet sent: a caller sends it last in a round trip of its own writes,
 * then reads the first seq from its result with `firstSeq`.
 */
export function seqsQuery(tx: Tx, workspaceId: string, count: number) {
  return tx
    .update(workspaceCounters)
    .set({ seq: sql`${workspaceCounters.seq} + ${count}` })
    .where(eq(workspaceCounters.workspaceId, workspaceId))
    .returning({ seq: workspaceCounters.seq });
}

/** The first of the `count` seqs `seqsQuery` took, from its rows (raw rows carry a bigint as text). */
export function firstSeq(rows: { seq: number | string }[], workspaceId: string, count: number) {
  const [row] = rows;
  if (!row) throw new Error(`workspace ${workspaceId} has no counter row`);
  return Number(row.seq) - count + 1;
}

/**
 * Collects the events of one transaction so they are published only after it commits. They are
 * written in one statement when the transaction's work is done (`flush`), not one per event: a new
 * conversation's first message logs two events, a batch hundreds.
 */
export class EventLog {
  readonly emitted: DomainEvent[] = [];
  private unwritten: DomainEvent[] = [];

  constructor(private readonly tx: Tx) {}

  async append(
    workspaceId: string,
    e: {
      type: string;
      conversationId?: string | null;
      public?: boolean;
      payload: DomainEvent["payload"];
      seq?: number;
    },
  ): Promise<DomainEvent> {
    const seq = e.seq ?? (await nextSeq(this.tx, workspaceId));
    const event: DomainEvent = {
      workspaceId,
      seq,
      type: e.type,
      conversationId: e.conversationId ?? null,
      public: e.public ?? false,
      payload: e.payload,
    };
    await this.record([event]);
    return event;
  }

  /** Logs events whose seqs the caller already took (a batch's range). */
  async record(list: DomainEvent[]) {
    this.unwritten.push(...list);
    this.emitted.push(...list);
  }

  /** Writes what was logged, inside the transaction (withEvents calls it before committing). */
  async flush() {
    const insert = this.unwrittenInsert();
    if (insert) await this.tx.execute(insert);
  }

  /**
   * The insert `flush` would send, not yet sent, for a caller that sends it with its own statements
   * (undefined when nothing is unwritten); the events count as written from here on.
   */
  unwrittenInsert() {
    const list = this.unwritten.splice(0);
    if (!list.length) return undefined;
    return insertRecords(
      events,
      list.map((e) => ({
        workspaceId: e.workspaceId,
        seq: e.seq,
        type: e.type,
        conversationId: e.conversationId,
        public: e.public,
        payload: e.payload,
      })),
    );
  }
}

/**
 * Drops events older than the retention window. Timeline items stay; only the replay log is trimmed,
 * and a client resuming from before the oldest kept event is told to reload (feed.ts).
 */
export async function pruneEvents(db: Db, olderThan: Date) {
  // The age index is BRIN: pages written since its last summary are read whole until summarized, and
  // nothing summarizes them on PGlite (no autovacuum). Only the pages since the last pass are new.
  // On PostgreSQL autovacuum summarizes them too, so a role that may not (not the index's owner)
  // still prunes.
  await db
    .execute(sql`SELECT brin_summarize_new_values('events_created_brin')`)
    .catch((err: unknown) => log.warn("events: cannot summarize the age index", { err }));
  await expiredEvents(db, olderThan);
}

/** The deletion `pruneEvents` runs (a builder: tests read its plan). */
export const expiredEvents = (db: Db, olderThan: Date) => db.delete(events).where(lt(events.createdAt, olderThan));
