import type { IvrFlow, IvrLanguage } from "../channels/voice/flow.ts";
import type { IvrStep } from "../channels/voice/ivr.ts";
import { phrases } from "../channels/voice/phrases.ts";
import { apologyTwiml, conferenceTwiml, sayTwiml, waitTwiml as waitingMusic } from "../channels/voice/twiml.ts";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { withEvents } from "../conversations/transaction.ts";
import type { Call } from "../db/schema/index.ts";
import { queuePosition } from "../routing/estimate.ts";
import { changeCall, changeCallWithin } from "./call.ts";
import { conferenceName, type CallContext } from "./call-context.ts";
import { fromBrowser } from "./phone-line.ts";
import type { VoiceInbox } from "./voice-inbox.ts";

/** A waiting caller's place in the queue and estimated wait, when known. */
export type Eta = { position: number; estimatedWaitS: number | null } | undefined;

/** What Twilio should do with this call now, from its stored state (retries, unknown steps). */
export async function current(ctx: CallContext, inbox: VoiceInbox, call: Call): Promise<string> {
  const language = call.ivr?.language ?? inbox.language;
  if (call.status === "ivr" && call.ivr?.reply) return call.ivr.reply;
  if (call.status === "queued") return waitTwiml(ctx, inbox, call);
  if (call.status === "connecting" || call.status === "connected" || call.status === "on_hold")
    return customerConference(ctx, inbox, call);
  if (call.status === "callback") return sayTwiml(language, [phrases(language).callbackConfirmed]);
  return apologyTwiml(language);
}

/** Said before the waiting music when the inbox records every call. */
export function recordingNotice(inbox: VoiceInbox, language: IvrLanguage) {
  return inbox.settings.recording === "always" ? [{ say: phrases(language).recording, language }] : [];
}

/** One round of waiting music with the caller's position and estimated wait. */
export async function waitTwiml(
  ctx: CallContext,
  inbox: VoiceInbox,
  call: Call,
  prompts: IvrStep["prompts"] = [],
  known?: Eta,
) {
  const language = call.ivr?.language ?? inbox.language;
  const eta = known ?? (await queuePosition(ctx.deps.core.db, call.conversationId));
  const flow = await ctx.flow(inbox.row.id);
  const node = Object.values(flow.nodes).find((n) => n.type === "enqueue" && n.queueId === call.queueId) as
    | Extract<IvrFlow["nodes"][string], { type: "enqueue" }>
    | undefined;
  return waitingMusic({
    language,
    prompts,
    position: eta?.position ?? null,
    waitMinutes: eta?.estimatedWaitS != null ? Math.ceil(eta.estimatedWaitS / 60) : null,
    // A browser caller (client:…) has no number to call back.
    offerCallback: (node?.offerCallback ?? true) && !fromBrowser(call.fromAddress),
    musicUrl: node?.holdMusicUrl,
    urls: ctx.urls(inbox, call),
  });
}

/** A key pressed while waiting: 1 asks for a callback (the place in line is kept). */
export async function waitKey(ctx: CallContext, inbox: VoiceInbox, call: Call, digits: string | undefined) {
  const language = call.ivr?.language ?? inbox.language;
  if (call.status !== "queued" || digits !== "1" || fromBrowser(call.fromAddress)) return current(ctx, inbox, call);
  await withEvents(ctx.deps.core, async (tx, events) => {
    const { before, after } = await changeCallWithin(tx, events, call.id, (c) =>
      c.status === "queued" ? { status: "callback", callbackNumber: c.fromAddress } : null,
    );
    if (after !== before)
      await appendSystemEvent(tx, events, call.conversationId, "callback_requested", {
        callId: call.id,
        number: call.fromAddress,
      });
  });
  return sayTwiml(language, [phrases(language).callbackConfirmed]);
}

export function customerConference(ctx: CallContext, inbox: VoiceInbox, call: Call) {
  const language = call.ivr?.language ?? inbox.language;
  return conferenceTwiml({
    name: conferenceName(call),
    language,
    announce: [phrases(language).connecting],
    endOnExit: true,
    // The customer waits with music until the agent's leg starts the conference.
    record: inbox.settings.recording === "always",
    urls: ctx.urls(inbox, call),
  });
}

export function agentConference(
  ctx: CallContext,
  inbox: VoiceInbox,
  call: Call,
  monitor?: { mode: "listen" | "whisper" | "barge" },
) {
  return conferenceTwiml({
    name: conferenceName(call),
    language: inbox.language,
    endOnExit: false,
    record: false,
    muted: monitor?.mode === "listen",
    coach: monitor?.mode === "whisper" ? (call.agentLegId ?? undefined) : undefined,
    urls: ctx.urls(inbox, call),
  });
}

/** Conference events: its id (for hold and monitoring) and the customer's hold state. */
export async function conferenceEvent(
  ctx: CallContext,
  call: Call,
  p: { ConferenceSid: string; StatusCallbackEvent: string; CallSid?: string },
) {
  const customerLeg = call.customerLegId ?? call.externalId;
  const change: Parameters<typeof changeCall>[2] = {};
  if (!call.conferenceSid) Object.assign(change, { conferenceSid: p.ConferenceSid });
  if (p.CallSid === customerLeg && p.StatusCallbackEvent === "participant-hold") Object.assign(change, { hold: true });
  if (p.CallSid === customerLeg && p.StatusCallbackEvent === "participant-unhold")
    Object.assign(change, { hold: false });
  if (Object.keys(change).length) await changeCall(ctx.deps.core, call.id, change);
}
