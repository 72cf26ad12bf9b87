import { sql } from "drizzle-orm";
import type { BusMessage } from "../conversations/bus.ts";
import type { Core } from "../conversations/transaction.ts";
import { rowsOf, type Executor } from "../db/connect.ts";
import { log } from "../platform/log.ts";
import { deriveInteractions } from "./interaction.ts";

/** Conversations derived in one statement: a busy minute's changes go in a few statements, not hundreds. */
export const DERIVE_BATCH = 200;
/**
 * Events arriving within this long are derived together: a busy conversation's burst of messages costs
 * one derivation, not one per message, and a report is never read to the second.
 */
const GATHER_MS = 500;
/**
 * A node that starts re-derives what changed this long before it: facts a node that stopped left behind
 * (nothing changes while no node runs; other nodes sweep what a stopped one missed).
 */
const START_LOOKBACK_MS = 10 * 60_000;
/** Each pass looks this much before its watermark: a transaction's rows carry its start time, and commit later. */
const OVERLAP_MS = 30_000;

/**
 * Keeps the report facts (`interactions`) in step as events happen: every event of a conversation marks
 * it, and the marked conversations of a workspace are derived together a moment later. A sweep
 * (REPORTS_SWEEP_MS) re-derives every conversation with events committed since its last pass, so a
 * message the bus lost never leaves a wrong figure. Every node does both; the
 * derivation writes the same rows whoever runs it.
 */
export class ReportFacts {
  private readonly dirty = new Map<string, Set<string>>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sweepTimer: ReturnType<typeof setTimeout> | undefined;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private watermark = new Date(Date.now() - START_LOOKBACK_MS);
  private stopped = true;

  constructor(
    private readonly core: Core,
    private readonly sweepMs: number,
  ) {}

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe = this.core.bus.subscribe((m) => this.heard(m));
    this.scheduleSweep(this.sweepMs);
  }

  async stop() {
    this.stopped = true;
    this.unsubscribe?.();
    clearTimeout(this.timer);
    clearTimeout(this.sweepTimer);
    await this.running;
  }

  private heard(m: BusMessage) {
    if (!("type" in m) || m.ephemeral || !m.conversationId || customerMessage(m.type, m.payload)) return;
    let set = this.dirty.get(m.workspaceId);
    if (!set) this.dirty.set(m.workspaceId, (set = new Set()));
    set.add(m.conversationId);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.enqueue(() => this.flush());
    }, GATHER_MS);
  }

  /** One derivation at a time on a node: the listener's and the sweep's never race each other. */
  private enqueue(work: () => Promise<unknown>) {
    const next = this.running.then(work).catch((err: unknown) => log.error("reports: could not derive facts", { err }));
    this.running = next;
    return next;
  }

  private async flush() {
    const batches = [...this.dirty.values()].map((s) => [...s]);
    this.dirty.clear();
    for (const ids of batches) await deriveInBatches(this.core.db, ids);
  }

  private scheduleSweep(ms: number) {
    if (this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      void this.enqueue(() => this.sweep()).finally(() => this.scheduleSweep(this.sweepMs));
    }, ms);
  }

  /**
   * One pass of the reconciling sweep; returns how many conversations it derived, or -1 when another
   * node's pass was under way (one pass at a time across nodes: this node's watermark then stays, and
   * its next pass covers the time again).
   */
  async sweep(now = new Date()) {
    const since = new Date(this.watermark.getTime() - OVERLAP_MS);
    const swept = await this.core.db.transaction(async (tx) => {
      const [lock] = rowsOf<{ ok: boolean }>(
        await tx.execute(sql`SELECT pg_try_advisory_xact_lock(hashtextextended('reports:sweep', 0)) AS ok`),
      );
      if (!lock?.ok) return -1;
      const ids = await changedSince(tx, since);
      await deriveInBatches(tx, ids, now);
      return ids.length;
    });
    if (swept >= 0) this.watermark = now;
    return swept;
  }
}

/**
 * A customer's message changes no fact by itself: the response times it starts are measured when an agent
 * answers (that message is derived), and one that reopens or starts a conversation comes with its own
 * conversation event. Skipping them keeps a flood of inbound messages from re-deriving every conversation.
 */
function customerMessage(type: string, payload: Record<string, unknown>) {
  if (type !== "item.created") return false;
  const item = payload.item as { type?: string; direction?: string } | undefined;
  return item?.type === "message" && item.direction === "in";
}

async function deriveInBatches(db: Executor, ids: string[], now = new Date()) {
  for (let i = 0; i < ids.length; i += DERIVE_BATCH) await deriveInteractions(db, ids.slice(i, i + DERIVE_BATCH), now);
}

/**
 * Conversations with anything a fact is made of changed since `since`: every such change (a message, an
 * offer, a call's progress, a CSAT answer, an SLA breach) commits an event, and the events table is read by
 * its time through a BRIN index, where calls, answers and clocks have no index on their change time.
 */
async function changedSince(db: Executor, since: Date) {
  const rows = rowsOf<{ id: string }>(
    await db.execute(sql`
      SELECT DISTINCT conversation_id AS id FROM events
      WHERE created_at >= ${since.toISOString()}::timestamptz AND conversation_id IS NOT NULL
        AND NOT (type = 'item.created' AND payload->'item'->>'type' = 'message'
          AND payload->'item'->>'direction' = 'in')`),
  );
  return rows.map((r) => r.id);
}
