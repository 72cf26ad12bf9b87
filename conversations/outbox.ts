import { and, eq, inArray, sql } from "drizzle-orm";
import { rowsOf } from "../db/connect.ts";
import {
  attachments, contactIdentities, conversations, inboxes, outbox, timelineItems, type OutboxRow,
} from "../db/schema/index.ts";
import type { Keyring } from "../platform/crypto.ts";
import { log } from "../platform/log.ts";
import { PermanentSendError, type ChannelAdapter, type OutboundMessage } from "./channel.ts";
import { readCredentials } from "./inbox.ts";
import { scopeOf } from "./conversation.ts";
import { attachmentView, isPublicItem, loadTimelineItem } from "./timeline.ts";
import { withEvents, type Core } from "./transaction.ts";

export type OutboxOptions = {
  adapters: Partial<Record<string, ChannelAdapter>>;
  keyring: Keyring;
  /** First retry delay; doubles per attempt, with jitter, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** How long a claimed row stays leased to this worker before another may take it (crash recovery). */
  leaseMs?: number;
  batch?: number;
  pollMs?: number;
  /**
   * Per channel: completes a message before its adapter sends it, with what only the database knows
   * (an email's Message-ID, In-Reply-To, References and recipients). Adapters never query the database.
   */
  prepare?: Partial<Record<string, (message: OutboundMessage, row: OutboxRow) => Promise<OutboundMessage>>>;
};

/** Exponential backoff with ±20% jitter so a provider outage does not make every row retry in step. */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random = Math.random) {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp * (0.8 + 0.4 * random()));
}

/**
 * Delivers outbox rows through channel adapters. Rows are leased (not held in an open transaction)
 * with SKIP LOCKED, so several workers and nodes share the work and a crashed worker's rows come back
 * after the lease; the adapter gets the row id as idempotency key for the resend that can cause.
 */
export class OutboxWorker {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private readonly o: Required<Omit<OutboxOptions, "adapters" | "keyring" | "prepare">>;

  constructor(private readonly core: Core, private readonly options: OutboxOptions) {
    this.o = {
      baseDelayMs: options.baseDelayMs ?? 2000,
      maxDelayMs: options.maxDelayMs ?? 10 * 60_000,
      leaseMs: options.leaseMs ?? 60_000,
      batch: options.batch ?? 20,
      pollMs: options.pollMs ?? 1000,
    };
  }

