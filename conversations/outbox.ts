import { and, eq, inArray, sql } from "drizzle-orm";
import { rowsOf } from "../db/connect.ts";
import {
  attachments,
  contactIdentities,
  conversations,
  inboxes,
  leases as namedLeases,
  outbox,
  timelineItems,
  type OutboxRow,
} from "../db/schema/index.ts";
import type { Keyring } from "../platform/crypto.ts";
import { log } from "../platform/log.ts";
import { PollLoop } from "../platform/poll-loop.ts";
import {
  PermanentSendError,
  RetryLaterError,
  type ChannelAdapter,
  type OutboundMessage,
  type SendResult,
} from "./channel.ts";
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
  /**
   * Inboxes only one node can send through (a Wechaty bot runs on the node holding its lease, named
   * a prefix plus the inbox id): while another holder's lease on the inbox is live, this worker leaves
   * its rows alone, so the holder sends them and no attempt is spent elsewhere. With no live lease any
   * worker claims them, and the adapter's error says why it cannot send.
   */
  pinned?: { holder: string; leasePrefixes: string[] };
};

type Outcome =
  | { ok: true; externalId: string; status: SendResult["status"] }
  | { ok: false; reason: string; final: boolean; afterMs?: number };

/** A provider's error text as the database can hold it: a NUL byte would fail the write that records it. */
function storable(reason: string) {
  return reason.replaceAll("\0", "").slice(0, 1000);
}

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
  private readonly loop: PollLoop;
  private readonly o: Required<Omit<OutboxOptions, "adapters" | "keyring" | "prepare" | "pinned">>;

  constructor(
    private readonly core: Core,
    private readonly options: OutboxOptions,
  ) {
    this.o = {
      baseDelayMs: options.baseDelayMs ?? 2000,
      maxDelayMs: options.maxDelayMs ?? 10 * 60_000,
      leaseMs: options.leaseMs ?? 60_000,
      batch: options.batch ?? 20,
      pollMs: options.pollMs ?? 1000,
    };
    this.loop = new PollLoop("outbox", () => this.runOnce(), this.o);
  }

  start() {
    this.loop.start();
  }

  stop() {
    return this.loop.stop();
  }

  /** Called after a reply commits, so it goes out now rather than at the next poll. */
  wake() {
    this.loop.wake();
  }

  /**
   * Claims and delivers one batch of due rows; returns how many were claimed. A row is claimed only
   * while no earlier message of its conversation is still pending (in flight or backing off), so a
   * batch holds at most one row per conversation and replies leave in the order they were written.
   * A failed (dead-lettered) earlier row no longer blocks the ones after it.
   */
  async runOnce(): Promise<number> {
    await this.deadLetter();
    const pinned = this.options.pinned;
    const elsewhere = pinned?.leasePrefixes.length
      ? sql`AND NOT EXISTS (
              SELECT 1 FROM ${namedLeases} l
              WHERE l.name IN (${sql.join(
                pinned.leasePrefixes.map((p) => sql`${p} || o.inbox_id::text`),
                sql`, `,
              )}) AND l.holder <> ${pinned.holder} AND l.expires_at > now())`
      : sql``;
    const claimed = rowsOf<{ id: string; lease_id: string }>(
      await this.core.db.execute(sql`
        UPDATE ${outbox} SET locked_until = now() + (${this.o.leaseMs} * interval '1 millisecond'),
          lease_id = gen_random_uuid(), attempts = attempts + 1, updated_at = now()
        WHERE id IN (
          SELECT o.id FROM ${outbox} o JOIN ${timelineItems} i ON i.id = o.timeline_item_id
          WHERE o.status = 'pending' AND o.next_attempt_at <= now() AND o.attempts < o.max_attempts
            AND (o.locked_until IS NULL OR o.locked_until < now())
            AND NOT EXISTS (
              SELECT 1 FROM ${outbox} e JOIN ${timelineItems} ei ON ei.id = e.timeline_item_id
              WHERE e.conversation_id = o.conversation_id AND e.status = 'pending' AND ei.seq < i.seq)
            ${elsewhere}
          ORDER BY o.next_attempt_at LIMIT ${this.o.batch}
          FOR UPDATE OF o SKIP LOCKED)
        RETURNING id, lease_id`),
    );
    if (!claimed.length) return 0;
    const leases = new Map(claimed.map((r) => [r.id, r.lease_id]));
    const rows = await this.core.db
      .select()
      .from(outbox)
      .where(inArray(outbox.id, [...leases.keys()]));
    // The lease this worker drew, not whatever the row holds by now, fences every result it writes.
    await Promise.all(rows.map((row) => this.deliver({ ...row, leaseId: leases.get(row.id)! })));
    return rows.length;
  }

  /**
   * A poison row: its attempts ran out without any of the last ones recording a result (the worker
   * died mid-send, or the result could not be stored). It ends as failed with the reason instead of
   * being claimed forever; an agent can retry it from the timeline.
   */
  private async deadLetter() {
    const dead = rowsOf<{ id: string; lease_id: string }>(
      await this.core.db.execute(sql`
        UPDATE ${outbox} SET locked_until = now() + (${this.o.leaseMs} * interval '1 millisecond'),
          lease_id = gen_random_uuid(), updated_at = now()
        WHERE id IN (
          SELECT id FROM ${outbox}
          WHERE status = 'pending' AND attempts >= max_attempts AND (locked_until IS NULL OR locked_until < now())
          LIMIT ${this.o.batch}
          FOR UPDATE SKIP LOCKED)
        RETURNING id, lease_id`),
    );
    if (!dead.length) return;
    const leases = new Map(dead.map((r) => [r.id, r.lease_id]));
    for (const row of await this.core.db
      .select()
      .from(outbox)
      .where(inArray(outbox.id, [...leases.keys()]))) {
      const reason =
        `Gave up after ${row.attempts} attempts: no result could be recorded` +
        (row.lastError ? ` (last error: ${row.lastError})` : "");
      log.warn("outbox: dead-lettered", { outboxId: row.id, channel: row.channel, attempts: row.attempts });
      await this.record({ ...row, leaseId: leases.get(row.id)! }, { ok: false, reason, final: true });
    }
  }

  private async deliver(row: OutboxRow) {
    const adapter = this.options.adapters[row.channel];
    let result: SendResult;
    try {
      if (!adapter) throw new PermanentSendError(`No adapter for channel ${row.channel}`);
      const prepare = this.options.prepare?.[row.channel];
      const message = prepare ? await prepare(await this.outboundFor(row), row) : await this.outboundFor(row);
      result = await adapter.send(message);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const final = err instanceof PermanentSendError || row.attempts >= row.maxAttempts;
      log.warn("outbox: send failed", { outboxId: row.id, channel: row.channel, attempt: row.attempts, final, reason });
      const afterMs = err instanceof RetryLaterError ? err.afterMs : undefined;
      await this.record(row, { ok: false, reason, final, afterMs });
      return;
    }
    // The provider has it. Whatever happens while recording that must not make the row pending again:
    // if it cannot be stored the lease stays, and only its expiry brings a resend, with the same key.
    await this.record(row, { ok: true, externalId: result.externalId, status: result.status });
  }

  private async record(row: OutboxRow, outcome: Outcome) {
    try {
      if (!(await this.settle(row, outcome)))
        log.warn("outbox: result discarded, the row was claimed again after this lease ran out", { outboxId: row.id });
    } catch (err) {
      log.error("outbox: could not record a send's result; the row stays leased until the lease runs out", {
        outboxId: row.id,
        err,
      });
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
      .where(eq(contactIdentities.contactId, conversation!.contactId))
      // Oldest first: a merged contact's own first identity leads, the same on every read.
      .orderBy(contactIdentities.createdAt, contactIdentities.id);
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

  /**
   * Records the outcome on the outbox row and on the message, and tells the timeline; only while the
   * row still holds this worker's lease (returns false when it does not, and writes nothing).
   */
  private async settle(row: OutboxRow, outcome: Outcome): Promise<boolean> {
    // A provider that named its own wait (a rate limit) is not asked again sooner.
    const delay = Math.max(
      retryDelay(row.attempts, this.o.baseDelayMs, this.o.maxDelayMs),
      outcome.ok ? 0 : (outcome.afterMs ?? 0),
    );
    const reason = outcome.ok ? null : storable(outcome.reason);
    const fenced = and(eq(outbox.id, row.id), eq(outbox.leaseId, row.leaseId!), eq(outbox.status, "pending"));
    return withEvents(this.core, async (tx, events) => {
      const [held] = await tx
        .update(outbox)
        .set(
          outcome.ok
            ? {
                status: "sent",
                externalId: outcome.externalId,
                lockedUntil: null,
                leaseId: null,
                lastError: null,
                updatedAt: new Date(),
              }
            : {
                status: outcome.final ? "failed" : "pending",
                lastError: reason,
                lockedUntil: null,
                leaseId: null,
                nextAttemptAt: new Date(Date.now() + delay),
                updatedAt: new Date(),
              },
        )
        .where(fenced)
        .returning({ id: outbox.id });
      if (!held) return false;
      // Intermediate failures stay "pending" on the message: the customer-facing state has not changed.
      if (!outcome.ok && !outcome.final) return true;
      const [item] = await tx
        .update(timelineItems)
        .set(
          outcome.ok
            ? { deliveryStatus: outcome.status, deliveryError: null, externalId: outcome.externalId }
            : { deliveryStatus: "failed", deliveryError: reason },
        )
        .where(eq(timelineItems.id, row.timelineItemId))
        .returning();
      if (!item) return true;
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
      return true;
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
        .where(
          and(
            eq(timelineItems.workspaceId, workspaceId),
            eq(timelineItems.id, timelineItemId),
            eq(timelineItems.direction, "out"),
          ),
        )
        .returning();
      if (!item) return false;
      await tx
        .update(outbox)
        .set({ status: "failed", lastError: reason.slice(0, 1000), updatedAt: new Date() })
        .where(eq(outbox.timelineItemId, timelineItemId));
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

  /**
   * An agent's "retry" on a failed message, dead-lettered ones included: back to pending with fresh
   * attempts, due now, and the timeline told. Only a message of `conversationId`, which the caller
   * has checked the agent may see.
   */
  static async retry(core: Core, workspaceId: string, conversationId: string, timelineItemId: string) {
    return withEvents(core, async (tx, events) => {
      const [row] = await tx
        .update(outbox)
        .set({
          status: "pending",
          attempts: 0,
          nextAttemptAt: new Date(),
          lockedUntil: null,
          leaseId: null,
          lastError: null,
          updatedAt: new Date(),
        })
        .where(
          and(
            eq(outbox.workspaceId, workspaceId),
            eq(outbox.conversationId, conversationId),
            eq(outbox.timelineItemId, timelineItemId),
            eq(outbox.status, "failed"),
          ),
        )
        .returning();
      if (!row) return false;
      const [item] = await tx
        .update(timelineItems)
        .set({ deliveryStatus: "pending", deliveryError: null })
        .where(eq(timelineItems.id, timelineItemId))
        .returning();
      const [conversation] = await tx.select().from(conversations).where(eq(conversations.id, conversationId));
      await events.append(workspaceId, {
        type: "item.updated",
        conversationId,
        public: isPublicItem(item!),
        payload: { item: (await loadTimelineItem(tx, timelineItemId))!, scope: scopeOf(conversation!) },
      });
      return true;
    });
  }
}
