import { hostname } from "node:os";
import { and, eq, like, sql } from "drizzle-orm";
import { mediaIdOf, withPendingMedia } from "../../../channels/wechat/media.ts";
import { wechatKindOf, wecomSetupOf, type WecomSetup } from "../../../channels/wechat/setup.ts";
import { createWecomTokens } from "../../../channels/wechat/token.ts";
import {
  SYNC_TOKEN_REFUSED,
  syncMsg,
  WECOM_API_BASE,
  WecomSyncError,
  wecomReplyPrefixOf,
  type WecomApiOptions,
} from "../../../channels/wechat/wecom-api.ts";
import { wecomMessageOf } from "../../../channels/wechat/wecom-message.ts";
import { createAccessTokenStore } from "../../../conversations/access-token-store.ts";
import type { InboundQueue } from "../../../conversations/inbound-queue.ts";
import { ingestInbound, type IngestResult } from "../../../conversations/ingest.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { OutboxWorker } from "../../../conversations/outbox.ts";
import type { Core } from "../../../conversations/transaction.ts";
import { rowsOf } from "../../../db/connect.ts";
import { Lease } from "../../../db/lease.ts";
import { inboxes, timelineItems, type Inbox } from "../../../db/schema/index.ts";
import type { Keyring } from "../../../platform/crypto.ts";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";
import { downloadMedia, queueMediaDownload, type WechatDeps } from "./media.ts";
import { lookUpCustomers } from "./wecom-customer.ts";

/**
 * Pulls a WeCom customer-service account's messages with `sync_msg`, from the cursor kept in
 * `inbox_states.cursor`, page by page while WeCom says `has_more`.
 *
 * - The cursor moves only after the page's messages are committed. A crash between the two re-reads one
 *   page, and ingest is idempotent on (inbox, msgid): nothing is stored twice, nothing is skipped.
 * - One pull at a time per inbox across nodes: a row lease (`wecom-sync:<inbox>`), renewed per page, and
 *   the cursor written only while it is held. A node that finds the lease taken waits for it, since the
 *   holder's pass may have ended before the messages of this node's callback arrived.
 * - A callback's `Token` (valid 10 minutes) lifts sync_msg's strict rate limit. A catch-up pull without
 *   it runs once per `catchUpMs` per inbox across the cluster (a lease as the clock), and once at start,
 *   for callbacks that were lost while the server was down or unreachable.
 */

export type WecomSyncOptions = {
  core: Core;
  inbound: Pick<InboundQueue, "submit">;
  keyring: Keyring;
  api: WecomApiOptions;
  /** How long a pull's lease lasts without renewal (one page's work fits easily). */
  leaseMs?: number;
  /** How long a node waits for another node's pull of the same inbox before leaving it to that node. */
  waitMs?: number;
  /** How often each WeCom inbox is pulled without a callback. */
  catchUpMs?: number;
  /** For downloading messages' files and looking up new customers after a page; without it, neither. */
  followUp?: WechatDeps;
};

/** A runaway account (or a stand-in that always says has_more) stops here; the next callback goes on. */
const MAX_PAGES = 100;
const CATCH_UP_MS = 5 * 60_000;

type WecomInbox = { row: Inbox; setup: WecomSetup };

export class WecomSync {
  private readonly holder = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  private readonly running = new Map<string, Promise<void>>();
  private readonly followUps = new Set<Promise<void>>();
  /** Inboxes whose callback came during a pull here: one more pass follows, with the newest token. */
  private readonly again = new Map<string, string | null>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;

  constructor(private readonly o: WecomSyncOptions) {}

  /** The API and token cache the pulls use (the hand-over listener shares them). */
  get api() {
    return this.o.api;
  }

  /** Pulls everything new for the inbox; a pull already running here takes one more pass instead. */
  pull(inboxId: string, callbackToken?: string): Promise<void> {
    const current = this.running.get(inboxId);
    if (current) {
      this.again.set(inboxId, callbackToken ?? this.again.get(inboxId) ?? null);
      return current;
    }
    const run = (async () => {
      let token = callbackToken ?? null;
      for (;;) {
        await this.pullOnce(inboxId, token);
        if (!this.again.has(inboxId) || this.stopped) return;
        token = this.again.get(inboxId) ?? null;
        this.again.delete(inboxId);
      }
    })().finally(() => this.running.delete(inboxId));
    this.running.set(inboxId, run);
    return run;
  }

  /** Starts the catch-up pulls: one soon after start, then every `catchUpMs`. */
  start() {
    this.stopped = false;
    const every = this.o.catchUpMs ?? CATCH_UP_MS;
    const tick = () => void this.catchUp().catch((err: unknown) => log.error("wecom: catch-up failed", { err }));
    setTimeout(tick, Math.min(every, 5_000)).unref?.();
    this.timer = setInterval(tick, every);
    this.timer.unref?.();
  }

