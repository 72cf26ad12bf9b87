import { and, eq, sql } from "drizzle-orm";
import { callSlack, escapeText, slackApiBaseOf } from "../../../channels/slack/index.ts";
import type { EventBus } from "../../../conversations/bus.ts";
import { PermanentSendError } from "../../../conversations/channel.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import type { Core } from "../../../conversations/transaction.ts";
import { rowsOf } from "../../../db/connect.ts";
import { contacts, conversations, inboxes } from "../../../db/schema/index.ts";
import type { Keyring } from "../../../platform/crypto.ts";
import { log } from "../../../platform/log.ts";

/**
 * The agent side of Slack (optional per inbox, `settings.alertChannel`): a new conversation of a VIP
 * contact (contact attribute `vip` true, as routing's priority rules use it), or one that has waited in
 * its queue longer than the queue's service level, is posted once to that internal channel with a link
 * to it — for every conversation of the inbox's workspace, whatever its channel.
 *
 * Durability: each alert is a row in `leases` named `slack-alert:<inbox>:<conversation>:<reason>`,
 * inserted once (the name is the key: nodes and repeated scans cannot post twice). `holder` says where
 * it stands — `pending:<attempts>` until posted (`expires_at` = next attempt), then `sent` or
 * `failed: <why>` kept 30 days as the "already posted" mark, then pruned. The node that inserts it
 * posts at once; a failed or orphaned attempt is retried by the scan of any node, with backoff.
 */
const PREFIX = "slack-alert:";
const FIRST_TRY_MS = 60_000;
const MAX_ATTEMPTS = 8;
const KEEP_MARK_DAYS = 30;
/** A VIP conversation whose event the listener missed is still alerted if it is this recent. */
const VIP_CATCH_UP_MINUTES = 15;

export type AlertReason = "vip" | "breach";

export type SlackAlertDeps = {
  core: Core;
  bus: EventBus;
  keyring: Keyring;
  config: { slackApiBase?: string; publicUrl?: string; port: number };
};

