import { sql } from "drizzle-orm";
import type { BusMessage } from "../conversations/bus.ts";
import type { Core } from "../conversations/transaction.ts";
import { rowsOf } from "../db/connect.ts";
import { log } from "../platform/log.ts";
import { deriveInteractions } from "./interaction.ts";

/** Conversations derived in one statement: a busy minute's changes go in a few statements, not hundreds. */
export const DERIVE_BATCH = 200;
/** Events of one workspace arriving within this long are derived together. */
const GATHER_MS = 100;
/** A node that starts re-derives what changed this long before it: facts a stopped node left behind. */
const START_LOOKBACK_MS = 60 * 60_000;
/** Each pass looks this much before its watermark: a transaction's rows carry its start time, and commit later. */
const OVERLAP_MS = 30_000;

/**
 * Keeps the report facts (`interactions`) in step as events happen: every event of a conversation marks
 * it, and the marked conversations of a workspace are derived together a moment later. A sweep
 * (REPORTS_SWEEP_MS) re-derives every conversation whose events, calls, answers or clocks changed since
 * its last pass, so a message the bus lost never leaves a wrong figure. Every node does both; the
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
    if (!("type" in m) || m.ephemeral || !m.conversationId) return;
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
    for (const ids of batches) await deriveInBatches(this.core, ids);
  }

  private scheduleSweep(ms: number) {
    if (this.stopped) return;
    this.sweepTimer = setTimeout(() => {
      void this.enqueue(() => this.sweep()).finally(() => this.scheduleSweep(this.sweepMs));
    }, ms);
  }

  /** One pass of the reconciling sweep; returns how many conversations it derived. */
  async sweep(now = new Date()) {
    const since = new Date(this.watermark.getTime() - OVERLAP_MS);
    const ids = await changedSince(this.core, since);
    await deriveInBatches(this.core, ids, now);
    this.watermark = now;
    return ids.length;
  }
}

async function deriveInBatches(core: Core, ids: string[], now = new Date()) {
  for (let i = 0; i < ids.length; i += DERIVE_BATCH)
    await deriveInteractions(core.db, ids.slice(i, i + DERIVE_BATCH), now);
}

/** Conversations with anything a fact is made of changed since `since`. */
async function changedSince(core: Core, since: Date) {
  const t = sql`${since.toISOString()}::timestamptz`;
  const rows = rowsOf<{ id: string }>(
    await core.db.execute(sql`
      SELECT conversation_id AS id FROM events WHERE created_at >= ${t} AND conversation_id IS NOT NULL
      UNION SELECT conversation_id FROM calls WHERE updated_at >= ${t}
      UNION SELECT conversation_id FROM csat_responses WHERE created_at >= ${t}
      UNION SELECT conversation_id FROM sla_clocks WHERE breached_at >= ${t} AND conversation_id IS NOT NULL`),
  );
  return rows.map((r) => r.id);
}