  /** Stops the catch-up pulls and waits for the pulls under way. */
  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.allSettled([...this.running.values()]);
    await Promise.allSettled([...this.followUps]);
  }

  /** Pulls each WeCom inbox whose catch-up is due cluster-wide. */
  async catchUp() {
    const rows = await this.o.core.db
      .select()
      .from(inboxes)
      .where(and(eq(inboxes.channel, "wechat"), sql`${inboxes.settings}->>'kind' = 'wecom'`));
    for (const row of rows) {
      if (this.stopped) return;
      const due = new Lease(this.o.core.db, `wecom-catchup:${row.id}`, {
        holder: this.holder,
        ttlMs: (this.o.catchUpMs ?? CATCH_UP_MS) - 1_000,
        workspaceId: row.workspaceId,
      });
      // Never released: its expiry is when the next catch-up of this inbox is due, whichever node runs it.
      if (await due.acquire()) await this.pull(row.id).catch((err: unknown) => logPullFailure(row.id, err));
    }
  }

  private async inboxOf(inboxId: string): Promise<WecomInbox | undefined> {
    const [row] = await this.o.core.db.select().from(inboxes).where(eq(inboxes.id, inboxId));
    if (!row || row.channel !== "wechat" || wechatKindOf(row.settings) !== "wecom") return undefined;
    return { row, setup: wecomSetupOf(row.settings, readCredentials(this.o.keyring, row, this.o.core.db)) };
  }

  private async pullOnce(inboxId: string, callbackToken: string | null) {
    const inbox = await this.inboxOf(inboxId);
    if (!inbox) return;
    const name = `wecom-sync:${inboxId}`;
    const lease = new Lease(this.o.core.db, name, {
      holder: this.holder,
      ttlMs: this.o.leaseMs ?? 60_000,
      workspaceId: inbox.row.workspaceId,
    });
    const deadline = Date.now() + (this.o.waitMs ?? 30_000);
    while (!(await lease.acquire())) {
      if (Date.now() > deadline || this.stopped) {
        log.warn("wecom: another node's pull still holds this inbox; leaving it to that node", { inboxId });
        return;
      }
      await Bun.sleep(200);
    }
    try {
      await this.pages(inbox, name, callbackToken);
    } finally {
      await lease.release().catch(() => {});
    }
  }

  private async pages({ row, setup }: WecomInbox, leaseName: string, callbackToken: string | null) {
    const app = { corpId: setup.corpId, secret: setup.secret, inboxId: row.id };
    let token = callbackToken;
    let cursor = await this.cursorOf(row.id);
    for (let page = 0; page < MAX_PAGES && !this.stopped; page++) {
      let result: Awaited<ReturnType<typeof syncMsg>>;
      try {
        result = await syncMsg(app, { cursor, token, openKfid: setup.openKfid }, this.o.api);
      } catch (err) {
        // The callback's token expired (10 minutes) or was never WeCom's: pull without it.
        if (err instanceof WecomSyncError && err.errcode === SYNC_TOKEN_REFUSED && token) {
          token = null;
          continue;
        }
        throw err;
      }
      await this.store(row, setup, result.messages);
      if (result.nextCursor && result.nextCursor !== cursor) {
        if (!(await this.saveCursor(row, leaseName, result.nextCursor)))
          throw new Error("wecom: lost the inbox's sync lease before saving the cursor");
        cursor = result.nextCursor;
      }
      if (!result.hasMore) return;
      await new Lease(this.o.core.db, leaseName, {
        holder: this.holder,
        ttlMs: this.o.leaseMs ?? 60_000,
        workspaceId: row.workspaceId,
      }).acquire();
    }
  }

  /**
   * Commits a page, in order: customers' messages ingested (in batches; one with a file alone, its
   * download recorded as due in the same transaction, media.ts), failed replies marked. Resolves once
   * all is stored; then the files are downloaded and new customers looked up (wecom-customer.ts).
   */
  private async store(row: Inbox, setup: WecomSetup, messages: Record<string, unknown>[]) {
    const written: IngestResult[] = [];
    const marks: Promise<void>[] = [];
    let batch: Promise<IngestResult>[] = [];
    const flush = async () => {
      written.push(...(await Promise.all(batch)));
      batch = [];
    };
    // A write that fails while a later one is awaited must not go unhandled; the pull fails with it below.
    const settled = <T>(p: Promise<T>) => (p.catch(() => {}), p);
    for (const message of messages) {
      if (typeof message.open_kfid === "string" && message.open_kfid && message.open_kfid !== setup.openKfid) continue;
      const outcome = wecomMessageOf(message, { inboxId: row.id });
      if (outcome.kind === "message" && mediaIdOf(outcome.inbound.data)) {
        await flush();
        written.push(
          await ingestInbound(this.o.core, row.workspaceId, withPendingMedia(outcome.inbound), {
            stored: (tx, s) => queueMediaDownload(tx, row.workspaceId, s.itemId),
          }),
        );
      } else if (outcome.kind === "message")
        batch.push(settled(this.o.inbound.submit(row.workspaceId, outcome.inbound)));
      else if (outcome.kind === "send_failed") marks.push(settled(this.markFailed(row, outcome.msgId, outcome.reason)));
      else log.debug("wecom: entry not stored", { inboxId: row.id, reason: outcome.reason });
    }
    await Promise.all([flush(), ...marks]);
    const fresh = written.filter((r) => !r.duplicate);
    const deps = this.o.followUp;
    if (!deps || !fresh.length) return;
    for (const r of fresh) if (r.item.data.media) this.track(downloadMedia(deps, r.item.id));
    const customers = fresh.flatMap((r) =>
      typeof r.item.data.externalUserId === "string"
        ? [{ contactId: r.contactId, externalUserId: r.item.data.externalUserId }]
        : [],
    );
    this.track(lookUpCustomers(deps, row, customers));
  }

  /** Follow-up work (never throws) that stop() waits for, so nothing outlives the runtime's database. */
  private track(work: Promise<void>) {
    this.followUps.add(work);
    void work.finally(() => this.followUps.delete(work));
  }

  /**
   * A reply WeCom accepted and then could not deliver (`msg_send_fail`): failed, with the reason, on the
   * timeline. A file after a reply's text has a msgid of its own that starts like the reply's (wecom-api.ts).
   */
  private async markFailed(row: Inbox, msgId: string, reason: string) {
    if (!msgId) return;
    const prefix = wecomReplyPrefixOf(msgId);
    const [item] = await this.o.core.db
      .select({ id: timelineItems.id })
      .from(timelineItems)
      .where(
        and(
          eq(timelineItems.workspaceId, row.workspaceId),
          eq(timelineItems.inboxId, row.id),
          prefix
            ? like(timelineItems.externalId, `${prefix.replace(/[\\%_]/g, "\\$&")}%`)
            : eq(timelineItems.externalId, msgId),
        ),
      )
      .limit(1);
    if (item) await OutboxWorker.markFailed(this.o.core, row.workspaceId, item.id, reason);
  }

  private async cursorOf(inboxId: string) {
    const rows = rowsOf<{ cursor: string | null }>(
      await this.o.core.db.execute(sql`SELECT cursor FROM inbox_states WHERE inbox_id = ${inboxId}`),
    );
    return rows[0]?.cursor ?? null;
  }

  /** Saves the cursor only while this node holds the inbox's sync lease (a node that lost it must not). */
  private async saveCursor(row: Inbox, leaseName: string, cursor: string) {
    const saved = rowsOf<{ inbox_id: string }>(
      await this.o.core.db.execute(sql`
        INSERT INTO inbox_states (inbox_id, workspace_id, cursor, updated_at)
        SELECT ${row.id}, ${row.workspaceId}, ${cursor}, now()
        WHERE EXISTS (SELECT 1 FROM leases WHERE name = ${leaseName} AND holder = ${this.holder})
        ON CONFLICT (inbox_id) DO UPDATE SET cursor = excluded.cursor, updated_at = now()
        RETURNING inbox_id`),
    );
    return saved.length === 1;
  }
}

