import { finished } from "node:stream/promises";
import { and, eq, sql } from "drizzle-orm";
import { ImapFlow } from "imapflow";
import { EmailCredentials } from "../channels/email/index.ts";
import type { MailResolver } from "../channels/email/verify.ts";
import { emailMailboxState, emailQuarantine } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import { emailInboxes, type EmailInbox, type MailDeps } from "./email-inbox.ts";
import { receiveEmail } from "./intake.ts";
import type { HoldKind } from "./quarantine.ts";
import { RawMailCopy } from "./raw-mail.ts";

/** Mail up to this size is fetched in batches; larger mail is streamed one by one (never whole in memory twice). */
const SMALL_MAIL_BYTES = 256 * 1024;
const BATCH = 100;
/** A mail whose import fails this often (not for a passing outage) is held back so the mailbox moves on. */
const MAX_FAILURES = 3;

type Importer = { key: string; stop(): Promise<void> };

/**
 * Imports one mailbox over IMAP: IDLE for push, polling as the fallback, resume after the last UID
 * imported for the mailbox's UIDVALIDITY (stored per mail, so a restart neither loses nor re-imports
 * anything), reconnect with backoff, and an optional move of imported mail to a folder.
 */
export class MailboxImporter {
  private client: ImapFlow | undefined;
  private stopped = false;
  private syncing: Promise<void> | undefined;
  private again = false;
  private poll: ReturnType<typeof setInterval> | undefined;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private failures = new Map<number, number>();
  /** Resolves after each completed sync (tests and the bench wait on it). */
  readonly synced = new EventTarget();

  constructor(
    private readonly deps: MailDeps,
    private readonly inbox: EmailInbox,
    private readonly credentials: EmailCredentials,
    /** DNS for the sender checks; IMAP knows no connecting host, so only DKIM and DMARC are checked. */
    private readonly resolver?: MailResolver,
  ) {}

  private get imap() {
    return this.inbox.settings.imap!;
  }

