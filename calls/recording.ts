import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { and, eq, inArray, isNotNull, isNull, lt } from "drizzle-orm";
import { SEALED_SUFFIX } from "../conversations/attachment.ts";
import { changeCall } from "./call.ts";
import type { Executor } from "../db/connect.ts";
import { attachments, calls, inboxes, type Call } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import type { Runtime } from "../apps/server/runtime.ts";
import type { CallControl } from "./call-control.ts";
import type { VoiceInbox, VoiceSettings } from "./voice-inbox.ts";

const filesRoot = (rt: Runtime) => join(rt.config.dataDir, "files");

/**
 * Recordings are fetched from Twilio once, sealed with AES-256-GCM (the keyring's key) into the
 * attachment store, attached to the call's timeline item, and then deleted at Twilio: the only
 * copy is ours, encrypted at rest, readable through the agent API.
 */
export async function storeRecording(rt: Runtime, control: CallControl, inbox: VoiceInbox, call: Call) {
  if (!call.recordingSid) return;
  const rest = control.rest(inbox);
  const audio = await rest.fetchRecording(call.recordingSid);
  const id = crypto.randomUUID();
  const storageKey = `${call.workspaceId}/${id}${SEALED_SUFFIX}`;
  await mkdir(join(filesRoot(rt), call.workspaceId), { recursive: true });
  await Bun.write(join(filesRoot(rt), storageKey), rt.keyring.sealBytes(audio));
  const stored = await rt.core.db.transaction(async (tx) => {
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
    await rm(join(filesRoot(rt), storageKey), { force: true });
    return;
  }
  await changeCall(rt.core, call.id, { recordingId: id });
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
export async function openSealed(rt: Runtime, storageKey: string) {
  return rt.keyring.openBytes(new Uint8Array(await Bun.file(join(filesRoot(rt), storageKey)).arrayBuffer()));
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
export async function pruneRecordings(rt: Runtime, now = new Date()) {
  const voice = await rt.core.db
    .select({ id: inboxes.id, settings: inboxes.settings })
    .from(inboxes)
    .where(eq(inboxes.channel, "voice"));
  let removed = 0;
  for (const inbox of voice) {
    const days = (inbox.settings as VoiceSettings).recordingRetentionDays;
    if (!days) continue;
    const old = await recordingsPastRetention(rt.core.db, inbox.id, new Date(now.getTime() - days * 86_400_000));
    if (!old.length) continue;
    const files = await rt.core.db
      .select()
      .from(attachments)
      .where(
        inArray(
          attachments.id,
          old.map((c) => c.recordingId!),
        ),
      );
    for (const f of files) await rm(join(filesRoot(rt), f.storageKey), { force: true });
    await rt.core.db.delete(attachments).where(
      inArray(
        attachments.id,
        files.map((f) => f.id),
      ),
    );
    for (const call of old) await changeCall(rt.core, call.id, { recordingId: null });
    removed += old.length;
  }
  return removed;
}
