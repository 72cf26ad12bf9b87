import { pruneRecordings } from "../../calls/recording.ts";
import { pruneEvents } from "../../conversations/event.ts";
import { pruneDeliveries } from "../../integrations/webhook.ts";
import { wakeSnoozed } from "../../conversations/status.ts";
import { pruneHeldBack } from "../../mailboxes/held-back.ts";
import { log } from "../../platform/log.ts";
import { markDisconnectedOffline } from "../../routing/presence.ts";
import { pruneWebhookNonces } from "../gateway/wechat/nonces.ts";
import { retryMediaDownloads, type WechatDeps } from "../gateway/wechat/media.ts";
import type { CallControl } from "../../calls/call-control.ts";
import type { AttachmentStore } from "../../conversations/attachment.ts";
import type { Database } from "../../db/connect.ts";
import type { Config } from "../../platform/config.ts";

/** How long the realtime replay log keeps events; resuming from older seqs asks the client to reload. */
const EVENT_RETENTION_DAYS = 7;
/** How long outgoing webhooks' finished deliveries stay listed. */
const WEBHOOK_DELIVERY_RETENTION_DAYS = 30;
/** An agent whose realtime socket has been gone this long (no heartbeat on any node) goes offline. */
const DISCONNECT_GRACE_MS = 90_000;

/** What the chores touch: the runtime (apps/server/runtime.ts) has all of it. */
export type Chores = Parameters<typeof pruneRecordings>[0] &
  Parameters<typeof pruneHeldBack>[0] & {
    database: Pick<Database, "db">;
    calls: Pick<CallControl, "retryRecordings">;
    files: Pick<AttachmentStore, "pruneOrphans">;
    config: { uploads: Pick<Config["uploads"], "orphanAfterMs"> };
  } & Pick<WechatDeps, "keyring" | "wechat"> & { files: WechatDeps["files"] };

/**
 * The node's periodic chores (every 30 s): snoozed conversations that are due, agents whose
 * browser went away, events past retention, recordings to fetch again or past retention, held-back
 * mail past retention, outgoing webhooks' finished deliveries after 30 days, uploads no message took (UPLOAD_ORPHAN_HOURS), WeChat files whose download is
 * due (apps/gateway/wechat/media.ts). Each failure is logged and leaves the others running.
 */
export function housekeep(rt: Chores, now = new Date()) {
  const chore = (name: string, work: () => Promise<unknown>) =>
    work().catch((err: unknown) => log.error(`${name} failed`, { err }));
  return Promise.all([
    chore("wake snoozed", () => wakeSnoozed(rt.core)),
    chore("presence sweep", () => markDisconnectedOffline(rt.core, DISCONNECT_GRACE_MS)),
    chore("prune events", () => pruneEvents(rt.database.db, new Date(Date.now() - EVENT_RETENTION_DAYS * 86_400_000))),
    chore("recording retry", () => rt.calls.retryRecordings()),
    chore("prune recordings", () => pruneRecordings(rt)),
    chore("prune held-back mail", () => pruneHeldBack(rt)),
    chore("prune webhook nonces", () => pruneWebhookNonces(rt.database.db, now)),
    chore("prune webhook deliveries", () =>
      pruneDeliveries(rt.database.db, new Date(now.getTime() - WEBHOOK_DELIVERY_RETENTION_DAYS * 86_400_000)),
    ),
    chore("WeChat media downloads", () => retryMediaDownloads(rt)),
    chore("prune orphaned uploads", () =>
      rt.files.pruneOrphans(rt.database.db, new Date(now.getTime() - rt.config.uploads.orphanAfterMs)),
    ),
  ]);
}