function logPullFailure(inboxId: string, err: unknown) {
  log.error("wecom: pulling messages failed; the next callback or catch-up pulls again", { inboxId, err });
}

/** Starts a pull after the callback's answer; its failure is logged, and the next pull retries. */
export function pullAfterAnswer(sync: WecomSync, inboxId: string, token: string) {
  setTimeout(() => void sync.pull(inboxId, token).catch((err: unknown) => logPullFailure(inboxId, err)), 0);
}

const perRuntime = new WeakMap<Runtime, WecomSync>();

/** The runtime's one WecomSync (the callback route, the catch-up timer and the tests share it). */
export function wecomSyncOf(rt: Runtime): WecomSync {
  let sync = perRuntime.get(rt);
  if (!sync) {
    const apiBase = rt.config.wecomApiBase ?? WECOM_API_BASE;
    sync = new WecomSync({
      core: rt.core,
      inbound: rt.inbound,
      keyring: rt.keyring,
      // The outbox's sender's API and token cache; its store shares the token with the other nodes.
      api: rt.wechat.wecomApi ?? {
        apiBase,
        tokens: createWecomTokens({ apiBase, store: createAccessTokenStore(rt.database, rt.keyring) }),
      },
      followUp: rt,
    });
    perRuntime.set(rt, sync);
  }
  return sync;
}
