import { hostname } from "node:os";
import { and, eq, sql } from "drizzle-orm";
import { amrToWav, isAmr } from "../../../channels/wechat/amr.ts";
import {
  fetchMedia,
  MAX_MEDIA_ATTEMPTS,
  MEDIA_LIFETIME_MS,
  mediaFileName,
  mediaIdOf,
  type FetchedMedia,
  type MediaState,
} from "../../../channels/wechat/media.ts";
import { withFreshToken, type TokenLease } from "../../../channels/wechat/api.ts";
import { wechatAppOf } from "../../../channels/wechat/send.ts";
import { wechatKindOf } from "../../../channels/wechat/setup.ts";
import type { AccessTokens } from "../../../channels/wechat/token.ts";
import { wecomAccountOf, wecomTokenLease, type WecomApiOptions } from "../../../channels/wechat/wecom-api.ts";
import { MAX_ATTACHMENT_BYTES, type AttachmentStore } from "../../../conversations/attachment.ts";
import { PermanentSendError } from "../../../conversations/channel.ts";
import { scopeOf } from "../../../conversations/conversation.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { isPublicItem, loadTimelineItem } from "../../../conversations/timeline.ts";
import { withEvents, type Core } from "../../../conversations/transaction.ts";
import { rowsOf, type Tx } from "../../../db/connect.ts";
import {
  attachments,
  conversations,
  inboxes,
  leases,
  timelineItems,
  type Inbox,
  type TimelineItem,
} from "../../../db/schema/index.ts";
import type { Keyring } from "../../../platform/crypto.ts";
import { log } from "../../../platform/log.ts";

/** What the WeChat follow-up work needs of the runtime (apps/server/runtime.ts has all of it). */
export type WechatDeps = {
  core: Core;
  keyring: Keyring;
  files: Pick<AttachmentStore, "saveStream" | "discard">;
  wechat: { apiBase: string; fetch?: typeof fetch; tokens: AccessTokens; wecomApi?: WecomApiOptions };
};

/**
 * A message's file (an Official Account's push, or a WeCom customer's message pulled with sync_msg) is
 * downloaded after WeChat got its `success` (WeChat waits 5 s at most). The
 * download must survive this node dying first, so the ingest transaction leaves a row in `leases`
 * (`wechat-media:<itemId>`), held by this node for a minute: the node downloads at once and deletes it;
 * should it die, housekeeping on any node takes the expired row over (one statement, SKIP LOCKED, so one
 * node) and downloads. The item's `data.media` tells agents where it stands (see MediaState).
 */
const PREFIX = "wechat-media:";
const FIRST_TRY_MS = 60_000;
/** How long a node that took over a download holds it before another node may try. */
const TAKEOVER_MS = 5 * 60_000;
/** Per node: the lease rows it holds name it. */
const HOLDER = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;

/** Inside the ingest transaction of a message with a file: the download is due, by this node first. */
export async function queueMediaDownload(tx: Tx, workspaceId: string, itemId: string) {
  await tx
    .insert(leases)
    .values({ name: PREFIX + itemId, workspaceId, holder: HOLDER, expiresAt: new Date(Date.now() + FIRST_TRY_MS) })
    .onConflictDoNothing();
}

/**
 * Housekeeping: downloads whose first node died or whose last attempt failed and is due again. Each row
 * is claimed in one statement, so of several nodes running this at once exactly one gets it.
 */
export async function retryMediaDownloads(deps: WechatDeps, limit = 10) {
  const claimed = rowsOf<{ name: string }>(
    await deps.core.db.execute(sql`
      UPDATE leases SET holder = ${HOLDER}, expires_at = now() + (${TAKEOVER_MS} * interval '1 millisecond')
      WHERE name IN (
        SELECT name FROM leases WHERE name LIKE ${`${PREFIX}%`} AND expires_at < now()
        ORDER BY expires_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING name`),
  );
  for (const { name } of claimed) await downloadMedia(deps, name.slice(PREFIX.length));
  return claimed.length;
}

/** Downloads the file of a pushed message into attachments; never throws (the outcome is on the item). */
export async function downloadMedia(deps: WechatDeps, itemId: string): Promise<void> {
  try {
    await download(deps, itemId);
  } catch (err) {
    log.error("wechat: media download failed", { itemId, err: err instanceof Error ? err.message : String(err) });
  }
}

