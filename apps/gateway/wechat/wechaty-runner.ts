import { hostname } from "node:os";
import { and, eq, inArray, sql } from "drizzle-orm";
import { wechatKindOf } from "../../../channels/wechat/setup.ts";
import { wechatyTargetOf } from "../../../channels/wechat/wechaty-inbound.ts";
import {
  reconnectDelay,
  scrubbed,
  STOPPED,
  type WechatySession,
  type WechatyStatus,
} from "../../../channels/wechat/wechaty-session.ts";
import { PermanentSendError, type OutboundMessage, type SendResult } from "../../../conversations/channel.ts";
import type { AttachmentStore } from "../../../conversations/attachment.ts";
import type { InboundQueue } from "../../../conversations/inbound-queue.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import type { Db } from "../../../db/connect.ts";
import { Lease } from "../../../db/lease.ts";
import { inboxes, inboxStates, type Inbox } from "../../../db/schema/index.ts";
import type { Keyring } from "../../../platform/crypto.ts";
import { log } from "../../../platform/log.ts";
import { buildWechaty, WechatyBot, type WechatyFactory } from "./wechaty-bot.ts";
import { receiveWechatyMessage } from "./wechaty-inbound.ts";

/** Leases of running bots are named this plus the inbox id; the outbox pins those inboxes' rows by it. */
export const WECHATY_LEASE_PREFIX = "wechaty:";

export type WechatyRunnerOptions = {
  /** This node, unique per process: the lease holder. */
  holder: string;
  /** A bot's lease without renewal; another node takes the bot over after it. */
  ttlMs: number;
  /** How often the inboxes are read again: new, stopped and started bots, and lease renewal. */
  pollMs: number;
  /** First delay before restarting a failed bot, doubled per failure in a row up to `maxBackoffMs`. */
  backoffMs: number;
  maxBackoffMs: number;
  build: WechatyFactory;
  /** Only these workspaces' inboxes (tests, which share one database between servers). */
  workspaceIds?: string[];
};

