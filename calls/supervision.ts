import { appendSystemEvent } from "../conversations/append-item.ts";
import { withEvents } from "../conversations/transaction.ts";
import type { Call } from "../db/schema/index.ts";
import { Conflict } from "../platform/errors.ts";
import { callById, changeCall, changeCallWithin, isFinal } from "./call.ts";
import { clientIdentity, type CallContext } from "./call-context.ts";
import { recordingsToFetch, storeRecording } from "./recording.ts";
import type { VoiceInbox } from "./voice-inbox.ts";

/** A supervisor joins a live call: listening (muted), whispering to the agent, or barging in. */
export async function monitor(
  ctx: CallContext,
  workspaceId: string,
  callId: string,
  supervisorId: string,
  mode: "listen" | "whisper" | "barge",
) {
  const { call, inbox } = await ctx.liveCall(workspaceId, callId);
  if (call.status !== "connected" && call.status !== "on_hold")
    throw new Conflict("The call is not connected", "callId");
  const rest = ctx.rest(inbox);
  const existing = call.monitors.find((m) => m.userId === supervisorId);
  if (existing) {
    if (!call.conferenceSid) throw new Conflict("The call is not connected", "callId");
    await rest.monitorMode(call.conferenceSid, existing.legId, mode, call.agentLegId);
    return (
      await changeCall(ctx.deps.core, call.id, (c) => ({
        monitors: c.monitors.map((m) => (m.userId === supervisorId ? { ...m, mode } : m)),
      }))
    ).after;
  }
  const legId = await rest.dial({
    to: `client:${clientIdentity(supervisorId)}`,
    from: inbox.settings.phoneNumber ?? call.toAddress ?? "",
    url: ctx.at(inbox, call, "monitor", `&mode=${mode}`),
    statusCallback: ctx.at(inbox, call, "status", "&leg=monitor"),
  });
  return withEvents(ctx.deps.core, async (tx, events) => {
    const { after } = await changeCallWithin(tx, events, call.id, (c) => ({
      monitors: [...c.monitors, { userId: supervisorId, legId, mode }],
    }));
    await appendSystemEvent(tx, events, call.conversationId, "call_monitored", {
      callId: call.id,
      supervisorId,
      mode,
    });
    return after;
  });
}

/** A supervisor leaves a phone call they were monitoring: their leg hangs up. */
export async function stopMonitor(ctx: CallContext, workspaceId: string, callId: string, supervisorId: string) {
  const call = await callById(ctx.deps.core.db, workspaceId, callId);
  const mine = call.monitors.find((m) => m.userId === supervisorId);
  if (!mine) return call;
  const inbox = await ctx.inbox(call.inboxId);
  if (inbox && !isFinal(call.status)) await ctx.quietly(() => ctx.rest(inbox).hangup(mine.legId));
  return (
    await changeCall(ctx.deps.core, call.id, (c) => ({
      monitors: c.monitors.filter((m) => m.userId !== supervisorId),
    }))
  ).after;
}

/** Starts recording an on-demand call (the policy "never" refuses). */
export async function record(ctx: CallContext, workspaceId: string, callId: string) {
  const { call, inbox } = await ctx.liveCall(workspaceId, callId);
  if (inbox.settings.recording === "never") throw new Conflict("Recording is turned off for this inbox", "callId");
  if (call.status !== "connected" && call.status !== "on_hold")
    throw new Conflict("The call is not connected", "callId");
  await ctx.rest(inbox).startRecording(call.customerLegId ?? call.externalId, ctx.at(inbox, call, "recording"));
  await withEvents(ctx.deps.core, (tx, events) =>
    appendSystemEvent(tx, events, call.conversationId, "recording_started", { callId: call.id }),
  );
  return call;
}

/** A recording is ready at Twilio: fetch it, store it sealed, and delete Twilio's copy. */
export async function recordingReady(
  ctx: CallContext,
  inbox: VoiceInbox,
  call: Call,
  p: { RecordingSid: string; RecordingStatus?: string },
) {
  if (p.RecordingStatus && p.RecordingStatus !== "completed") return;
  if (call.recordingSid === p.RecordingSid && call.recordingId) return;
  await changeCall(ctx.deps.core, call.id, { recordingSid: p.RecordingSid });
  await storeRecording(ctx.deps, ctx.rest(inbox), { ...call, recordingSid: p.RecordingSid });
}

/** Calls whose recording is known at Twilio but not yet stored with us (a crash, an outage). */
export async function retryRecordings(ctx: CallContext) {
  const due = await recordingsToFetch(ctx.deps.core.db);
  for (const call of due) {
    const inbox = await ctx.inbox(call.inboxId);
    if (inbox) await ctx.quietly(() => storeRecording(ctx.deps, ctx.rest(inbox), call));
  }
}