async function download(deps: WechatDeps, itemId: string) {
  const db = deps.core.db;
  const [item] = await db.select().from(timelineItems).where(eq(timelineItems.id, itemId));
  const media = item?.data.media as MediaState | undefined;
  const mediaId = mediaIdOf(item?.data);
  if (!item || !mediaId || media?.state !== "pending") return done(deps, itemId);
  // An attempt that died between writing its files and settling left them unattached: they go first.
  if (media.files?.length) await deps.files.discard(db, item.workspaceId, media.files);

  // Counted before the download, so a file that crashes the node is not tried for ever.
  const attempts = (media.attempts ?? 0) + 1;
  await db
    .update(timelineItems)
    .set({ data: sql`jsonb_set(${timelineItems.data}, '{media,attempts}', ${String(attempts)}::jsonb)` })
    .where(eq(timelineItems.id, itemId));
  if (Date.now() - item.createdAt.getTime() > MEDIA_LIFETIME_MS)
    return settle(deps, item, {
      state: "failed",
      attempts,
      reason: "WeChat keeps a message's file for 3 days; this one was not downloaded in time",
    });

  let got: FetchedMedia;
  let platform: string;
  try {
    ({ got, platform } = await fetchWithToken(deps, item, mediaId));
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    if (err instanceof PermanentSendError || attempts >= MAX_MEDIA_ATTEMPTS)
      return settle(deps, item, { state: "failed", attempts, reason });
    return later(deps, itemId, attempts, reason);
  }
  if (!got.ok) {
    const refusal = got.errcode === undefined ? got.errmsg : `${platform} ${got.errcode}: ${got.errmsg}`;
    if (!got.permanent && attempts < MAX_MEDIA_ATTEMPTS) return later(deps, itemId, attempts, refusal);
    return settle(deps, item, {
      state: "failed",
      attempts,
      ...(got.errcode === undefined ? {} : { errcode: got.errcode, errmsg: got.errmsg }),
      reason: refusal,
    });
  }
  const ids = await store(deps, item, got);
  await db
    .update(timelineItems)
    .set({ data: sql`jsonb_set(${timelineItems.data}, '{media,files}', ${JSON.stringify(ids)}::jsonb)` })
    .where(eq(timelineItems.id, itemId));
  await settle(deps, item, { state: "stored", attempts }, ids);
}

/**
 * The platform the item came through, with its API and tokens: both answer `GET /cgi-bin/media/get` the
 * same way, an Official Account at WECHAT_API_BASE with the AppID's token, WeCom customer service at
 * WECOM_API_BASE with the corp's.
 */
function platformOf(deps: WechatDeps, inbox: Inbox) {
  const credentials = readCredentials(deps.keyring, inbox, deps.core.db);
  const outbound = { id: inbox.id, channel: inbox.channel, settings: inbox.settings, credentials };
  if (wechatKindOf(inbox.settings) === "wecom") {
    const api = deps.wechat.wecomApi;
    if (!api) throw new PermanentSendError("This server has no WeCom API configured");
    return { name: "WeCom", api, tokens: wecomTokenLease(wecomAccountOf(outbound).app, api) };
  }
  const app = wechatAppOf(outbound);
  const { tokens, ...api } = deps.wechat;
  const lease: TokenLease = {
    get: () => tokens.tokenFor(app),
    invalidate: (stale) => tokens.invalidate(app.appId, stale),
  };
  return { name: "WeChat", api, tokens: lease };
}

async function fetchWithToken(deps: WechatDeps, item: TimelineItem, mediaId: string) {
  const [inbox] = await deps.core.db.select().from(inboxes).where(eq(inboxes.id, item.inboxId!));
  if (!inbox) throw new PermanentSendError("The inbox of this message no longer exists");
  const platform = platformOf(deps, inbox);
  const got = await withFreshToken(
    platform.tokens,
    (token) => fetchMedia(platform.api, token, mediaId, MAX_ATTACHMENT_BYTES),
    (answer) => (answer.ok ? 0 : answer.errcode),
  );
  return { got, platform: platform.name };
}

