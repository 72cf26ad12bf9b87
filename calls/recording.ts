import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { and, eq, inArray, isNotNull, isNull, lt } from "drizzle-orm";
import { SEALED_SUFFIX, type AttachmentStore } from "../conversations/attachment.ts";
import type { Core } from "../conversations/transaction.ts";
import { changeCall } from "./call.ts";
import type { Executor } from "../db/connect.ts";
import { attachments, calls, inboxes, type Call } from "../db/schema/index.ts";
import type { TwilioRest } from "../channels/voice/rest.ts";
import type { Keyring } from "../platform/crypto.ts";
import { log } from "../platform/log.ts";
import type { VoiceSettings } from "./voice-inbox.ts";

/** What recordings need: the database, the key they are sealed with, and the attachment store's files. */
export type RecordingDeps = { core: Core; keyring: Keyring; files: Pick<AttachmentStore, "localPath"> };

/**
 * Recordings are fetched from Twilio once, sealed with AES-256-GCM (the keyring's key) into the
 * attachment store, attached to the call's timeline item, and then deleted at Twilio: the only
 * copy is ours, encrypted at rest, readable through the agent API.
 */
export async function storeRecording(deps: RecordingDeps, rest: TwilioRest, call: Call) {
  if (!call.recordingSid) return;
  const audio = await rest.fetchRecording(call.recordingSid);
  const id = crypto.randomUUID();
  const storageKey = `${call.workspaceId}/${id}${SEALED_SUFFIX}`;
  const path = deps.files.localPath(storageKey);
  await mkdir(dirname(path), { recursive: true });
  await Bun.write(path, deps.keyring.sealBytes(audio));
  const stored = await deps.core.db.transaction(async (tx) => {
    // Two nodes fetching the same recording: the first to store it wins, the other's file goes.
    const [locked] = await tx.select().from(calls).where(eq(calls.id, call.id)).for("update");
    if (!locked || locked.recordingId) return false;
    await tx.insert(attachments).values({
      id,
      workspaceId: call.workspaceId,
      timelineItemId: call.timelineItemId,
      name: `call-${call.startedAt.toISOString().slice(0, 19).replace(/[:T]/g, "-")}.mp3`,
      contentType: "audio/mpeg",
      size: audio.byteLength,
      storageKey,
      sha256: new Bun.CryptoHasher("sha256").update(audio).digest("hex"),
    });
    return true;
  });
  if (!stored) {
    await rm(path, { force: true });
    return;
  }
  await changeCall(deps.core, call.id, { recordingId: id });
  try {
    await rest.deleteRecording(call.recordingSid);
  } catch (err) {
    log.warn("voice: could not delete the recording at Twilio", {
      recordingSid: call.recordingSid,
      err: err instanceof Error ? err.message : String(err),
    });
  }
}

/** Reads a sealed file back (the file route, for readers it has authorized). */
export async function openSealed(deps: Pick<RecordingDeps, "keyring" | "files">, storageKey: string) {
  return deps.keyring.openBytes(new Uint8Array(await Bun.file(deps.files.localPath(storageKey)).arrayBuffer()));
}

/** Calls whose recording Twilio announced but we have not stored yet (a crash, an outage). */
export const recordingsToFetch = (db: Executor) =>
  db
    .select()
    .from(calls)
    .where(and(isNotNull(calls.recordingSid), isNull(calls.recordingId)));

/** An inbox's calls with a stored recording, started before `before`. */
export const recordingsPastRetention = (db: Executor, inboxId: string, before: Date) =>
  db
    .select()
    .from(calls)
    .where(and(eq(calls.inboxId, inboxId), isNotNull(calls.recordingId), lt(calls.startedAt, before)));

/** Deletes recordings older than their inbox's retention period (settings.recordingRetentionDays). */
export async function pruneRecordings(deps: RecordingDeps, now = new Date()) {
  const voice = await deps.core.db
    .select({ id: inboxes.id, settings: inboxes.settings })
    .from(inboxes)
    .where(eq(inboxes.channel, "voice"));
  let removed = 0;
  for (const inbox of voice) {
    const days = (inbox.settings as VoiceSettings).recordingRetentionDays;
    if (!days) continue;
    const old = await recordingsPastRetention(deps.core.db, inbox.id, new Date(now.getTime() - days * 86_400_000));
    if (!old.length) continue;
    const files = await deps.core.db
      .select()
      .from(attachments)
      .where(
        inArray(
          attachments.id,
          old.map((c) => c.recordingId!),
        ),
      );
    for (const f of files) await rm(deps.files.localPath(f.storageKey), { force: true });
    await deps.core.db.delete(attachments).where(
      inArray(
        attachments.id,
        files.map((f) => f.id),
      ),
    );
    for (const call of old) await changeCall(deps.core, call.id, { recordingId: null });
    removed += old.length;
  }
  return removed;
}