  start() {
    this.stopped = false;
    void this.connect();
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.retry);
    await this.syncing?.catch(() => {});
    const client = this.client;
    this.client = undefined;
    if (client?.usable) await client.logout().catch(() => client.close());
    else client?.close();
  }

  private async connect() {
    if (this.stopped) return;
    const imap = this.imap;
    const client = new ImapFlow({
      host: imap.host,
      port: imap.port,
      secure: imap.security === "tls",
      doSTARTTLS: imap.security === "starttls" ? true : imap.security === "none" ? false : undefined,
      auth: { user: imap.user, pass: this.credentials.imapPassword ?? "" },
      logger: false,
      // IDLE starts a second after the last command (imapflow waits 15 s by default, which would
      // leave new mail waiting that long after each import); the server then pushes EXISTS.
      maxIdleTime: 5 * 60_000,
      autoIdleDelay: 1000,
    } as ConstructorParameters<typeof ImapFlow>[0]);
    this.client = client;
    client.on("error", (err: unknown) =>
      log.warn("imap: connection error", {
        inboxId: this.inbox.id,
        err: err instanceof Error ? err.message : String(err),
      }),
    );
    client.on("close", () => {
      if (this.client === client) this.reconnect();
    });
    client.on("exists", () => this.requestSync());
    try {
      await client.connect();
      await client.mailboxOpen(imap.mailbox);
      this.attempt = 0;
      clearInterval(this.poll);
      this.poll = setInterval(() => this.requestSync(), imap.pollSeconds * 1000);
      this.poll.unref?.();
      this.requestSync();
    } catch (err) {
      log.warn("imap: connect failed", {
        inboxId: this.inbox.id,
        err: err instanceof Error ? err.message : String(err),
      });
      client.close();
      if (this.client === client) this.reconnect();
    }
  }

  private reconnect() {
    clearInterval(this.poll);
    this.client = undefined;
    if (this.stopped) return;
    const delay = Math.min(60_000, 1000 * 2 ** this.attempt++) * (0.8 + 0.4 * Math.random());
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.connect(), delay);
  }

  /** Runs a sync now, or once more after the running one (so an EXISTS during a sync is not missed). */
  requestSync() {
    if (this.stopped) return;
    if (this.syncing) {
      this.again = true;
      return;
    }
    this.syncing = this.sync()
      .catch((err: unknown) =>
        log.warn("imap: sync failed", {
          inboxId: this.inbox.id,
          err: err instanceof Error ? err.message : String(err),
        }),
      )
      .finally(() => {
        this.syncing = undefined;
        this.synced.dispatchEvent(new Event("synced"));
        if (this.again) {
          this.again = false;
          this.requestSync();
        }
      });
  }

  private async state(uidValidity: number) {
    const db = this.deps.core.db;
    const where = and(eq(emailMailboxState.inboxId, this.inbox.id), eq(emailMailboxState.mailbox, this.imap.mailbox));
    const [row] = await db.select().from(emailMailboxState).where(where);
    if (row && row.uidValidity === uidValidity) return row.lastUid;
    // New mailbox, or the server renumbered it (UIDVALIDITY changed): start over. Message-ID
    // idempotency makes the re-read import nothing twice.
    await db
      .insert(emailMailboxState)
      .values({
        inboxId: this.inbox.id,
        mailbox: this.imap.mailbox,
        workspaceId: this.inbox.workspaceId,
        uidValidity,
        lastUid: 0,
      })
      .onConflictDoUpdate({
        target: [emailMailboxState.inboxId, emailMailboxState.mailbox],
        set: { uidValidity, lastUid: 0, updatedAt: new Date() },
      });
    return 0;
  }

  private async advance(uid: number) {
    await this.deps.core.db
      .update(emailMailboxState)
      .set({ lastUid: sql`GREATEST(${emailMailboxState.lastUid}, ${uid})`, updatedAt: new Date() })
      .where(and(eq(emailMailboxState.inboxId, this.inbox.id), eq(emailMailboxState.mailbox, this.imap.mailbox)));
  }

  private async sync() {
    const client = this.client;
    if (!client?.usable || !client.mailbox) return;
    const uidValidity = Number(client.mailbox.uidValidity);
    let lastUid = await this.state(uidValidity);
    // Progress is saved once per batch (and whenever the sync stops or fails), not per mail: a crash
    // in between reads at most one batch again, and Message-ID idempotency imports none of it twice.
    let saved = lastUid;
    const save = async () => {
      if (lastUid > saved) await this.advance(lastUid);
      saved = lastUid;
    };
    try {
      for (;;) {
        if (this.stopped || !client.usable) return;
        // `n:*` always matches the last message, even below n: filter.
        const found = ((await client.search({ uid: `${lastUid + 1}:*` }, { uid: true })) || [])
          .filter((u) => u > lastUid)
          .sort((a, b) => a - b);
        if (!found.length) return;
        const batch = found.slice(0, BATCH);
        const sizes = new Map<number, number>();
        for await (const m of client.fetch(batch.join(","), { uid: true, size: true }, { uid: true }))
          sizes.set(m.uid, m.size ?? 0);
        const small = batch.filter((u) => (sizes.get(u) ?? 0) <= SMALL_MAIL_BYTES);
        const sources = new Map<number, Buffer>();
        if (small.length)
          for await (const m of client.fetch(small.join(","), { uid: true, source: true }, { uid: true }))
            if (m.source) sources.set(m.uid, m.source);
        for (const uid of batch) {
          if (this.stopped || !client.usable) return;
          // Expunged meanwhile: nothing to import.
          if (sizes.has(uid)) await this.importOne(client, uid, sources.get(uid), uidValidity);
          lastUid = uid;
          if (sizes.has(uid) && this.imap.moveTo) {
            // Moved only once its progress is saved: a moved mail is never read from this mailbox again.
            await save();
            await client
              .messageMove(String(uid), this.imap.moveTo, { uid: true })
              .catch((err: unknown) =>
                log.warn("imap: move failed", { inboxId: this.inbox.id, uid, err: String(err) }),
              );
          }
        }
        await save();
      }
    } finally {
      await save();
    }
  }

  /** The mail's bytes from the server; a failure here is the server's or the network's, retried by the next sync. */
  private async download(client: ImapFlow, uid: number) {
    const { content } = await client.download(String(uid), undefined, { uid: true });
    if (!content) throw new Error("the server returned no content");
    return content;
  }

  /**
   * One mail: received, or after repeated failures to receive it held back with its raw copy (the
   * spam view can release it once the cause is fixed) so the mailbox moves on. Throws to retry later:
   * a failed download is never counted, and a mail whose copy cannot be kept is never held back.
   */
  private async importOne(client: ImapFlow, uid: number, fetched: Buffer | undefined, uidValidity: number) {
    const source = fetched ?? (await this.download(client, uid));
    try {
      await receiveEmail(this.deps, this.inbox, source, { resolver: this.resolver });
      this.failures.delete(uid);
    } catch (err) {
      const n = (this.failures.get(uid) ?? 0) + 1;
      this.failures.set(uid, n);
      const reason = err instanceof Error ? err.message : String(err);
      if (n < MAX_FAILURES) throw err;
      await this.holdBack(client, uid, fetched, uidValidity, reason);
      this.failures.delete(uid);
    }
  }

  private async holdBack(
    client: ImapFlow,
    uid: number,
    fetched: Buffer | undefined,
    uidValidity: number,
    reason: string,
  ) {
    const db = this.deps.core.db;
    // A streamed (large) mail was consumed by the failed attempt: it is read once more into the copy.
    let copy: RawMailCopy;
    if (fetched) copy = RawMailCopy.of(this.deps, this.inbox.workspaceId, fetched);
    else {
      const tee = RawMailCopy.tee(this.deps, this.inbox.workspaceId, await this.download(client, uid));
      await finished(tee.stream.resume());
      copy = tee.copy;
    }
    const rawId = await copy.keep(db);
    const [row] = await db
      .insert(emailQuarantine)
      .values({
        workspaceId: this.inbox.workspaceId,
        inboxId: this.inbox.id,
        messageId: `imap:${uidValidity}:${uid}`,
        address: "",
        reason: `import failed: ${reason}`.slice(0, 1000),
        rawId,
        details: { kind: "import_failed" satisfies HoldKind, uid, mailbox: this.imap.mailbox },
      })
      .onConflictDoNothing()
      .returning({ id: emailQuarantine.id });
    // Held back before (the same UID after a restart): that row keeps its own copy.
    if (!row) await this.deps.files.remove(db, this.inbox.workspaceId, rawId);
    log.error("imap: mail held back with its raw copy after repeated failures", {
      inboxId: this.inbox.id,
      uid,
      reason,
    });
  }
}