export const defaultHolder = () => `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;

type Running = {
  inboxId: string;
  workspaceId: string;
  lease: Lease;
  bot?: WechatyBot;
  token?: string;
  failures: number;
  retry?: ReturnType<typeof setTimeout>;
  session: WechatySession;
  /** Session writes of one bot, in the order they happened. */
  writes: Promise<void>;
};

/**
 * Runs the Wechaty bots of WeChat inboxes of kind `wechaty`: each on the one node holding its lease
 * (`wechaty:<inboxId>`, renewed at every poll; a node that cannot renew stops its bot, and another
 * node takes over once the lease expires). A failed or logged-out bot restarts with exponential
 * backoff. An inbox with `settings.stopped` runs nowhere.
 */
export class WechatyRunner {
  readonly options: WechatyRunnerOptions;
  private readonly running = new Map<string, Running>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private syncing: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly deps: {
      db: Db;
      keyring: Keyring;
      inbound: InboundQueue;
      files: AttachmentStore;
      /** A reply's attached file, as the outbox gives it. */
      readFile: (file: OutboundMessage["attachments"][number]) => Promise<Uint8Array>;
    },
    options: Partial<WechatyRunnerOptions> = {},
  ) {
    this.options = {
      holder: options.holder ?? defaultHolder(),
      ttlMs: options.ttlMs ?? 30_000,
      pollMs: options.pollMs ?? 5000,
      backoffMs: options.backoffMs ?? 1000,
      maxBackoffMs: options.maxBackoffMs ?? 5 * 60_000,
      build: options.build ?? buildWechaty,
      workspaceIds: options.workspaceIds,
    };
  }

  start() {
    this.closed = false;
    // A poll while a pass is still running is skipped rather than queued behind it.
    this.timer ??= setInterval(() => void (this.syncing ?? this.sync()), this.options.pollMs);
    this.timer.unref?.();
    void this.sync();
  }

  /** Stops every bot of this node and gives their leases up, so other nodes take over at once. */
  async stop() {
    this.closed = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.syncing;
    await Promise.all([...this.running.values()].map((r) => this.halt(r, { release: true, status: "stopped" })));
  }

  /** Whether this node runs the inbox's bot now. */
  runs(inboxId: string) {
    return !!this.running.get(inboxId)?.bot;
  }

  /**
   * Reads the inboxes now (after an admin's start or stop) instead of at the next poll: after the pass
   * in flight, which may have read them before the change.
   */
  sync(): Promise<void> {
    const pass: Promise<void> = (this.syncing ?? Promise.resolve())
      .then(() => this.syncOnce())
      .catch((err) => log.error("wechaty: sync failed", { err }))
      .finally(() => {
        if (this.syncing === pass) this.syncing = undefined;
      });
    this.syncing = pass;
    return pass;
  }

  private async syncOnce() {
    if (this.closed) return;
    const { workspaceIds } = this.options;
    const rows = (
      await this.deps.db
        .select()
        .from(inboxes)
        .where(
          and(
            eq(inboxes.channel, "wechat"),
            sql`${inboxes.settings}->>'kind' = 'wechaty'`,
            workspaceIds ? inArray(inboxes.workspaceId, workspaceIds) : undefined,
          ),
        )
    ).filter((row) => wechatKindOf(row.settings) === "wechaty");
    const seen = new Set(rows.map((r) => r.id));
    for (const r of this.running.values()) if (!seen.has(r.inboxId)) await this.halt(r, { release: true });
    for (const row of rows) {
      if (this.closed) return;
      await this.syncInbox(row).catch((err) => log.error("wechaty: inbox sync failed", { inboxId: row.id, err }));
    }
  }

  private async syncInbox(row: Inbox) {
    const current = this.running.get(row.id);
    const lease =
      current?.lease ??
      new Lease(this.deps.db, `${WECHATY_LEASE_PREFIX}${row.id}`, {
        holder: this.options.holder,
        ttlMs: this.options.ttlMs,
        workspaceId: row.workspaceId,
      });
    if (row.settings.stopped === true) {
      if (current) return this.halt(current, { release: true, status: "stopped" });
      // Nobody runs it, but its session may still say otherwise (its node died): settle it once.
      const [state] = await this.deps.db.select().from(inboxStates).where(eq(inboxStates.inboxId, row.id));
      if ((state?.session as { status?: string } | null)?.status !== "stopped" && (await lease.acquire())) {
        await this.store(row.id, row.workspaceId, { ...STOPPED, updatedAt: new Date().toISOString() });
        await lease.release();
      }
      return;
    }
    if (!(await lease.acquire())) {
      if (current) {
        log.warn("wechaty: lease lost, stopping this node's bot", { inboxId: row.id });
        await this.halt(current, { release: false });
      }
      return;
    }
    if (current) return;
    const entry: Running = {
      inboxId: row.id,
      workspaceId: row.workspaceId,
      lease,
      failures: 0,
      session: { ...STOPPED, node: this.options.holder },
      writes: Promise.resolve(),
    };
    this.running.set(row.id, entry);
    await this.launch(entry, row);
  }

  private async launch(entry: Running, row: Pick<Inbox, "id" | "workspaceId" | "name" | "credentials" | "settings">) {
    if (this.closed || this.running.get(entry.inboxId) !== entry) return;
    let token: string | undefined;
    try {
      const credentials = readCredentials(this.deps.keyring, row, this.deps.db);
      token = typeof credentials.puppetToken === "string" ? credentials.puppetToken : undefined;
    } catch (err) {
      return this.failed(entry, err, "error");
    }
    entry.token = token;
    const puppet = typeof row.settings.puppet === "string" ? row.settings.puppet : "wechaty-puppet-service";
    this.patch(entry, { status: "starting", qrcode: null, scanStatus: null, lastError: null });
    const bot = new WechatyBot({ inboxId: row.id, workspaceId: row.workspaceId, puppet, token }, this.options.build, {
      session: (patch) => this.patch(entry, patch),
      loggedIn: () => {
        entry.failures = 0;
      },
      failed: (err, status) => this.failed(entry, err, status),
      message: (facts, members, file) =>
        receiveWechatyMessage(
          this.deps,
          { workspaceId: entry.workspaceId, inboxId: entry.inboxId },
          facts,
          members,
          file,
        ),
    });
    entry.bot = bot;
    try {
      await bot.start();
    } catch (err) {
      this.failed(entry, err, "error");
    }
    // Stored before the pass ends, so an admin's start answers with the session it caused.
    await entry.writes;
  }

  /** A bot that failed or logged out: stopped, and started again after the backoff while this node holds it. */
  private failed(entry: Running, err: unknown, status: Extract<WechatyStatus, "error" | "logged_out">) {
    if (this.running.get(entry.inboxId) !== entry || entry.retry) return;
    entry.failures += 1;
    const lastError = scrubbed(err, [entry.token]);
    log.warn("wechaty: bot failed, restarting after a pause", { inboxId: entry.inboxId, status, lastError });
    this.patch(entry, {
      status,
      lastError,
      qrcode: null,
      scanStatus: null,
      ...(status === "error" ? {} : { user: null }),
    });
    const bot = entry.bot;
    entry.bot = undefined;
    void bot?.stop();
    entry.retry = setTimeout(
      async () => {
        entry.retry = undefined;
        const [row] = await this.deps.db.select().from(inboxes).where(eq(inboxes.id, entry.inboxId));
        if (row && row.settings.stopped !== true) await this.launch(entry, row);
      },
      reconnectDelay(entry.failures, this.options.backoffMs, this.options.maxBackoffMs),
    );
    entry.retry.unref?.();
  }

  private async halt(entry: Running, how: { release: boolean; status?: WechatyStatus }) {
    this.running.delete(entry.inboxId);
    clearTimeout(entry.retry);
    const bot = entry.bot;
    entry.bot = undefined;
    await bot?.stop();
    if (how.status) this.patch(entry, { ...STOPPED, status: how.status, node: null });
    await entry.writes;
    if (how.release) await entry.lease.release().catch((err) => log.warn("wechaty: lease release failed", { err }));
  }

  private patch(entry: Running, patch: Partial<WechatySession>) {
    entry.session = { ...entry.session, ...patch, updatedAt: new Date().toISOString() };
    const session = entry.session;
    entry.writes = entry.writes
      .then(() => this.store(entry.inboxId, entry.workspaceId, session))
      .catch((err) => log.error("wechaty: session not stored", { inboxId: entry.inboxId, err }));
  }

  private async store(inboxId: string, workspaceId: string, session: WechatySession) {
    await this.deps.db
      .insert(inboxStates)
      .values({ inboxId, workspaceId, session, updatedAt: new Date() })
      .onConflictDoUpdate({ target: inboxStates.inboxId, set: { session, updatedAt: new Date() } });
  }

  /**
   * An agent's reply, said by this node's bot. The outbox sends a Wechaty inbox's rows only on the
   * node holding its lease (OutboxOptions.pinned); a row claimed while no node runs the bot, or before
   * it logs in, fails here with the reason and is retried until its attempts run out.
   */
  async send(outbound: OutboundMessage): Promise<SendResult> {
    const target = wechatyTargetOf(outbound.to);
    const bot = this.running.get(outbound.inbox.id)?.bot;
    if (!bot) throw new Error("The WeChat bot of this inbox is not running (微信机器人未运行)");
    if (!bot.loggedIn)
      throw new Error(
        "The WeChat bot is not logged in: scan its QR code in Settings (微信机器人未登录，请在设置中扫码登录)",
      );
    if (!outbound.text?.trim() && !outbound.attachments.length) throw new PermanentSendError("Nothing to send");
    const files = await Promise.all(
      outbound.attachments.map(async (a) => ({ name: a.name, bytes: await this.deps.readFile(a) })),
    );
    const id = await bot.say(target, outbound.text?.trim() ? outbound.text : null, files);
    return { externalId: id ?? outbound.idempotencyKey, status: "sent" };
  }
}