/**
 * Writes the file as attachments (not yet on the item): a voice note in AMR as a WAV browsers play, then
 * the original; anything else as it came. Types outside the upload list are kept as
 * application/octet-stream by the store (downloaded, never shown inline), as mail attachments are.
 */
async function store(deps: WechatDeps, item: TimelineItem, file: Extract<FetchedMedia, { ok: true }>) {
  const msgType = String(item.data.msgType ?? "");
  const messageId = item.externalId ?? item.id;
  const save = async (bytes: Uint8Array, contentType: string, name: string) =>
    (
      await deps.files.saveStream(
        deps.core.db,
        item.workspaceId,
        { contactId: item.senderId ?? undefined },
        { name, contentType },
        (async function* () {
          yield bytes;
        })(),
        MAX_ATTACHMENT_BYTES,
      )
    ).id;
  const given = typeof item.data.title === "string" ? item.data.title : file.name;
  const ids: string[] = [];
  if (msgType === "voice" && isAmr(file.bytes)) {
    const wav = await amrToWav(file.bytes).catch((err: unknown) => {
      log.warn("wechat: a voice message could not be decoded", { itemId: item.id, err: String(err) });
      return null;
    });
    if (wav) ids.push(await save(wav, "audio/wav", mediaFileName(msgType, messageId, "audio/wav")));
    // The original is small (AMR is about 1.6 KB a second) and is what WeChat sent.
    ids.push(await save(file.bytes, "audio/amr", mediaFileName(msgType, messageId, "audio/amr")));
  } else {
    ids.push(await save(file.bytes, file.contentType, mediaFileName(msgType, messageId, file.contentType, given)));
  }
  return ids;
}

/**
 * The download's outcome on the item, with `item.updated` so open inboxes show it, and its lease gone.
 * Only while the item still waits: of two nodes that both fetched, the second's files are removed.
 */
async function settle(deps: WechatDeps, item: TimelineItem, outcome: MediaState, files: string[] = []) {
  const next: MediaState = { ...outcome, at: new Date().toISOString() };
  const kept = await withEvents(deps.core, async (tx, events) => {
    const [conversation] = await tx
      .select()
      .from(conversations)
      .where(eq(conversations.id, item.conversationId))
      .for("update");
    const [locked] = await tx.select().from(timelineItems).where(eq(timelineItems.id, item.id)).for("update");
    if (!conversation || !locked || (locked.data.media as MediaState | undefined)?.state !== "pending") return false;
    if (files.length)
      for (const id of files)
        await tx
          .update(attachments)
          .set({ timelineItemId: item.id })
          .where(and(eq(attachments.id, id), eq(attachments.workspaceId, item.workspaceId)));
    await tx
      .update(timelineItems)
      .set({ data: sql`jsonb_set(${timelineItems.data}, '{media}', ${JSON.stringify(next)}::jsonb)` })
      .where(eq(timelineItems.id, item.id));
    await tx.delete(leases).where(eq(leases.name, PREFIX + item.id));
    await events.append(item.workspaceId, {
      type: "item.updated",
      conversationId: item.conversationId,
      public: isPublicItem(item),
      payload: { item: (await loadTimelineItem(tx, item.id))!, scope: scopeOf(conversation) },
    });
    return true;
  });
  if (!kept && files.length) await deps.files.discard(deps.core.db, item.workspaceId, files);
  if (outcome.state === "failed")
    log.warn("wechat: a message's file could not be downloaded", { itemId: item.id, reason: outcome.reason });
}

/** A passing fault: the lease comes due again after a pause that grows with each attempt. */
async function later(deps: WechatDeps, itemId: string, attempts: number, reason: string) {
  const pauseMs = Math.min(30 * 60_000, FIRST_TRY_MS * 2 ** (attempts - 1));
  await deps.core.db
    .update(leases)
    .set({ expiresAt: new Date(Date.now() + pauseMs) })
    .where(eq(leases.name, PREFIX + itemId));
  log.warn("wechat: media download will be retried", { itemId, attempts, reason });
}

/** Nothing (more) to download for this item. */
async function done(deps: WechatDeps, itemId: string) {
  await deps.core.db.delete(leases).where(eq(leases.name, PREFIX + itemId));
}
