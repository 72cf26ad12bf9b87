import { and, eq, gt, isNotNull, isNull, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { attachments, callTranscripts, calls, type Call, type TranscriptSegment } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";

/**
 * Speech to text for recorded calls without a transcript of Twilio's. A provider turns a recording's
 * audio into segments (who spoke, from when to when, what). Providers are registered by name and the
 * deployment picks one with TRANSCRIPTION_PROVIDER; with none configured nothing is transcribed.
 * docs/quality.md shows how to plug one in.
 */
export interface TranscriptionProvider {
  readonly name: string;
  transcribe(
    audio: Uint8Array,
    options: { language: string | null; contentType: string },
  ): Promise<TranscriptSegment[]>;
}

const registry = new Map<string, () => TranscriptionProvider>();

/** Makes a provider choosable by TRANSCRIPTION_PROVIDER=<name> (call it before the runtime starts). */
export function registerTranscriptionProvider(name: string, make: () => TranscriptionProvider) {
  registry.set(name, make);
}

/** The configured provider, or undefined when none is (an unknown name is a start-up error). */
export function transcriptionProvider(name: string | undefined): TranscriptionProvider | undefined {
  if (!name) return undefined;
  const make = registry.get(name);
  if (!make)
    throw new Error(
      `TRANSCRIPTION_PROVIDER=${name}: no such provider (known: ${[...registry.keys()].join(", ") || "none"})`,
    );
  return make();
}

const plain = (segments: TranscriptSegment[]) => segments.map((s) => `${s.speaker}: ${s.text}`).join("\n");

/**
 * Twilio's transcription of a call (the `transcription` webhook). Twilio sends the caller's recorded
 * speech as one text without timings, so it is stored as one customer segment; a provider's
 * transcript of the same call is not overwritten by it.
 */
export async function storeTwilioTranscript(db: Db, call: Call, text: string) {
  const segments: TranscriptSegment[] = [{ speaker: "customer", startS: 0, endS: 0, text }];
  await db
    .insert(callTranscripts)
    .values({ callId: call.id, workspaceId: call.workspaceId, source: "twilio", segments, text, status: "done" })
    .onConflictDoUpdate({
      target: callTranscripts.callId,
      set: { segments, text, status: "done", error: null },
      setWhere: sql`${callTranscripts.source} = 'twilio' OR ${callTranscripts.status} <> 'done'`,
    });
}

/** Stores a transcript the caller already has (a provider's, or one imported), replacing any before. */
export async function storeTranscript(
  db: Db,
  call: Pick<Call, "id" | "workspaceId">,
  source: string,
  segments: TranscriptSegment[],
  language: string | null = null,
) {
  const row = { source, language, segments, text: plain(segments), status: "done", error: null };
  await db
    .insert(callTranscripts)
    .values({ callId: call.id, workspaceId: call.workspaceId, ...row })
    .onConflictDoUpdate({ target: callTranscripts.callId, set: row });
}

/** Ended calls with a stored recording and no transcript yet, the newest first (the sweep's work). */
export async function callsToTranscribe(db: Db, since: Date, limit = 20) {
  return db
    .select({ call: calls, storageKey: attachments.storageKey, contentType: attachments.contentType })
    .from(calls)
    .innerJoin(attachments, eq(attachments.id, calls.recordingId))
    .leftJoin(callTranscripts, eq(callTranscripts.callId, calls.id))
    .where(
      and(
        isNotNull(calls.recordingId),
        isNotNull(calls.endedAt),
        gt(calls.endedAt, since),
        isNull(callTranscripts.callId),
      ),
    )
    .limit(limit);
}

/**
 * Transcribes one call's recording. The pending row is the claim: of two nodes, the one whose insert
 * lands transcribes, the other skips. A failure is kept on the row (status failed) and not retried
 * automatically; an admin can delete the row to try again.
 */
export async function transcribeCall(
  db: Db,
  provider: TranscriptionProvider,
  call: Call,
  audio: () => Promise<Uint8Array>,
  contentType: string,
  language: string | null,
) {
  const claimed = await db
    .insert(callTranscripts)
    .values({ callId: call.id, workspaceId: call.workspaceId, source: provider.name, status: "pending", language })
    .onConflictDoNothing()
    .returning({ callId: callTranscripts.callId });
  if (!claimed.length) return false;
  try {
    const segments = await provider.transcribe(await audio(), { language, contentType });
    await storeTranscript(db, call, provider.name, segments, language);
    return true;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    log.warn("quality: transcription failed", { callId: call.id, provider: provider.name, err: message });
    await db
      .update(callTranscripts)
      .set({ status: "failed", error: message.slice(0, 500) })
      .where(eq(callTranscripts.callId, call.id));
    return false;
  }
}