export class SlackAlerts {
  private timer: ReturnType<typeof setInterval> | undefined;
  private unsubscribe = () => {};
  private inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly deps: SlackAlertDeps,
    private readonly options: { scanMs?: number; backoffMs?: (attempt: number) => number } = {},
  ) {}

  start() {
    this.unsubscribe = this.deps.bus.subscribe((m) => {
      if (!("type" in m) || m.type !== "conversation.created" || !m.conversationId) return;
      this.track(this.onNewConversation(m.workspaceId, m.conversationId));
    });
    this.timer = setInterval(() => this.track(this.scan()), this.options.scanMs ?? 30_000);
    this.timer.unref?.();
  }

  async stop() {
    this.unsubscribe();
    clearInterval(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  private track(p: Promise<unknown>) {
    const settled = p.catch((err: unknown) => log.error("slack: alert work failed", { err: String(err) }));
    this.inFlight.add(settled);
    void settled.finally(() => this.inFlight.delete(settled));
  }

  /** One pass: breached waits and missed VIP conversations become alerts, due retries are posted. */
  async scan() {
    const db = this.deps.core.db;
    const due = rowsOf<{ inbox_id: string; workspace_id: string; conversation_id: string; reason: AlertReason }>(
      await db.execute(sql`
        WITH alerting AS (
          SELECT id, workspace_id FROM inboxes
          WHERE channel = 'slack' AND settings->>'alertChannel' IS NOT NULL)
        SELECT a.id AS inbox_id, a.workspace_id, w.conversation_id, 'breach' AS reason
        FROM alerting a
        JOIN work_items w ON w.workspace_id = a.workspace_id AND w.state = 'waiting'
        JOIN queues q ON q.id = w.queue_id
        WHERE w.enqueued_at < now() - q.service_level_seconds * interval '1 second'
        UNION ALL
        SELECT a.id, a.workspace_id, c.id, 'vip'
        FROM alerting a
        JOIN conversations c ON c.workspace_id = a.workspace_id AND c.status IN ('open', 'pending')
          AND c.last_activity_at > now() - ${VIP_CATCH_UP_MINUTES} * interval '1 minute'
          AND c.created_at > now() - ${VIP_CATCH_UP_MINUTES} * interval '1 minute'
        JOIN contacts k ON k.id = c.contact_id AND k.attributes->>'vip' = 'true'
        LIMIT 200`),
    );
    for (const d of due) await this.raise(d.workspace_id, d.inbox_id, d.conversation_id, d.reason);
    const retries = rowsOf<{ name: string; holder: string }>(
      await db.execute(sql`
        UPDATE leases SET expires_at = now() + interval '5 minutes'
        WHERE name IN (
          SELECT name FROM leases WHERE name LIKE ${`${PREFIX}%`} AND holder LIKE 'pending:%' AND expires_at < now()
          ORDER BY expires_at LIMIT 20 FOR UPDATE SKIP LOCKED)
        RETURNING name, holder`),
    );
    for (const r of retries) await this.post(r.name, Number(r.holder.slice("pending:".length)) || 0);
    await db.execute(sql`
      DELETE FROM leases WHERE name LIKE ${`${PREFIX}%`} AND holder NOT LIKE 'pending:%' AND expires_at < now()`);
  }

  private async onNewConversation(workspaceId: string, conversationId: string) {
    const rows = rowsOf<{ inbox_id: string }>(
      await this.deps.core.db.execute(sql`
        SELECT i.id AS inbox_id FROM conversations c
        JOIN contacts k ON k.id = c.contact_id AND k.attributes->>'vip' = 'true'
        JOIN inboxes i ON i.workspace_id = c.workspace_id AND i.channel = 'slack'
          AND i.settings->>'alertChannel' IS NOT NULL
        WHERE c.id = ${conversationId} AND c.workspace_id = ${workspaceId}`),
    );
    for (const r of rows) await this.raise(workspaceId, r.inbox_id, conversationId, "vip");
  }

  /** Records the alert once; only the node whose insert made it posts it now. */
  private async raise(workspaceId: string, inboxId: string, conversationId: string, reason: AlertReason) {
    const name = `${PREFIX}${inboxId}:${conversationId}:${reason}`;
    const inserted = rowsOf<{ name: string }>(
      await this.deps.core.db.execute(sql`
        INSERT INTO leases (name, workspace_id, holder, expires_at)
        VALUES (${name}, ${workspaceId}, 'pending:0', now() + ${FIRST_TRY_MS} * interval '1 millisecond')
        ON CONFLICT (name) DO NOTHING RETURNING name`),
    );
    if (inserted.length) await this.post(name, 0);
  }

  private async post(name: string, attemptsBefore: number) {
    const [inboxId, conversationId, reason] = name.slice(PREFIX.length).split(":") as [string, string, AlertReason];
    const attempts = attemptsBefore + 1;
    try {
      const { inbox, conversation } = await this.load(inboxId, conversationId);
      const credentials = readCredentials(this.deps.keyring, inbox);
      if (typeof credentials.botToken !== "string") throw new PermanentSendError("The Slack inbox has no bot token");
      await callSlack(
        { apiBase: slackApiBaseOf(inbox.settings, this.deps.config.slackApiBase), token: credentials.botToken },
        "chat.postMessage",
        { channel: inbox.settings.alertChannel, text: this.text(reason, conversation), unfurl_links: false },
      );
      await this.settle(name, "sent", KEEP_MARK_DAYS * 86_400_000);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (err instanceof PermanentSendError || attempts >= MAX_ATTEMPTS) {
        log.warn("slack: alert not posted", { name, why });
        return this.settle(name, `failed: ${why}`.slice(0, 500), KEEP_MARK_DAYS * 86_400_000);
      }
      const wait = this.options.backoffMs?.(attempts) ?? Math.min(3_600_000, 10_000 * 4 ** (attempts - 1));
      await this.settle(name, `pending:${attempts}`, wait);
    }
  }

  private async settle(name: string, holder: string, forMs: number) {
    await this.deps.core.db.execute(sql`
      UPDATE leases SET holder = ${holder}, expires_at = now() + ${forMs} * interval '1 millisecond'
      WHERE name = ${name}`);
  }

  private async load(inboxId: string, conversationId: string) {
    const db = this.deps.core.db;
    const [inbox] = await db.select().from(inboxes).where(eq(inboxes.id, inboxId));
    const [conversation] = inbox
      ? await db
          .select({
            id: conversations.id,
            channel: conversations.channel,
            contactName: contacts.name,
            last: conversations.lastMessageText,
          })
          .from(conversations)
          .innerJoin(contacts, eq(contacts.id, conversations.contactId))
          .where(and(eq(conversations.id, conversationId), eq(conversations.workspaceId, inbox.workspaceId)))
      : [];
    if (!inbox || !conversation || typeof inbox.settings.alertChannel !== "string")
      throw new PermanentSendError("The inbox, its alert channel or the conversation no longer exists");
    return { inbox, conversation };
  }

  private text(
    reason: AlertReason,
    c: { id: string; channel: string; contactName: string | null; last: string | null },
  ) {
    const base = this.deps.config.publicUrl ?? `http://localhost:${this.deps.config.port}`;
    const link = `${base}/app/#/inbox/all/${c.id}`;
    const who = escapeText(c.contactName ?? "A customer");
    const what =
      reason === "vip" ? `New VIP conversation: ${who} (${c.channel})` : `Waiting too long: ${who} (${c.channel})`;
    const last = c.last ? `\n> ${escapeText(c.last.slice(0, 200)).replaceAll("\n", " ")}` : "";
    return `${what} — <${link}|open in Switchboard>${last}`;
  }
}
