import { z } from "zod";
import type { CallStatus } from "../../db/schema/call.ts";

/** Twilio's ids: two letters and 32 hex digits (CA… calls, RE… recordings, CF… conferences). */
const Sid = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}[0-9a-fA-F]{32}$`), `must be a Twilio ${prefix}… id`);
const Phone = z.string().min(1).max(64);

export const IncomingCall = z.object({
  CallSid: Sid("CA"),
  AccountSid: Sid("AC").optional(),
  From: Phone,
  To: Phone,
  CallerName: z.string().max(200).optional(),
  CallStatus: z.string().max(32).optional(),
});
export type IncomingCall = z.infer<typeof IncomingCall>;

export const GatherResult = z.object({
  CallSid: Sid("CA"),
  Digits: z.string().max(64).optional(),
  SpeechResult: z.string().max(2000).optional(),
  Confidence: z.string().max(32).optional(),
});

export const StatusCallback = z.object({
  CallSid: Sid("CA"),
  CallStatus: z.enum([
    "queued",
    "initiated",
    "ringing",
    "in-progress",
    "completed",
    "busy",
    "failed",
    "no-answer",
    "canceled",
  ]),
  CallDuration: z.string().max(16).optional(),
  ParentCallSid: Sid("CA").optional(),
});
export type StatusCallback = z.infer<typeof StatusCallback>;

export const ConferenceEvent = z.object({
  ConferenceSid: Sid("CF"),
  StatusCallbackEvent: z.string().max(64),
  CallSid: Sid("CA").optional(),
  FriendlyName: z.string().max(200).optional(),
  Hold: z.string().max(8).optional(),
});

export const RecordingEvent = z.object({
  CallSid: Sid("CA").optional(),
  RecordingSid: Sid("RE"),
  RecordingUrl: z.url().max(1000),
  RecordingStatus: z.string().max(32).optional(),
  RecordingDuration: z.string().max(16).optional(),
});

export const TranscriptionEvent = z.object({
  CallSid: Sid("CA").optional(),
  RecordingSid: Sid("RE").optional(),
  TranscriptionText: z.string().max(20_000).optional(),
  TranscriptionStatus: z.string().max(32),
});

/**
 * The customer leg's Twilio status as a change of our call. "in-progress" is not "connected": the
 * caller is in the IVR or queue until an agent joins, which the conference tells us.
 */
export function customerStatus(status: StatusCallback["CallStatus"], current: CallStatus): CallStatus | null {
  switch (status) {
    case "completed":
    case "canceled":
      // Hanging up while waiting is abandoning; in the IVR it is just the end of the call.
      if (current === "queued") return "abandoned";
      if (current === "callback") return null;
      return "completed";
    case "busy":
      return "busy";
    case "failed":
      return "failed";
    case "no-answer":
      return "no_answer";
    default:
      return null;
  }
}

/** Form-encoded webhook bodies as a flat string map (what Twilio signs). */
export function formParams(body: Record<string, string | File | (string | File)[]>) {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    const value = Array.isArray(v) ? v[0] : v;
    if (typeof value === "string") out[k] = value;
  }
  return out;
}