  start() {
    this.stopped = false;
    this.schedule(0);
  }

  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    while (this.running) await Bun.sleep(5);
  }

  /** Called after a reply commits, so it goes out now rather than at the next poll. */
  wake() {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick() {
    if (this.running || this.stopped) return;
    this.running = true;
    let sent = 0;
    try {
      sent = await this.runOnce();
    } catch (err) {
      log.error("outbox: run failed", { err });
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    const more = this.again || sent === this.o.batch;
    this.again = false;
    this.schedule(more ? 0 : this.o.pollMs);
  }

  /** Claims and delivers one batch of due rows; returns how many were claimed. */
  async runOnce(): Promise<number> {
    const claimed = rowsOf<{ id: string }>(
      await this.core.db.execute(sql`
        UPDATE ${outbox} SET locked_until = now() + (${this.o.leaseMs} * interval '1 millisecond'),
          attempts = attempts + 1, updated_at = now()
        WHERE id IN (
          SELECT id FROM ${outbox}
          WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
          ORDER BY next_attempt_at LIMIT ${this.o.batch}
          FOR UPDATE SKIP LOCKED)
        RETURNING id`),
    );
    if (!claimed.length) return 0;
    const rows = await this.core.db.select().from(outbox).where(inArray(outbox.id, claimed.map((r) => r.id)));
    await Promise.all(rows.map((row) => this.deliver(row)));
    return rows.length;
  }

  private async deliver(row: OutboxRow) {
    const adapter = this.options.adapters[row.channel];
    try {
      if (!adapter) throw new PermanentSendError(`No adapter for channel ${row.channel}`);
      const prepare = this.options.prepare?.[row.channel];
      const message = prepare ? await prepare(await this.outboundFor(row), row) : await this.outboundFor(row);
      const result = await adapter.send(message);
      await this.settle(row, { ok: true, externalId: result.externalId, status: result.status });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const final = err instanceof PermanentSendError || row.attempts >= row.maxAttempts;
      log.warn("outbox: send failed", { outboxId: row.id, channel: row.channel, attempt: row.attempts, final, reason });
      await this.settle(row, { ok: false, reason, final });
    }
  }

  private async outboundFor(row: OutboxRow): Promise<OutboundMessage> {
    const db = this.core.db;
    const [[item], [inbox], files] = await Promise.all([
      db.select().from(timelineItems).where(eq(timelineItems.id, row.timelineItemId)),
      db.select().from(inboxes).where(eq(inboxes.id, row.inboxId)),
      db.select().from(attachments).where(eq(attachments.timelineItemId, row.timelineItemId)),
    ]);
    if (!item || !inbox) throw new PermanentSendError("Message or inbox no longer exists");
    const [conversation] = await db.select().from(conversations).where(eq(conversations.id, item.conversationId));
    const to = await db
      .select({ kind: contactIdentities.kind, value: contactIdentities.value })
      .from(contactIdentities)
      .where(eq(contactIdentities.contactId, conversation!.contactId));
    return {
      idempotencyKey: row.id,
      inbox: {
        id: inbox.id,
        channel: inbox.channel,
        settings: inbox.settings,
        // Sealed with a lost key: the reason names the inbox whose credentials an admin must re-enter.
        credentials: readCredentials(this.options.keyring, inbox, this.core.db),
      },
      conversationId: item.conversationId,
      to,
      text: item.text,
      html: item.html,
      attachments: files.map(attachmentView),
      threadKey: typeof item.data.threadKey === "string" ? item.data.threadKey : undefined,
      senderName: typeof item.data.senderName === "string" ? item.data.senderName : null,
      channelData: item.data,
    };
  }

  /** Records the outcome on the outbox row and on the message, and tells the timeline. */
  private async settle(
    row: OutboxRow,
    outcome: { ok: true; externalId: string; status: "sent" | "delivered" } | { ok: false; reason: string; final: boolean },
  ) {
    const delay = retryDelay(row.attempts, this.o.baseDelayMs, this.o.maxDelayMs);
    await withEvents(this.core, async (tx, events) => {
      if (outcome.ok) {
        await tx
          .update(outbox)
          .set({ status: "sent", externalId: outcome.externalId, lockedUntil: null, lastError: null, updatedAt: new Date() })
          .where(eq(outbox.id, row.id));
      } else {
        await tx
          .update(outbox)
          .set({
            status: outcome.final ? "failed" : "pending",
            lastError: outcome.reason.slice(0, 1000),
            lockedUntil: null,
            nextAttemptAt: new Date(Date.now() + delay),
            updatedAt: new Date(),
          })
          .where(eq(outbox.id, row.id));
        // Intermediate failures stay "pending" on the message: the customer-facing state has not changed.
        if (!outcome.final) return;
      }
      const [item] = await tx
        .update(timelineItems)
        .set(
          outcome.ok
            ? { deliveryStatus: outcome.status, deliveryError: null, externalId: outcome.externalId }
            : { deliveryStatus: "failed", deliveryError: outcome.reason.slice(0, 1000) },
        )
        .where(eq(timelineItems.id, row.timelineItemId))
        .returning();
      if (!item) return;
      const [conversation] = await tx.select().from(conversations).where(eq(conversations.id, item.conversationId));
      await events.append(row.workspaceId, {
        type: "item.updated",
        conversationId: item.conversationId,
        public: isPublicItem(item),
        payload: {
          item: (await loadTimelineItem(tx, item.id))!,
          scope: scopeOf(conversation!),
        },
      });
    });
  }

  /**
   * A message the provider accepted but later reported undeliverable (an email bounce): marked failed
   * with the reason, and the timeline told.
   */
  static async markFailed(core: Core, workspaceId: string, timelineItemId: string, reason: string) {
    return withEvents(core, async (tx, events) => {
      const [item] = await tx
        .update(timelineItems)
        .set({ deliveryStatus: "failed", deliveryError: reason.slice(0, 1000) })
        .where(and(eq(timelineItems.workspaceId, workspaceId), eq(timelineItems.id, timelineItemId), eq(timelineItems.direction, "out")))
        .returning();
      if (!item) return false;
      await tx.update(outbox).set({ status: "failed", lastError: reason.slice(0, 1000), updatedAt: new Date() }).where(eq(outbox.timelineItemId, timelineItemId));
      const [conversation] = await tx.select().from(conversations).where(eq(conversations.id, item.conversationId));
      await events.append(workspaceId, {
        type: "item.updated",
        conversationId: item.conversationId,
        public: isPublicItem(item),
        payload: { item: (await loadTimelineItem(tx, item.id))!, scope: scopeOf(conversation!) },
      });
      return true;
    });
  }

  /** An agent's "retry" on a failed message: back to pending, due now. */
  static async retry(core: Core, workspaceId: string, timelineItemId: string) {
    return withEvents(core, async (tx) => {
      const [row] = await tx
        .update(outbox)
        .set({ status: "pending", attempts: 0, nextAttemptAt: new Date(), lockedUntil: null, updatedAt: new Date() })
        .where(and(eq(outbox.workspaceId, workspaceId), eq(outbox.timelineItemId, timelineItemId), eq(outbox.status, "failed")))
        .returning();
      if (!row) return false;
      await tx.update(timelineItems).set({ deliveryStatus: "pending", deliveryError: null }).where(eq(timelineItems.id, timelineItemId));
      return true;
    });
  }
}