/**
 * Runs an importer for every email inbox with IMAP settings, and follows changes: every
 * `rescanMs` the inbox list is read again, so a mailbox configured in the admin screen starts
 * importing without a restart, and a changed one reconnects with its new settings.
 */
export function startImap(deps: MailDeps, options: { rescanMs?: number; resolver?: MailResolver } = {}) {
  const running = new Map<string, Importer & { importer: MailboxImporter }>();
  let stopped = false;
  const scan = async () => {
    const all = await emailInboxes(deps.core.db);
    const seen = new Set<string>();
    for (const inbox of all) {
      if (!inbox.settings.imap) continue;
      seen.add(inbox.id);
      const key = JSON.stringify([inbox.settings.imap, inbox.credentials]);
      const current = running.get(inbox.id);
      if (current?.key === key) continue;
      await current?.stop();
      let credentials: EmailCredentials = {};
      try {
        credentials = EmailCredentials.parse(inbox.credentials ? JSON.parse(deps.keyring.open(inbox.credentials)) : {});
      } catch {
        log.warn("imap: credentials cannot be read; importing without a password", { inboxId: inbox.id });
      }
      const importer = new MailboxImporter(deps, inbox, credentials, options.resolver);
      importer.start();
      running.set(inbox.id, { key, importer, stop: () => importer.stop() });
    }
    for (const [id, r] of running)
      if (!seen.has(id)) {
        running.delete(id);
        await r.stop();
      }
  };
  let scanning = scan().catch((err: unknown) => log.error("imap: scan failed", { err }));
  const timer = setInterval(() => {
    if (stopped) return;
    scanning = scanning.then(scan).catch((err: unknown) => log.error("imap: scan failed", { err }));
  }, options.rescanMs ?? 30_000);
  timer.unref?.();
  return {
    importers: running,
    /** Reads the inbox list again now (after the admin API changed an inbox). */
    rescan: () => (scanning = scanning.then(scan)),
    async stop() {
      stopped = true;
      clearInterval(timer);
      await scanning;
      await Promise.all([...running.values()].map((r) => r.stop()));
      running.clear();
    },
  };
}
