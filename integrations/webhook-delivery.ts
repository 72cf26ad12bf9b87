import { createHmac } from "node:crypto";
import { and, eq, inArray, sql } from "drizzle-orm";
import { rowsOf, type Db } from "../db/connect.ts";
import { webhookDeliveries, webhooks } from "../db/schema/index.ts";
import type { Keyring } from "../platform/crypto.ts";
import { log } from "../platform/log.ts";
import { PollLoop } from "../platform/poll-loop.ts";
import { fetchOutbound, type OutboundPolicy } from "../platform/outbound.ts";

export type WebhookWorkerOptions = {
  keyring: Keyring;
  policy: OutboundPolicy;
  /** The wait before each retry; a delivery fails for good after the last one. */
  backoffMs?: number[];
  /** How long a claimed row stays leased to this worker before another may take it (crash recovery). */
  leaseMs?: number;
  /** How long one POST may take. */
  timeoutMs?: number;
  batch?: number;
  pollMs?: number;
};

/** 10 s, 1 min, 5 min, 30 min, 2 h: six attempts in all. */
export const DEFAULT_BACKOFF_MS = [10_000, 60_000, 300_000, 1_800_000, 7_200_000];

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`, as X-Switchboard-Signature carries it. */
export function webhookSignature(secret: string, timestamp: number | string, body: string) {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

type Claimed = {
  id: string;
  lease_id: string;
  webhook_id: string;
  type: string;
  payload: unknown;
  attempts: number;
  created_at: string | Date;
};

/**
 * Delivers webhook_deliveries rows: due rows are leased (locked_until, fenced by lease_id) with
 * SKIP LOCKED, so every node's worker shares the work and a crashed worker's rows come back after
 * the lease. A 2xx answer delivers; anything else waits for the next backoff step, and after the last
 * one the row fails with the last status code or error.
 */
export class WebhookWorker {
  private readonly loop: PollLoop;
  private readonly backoff: number[];
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly batch: number;
  private readonly pollMs: number;

  constructor(
    private readonly db: Db,
    private readonly options: WebhookWorkerOptions,
  ) {
    this.backoff = options.backoffMs ?? DEFAULT_BACKOFF_MS;
    this.leaseMs = options.leaseMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.batch = options.batch ?? 20;
    this.pollMs = options.pollMs ?? 1000;
    this.loop = new PollLoop("webhooks", () => this.runOnce(), {
      batch: this.batch,
      pollMs: this.pollMs,
      idleUntilStarted: true,
    });
  }

  start() {
    this.loop.start();
  }

  stop() {
    return this.loop.stop();
  }

  /** New or re-sent deliveries: go now rather than at the next poll. */
  wake() {
    this.loop.wake();
  }

  /** Claims and delivers one batch of due rows; returns how many were claimed. */
  async runOnce(): Promise<number> {
    const claimed = rowsOf<Claimed>(
      await this.db.execute(sql`
        UPDATE ${webhookDeliveries} SET locked_until = now() + (${this.leaseMs} * interval '1 millisecond'),
          lease_id = gen_random_uuid(), attempts = attempts + 1
        WHERE id IN (
          SELECT id FROM ${webhookDeliveries}
          WHERE status = 'pending' AND next_attempt_at <= now()
            AND (locked_until IS NULL OR locked_until < now())
          ORDER BY next_attempt_at LIMIT ${this.batch}
          FOR UPDATE SKIP LOCKED)
        RETURNING id, lease_id, webhook_id, type, payload, attempts, created_at`),
    );
    if (!claimed.length) return 0;
    const hooks = await this.db
      .select({ id: webhooks.id, url: webhooks.url, secret: webhooks.secret })
      .from(webhooks)
      .where(
        inArray(
          webhooks.id,
          claimed.map((c) => c.webhook_id),
        ),
      );
    const byId = new Map(hooks.map((h) => [h.id, h]));
    await Promise.all(claimed.map((row) => this.deliver(row, byId.get(row.webhook_id))));
    return claimed.length;
  }

  private async deliver(row: Claimed, hook: { url: string; secret: string } | undefined) {
    if (!hook) return; // deleted meanwhile: its deliveries went with it
    let responseStatus: number | null = null;
    let error: string | null = null;
    try {
      const payload = typeof row.payload === "string" ? JSON.parse(row.payload) : row.payload;
      const body = JSON.stringify({
        id: row.id,
        type: row.type,
        createdAt: new Date(row.created_at).toISOString(),
        data: payload,
      });
      const timestamp = Math.floor(Date.now() / 1000);
      const res = await fetchOutbound(
        hook.url,
        {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "user-agent": "Switchboard-Webhooks/1",
            "x-switchboard-timestamp": String(timestamp),
            "x-switchboard-signature": webhookSignature(this.options.keyring.open(hook.secret), timestamp, body),
          },
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        },
        this.options.policy,
      );
      responseStatus = res.status;
      await res.body?.cancel().catch(() => {});
      if (!res.ok) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err instanceof Error ? err.message : String(err)).replaceAll("\0", "").slice(0, 1000);
    }
    const fence = and(eq(webhookDeliveries.id, row.id), eq(webhookDeliveries.leaseId, row.lease_id));
    try {
      if (error === null) {
        await this.db
          .update(webhookDeliveries)
          .set({
            status: "delivered",
            responseStatus,
            lastError: null,
            deliveredAt: sql`now()`,
            lockedUntil: null,
            leaseId: null,
          })
          .where(fence);
        return;
      }
      const wait = this.backoff[row.attempts - 1];
      log.warn("webhooks: delivery failed", { deliveryId: row.id, attempt: row.attempts, final: wait === undefined });
      await this.db
        .update(webhookDeliveries)
        .set({
          status: wait === undefined ? "failed" : "pending",
          responseStatus,
          lastError: error,
          nextAttemptAt: sql`now() + (${wait ?? 0} * interval '1 millisecond')`,
          lockedUntil: null,
          leaseId: null,
        })
        .where(fence);
    } catch (err) {
      log.error("webhooks: could not record a delivery's result; it is tried again after the lease", {
        deliveryId: row.id,
        err,
      });
    }
  }
}
