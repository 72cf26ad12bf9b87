import type { IvrFlow, IvrLanguage } from "../channels/voice/flow.ts";
import { runIvr, startState, type IvrInput, type IvrStep } from "../channels/voice/ivr.ts";
import { phrases } from "../channels/voice/phrases.ts";
import { apologyTwiml, ivrTwiml, sayTwiml } from "../channels/voice/twiml.ts";
import { appendSystemEvent } from "../conversations/append-item.ts";
import type { EventLog } from "../conversations/event.ts";
import { withEvents } from "../conversations/transaction.ts";
import type { Tx } from "../db/connect.ts";
import type { Call, CallStatus, IvrState } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import { fetchOutbound } from "../platform/outbound.ts";
import { isOpen } from "../routing/hours.ts";
import { callById, changeCall, changeCallWithin, findCall } from "./call.ts";
import type { CallContext } from "./call-context.ts";
import { startCall } from "./call-start.ts";
import { visitorOfCaller, widgetCallTarget } from "./phone-line.ts";
import { enqueueCallWithin } from "./call-queue.ts";
import type { VoiceInbox } from "./voice-inbox.ts";
import { current, recordingNotice, waitTwiml, type Eta } from "./waiting.ts";

/** One IVR turn, decided before anything is written: where the call goes and what the caller hears. */
type Turn = {
  next: IvrState;
  step: IvrStep;
  reply: string;
  status: CallStatus;
  language: IvrLanguage;
  newPath: IvrState["path"];
  callbackNumber: string | null;
  enqueue: { queueId: string } | undefined;
};

/**
 * A new call (or Twilio retrying the first webhook of one): start the IVR. Nothing is read first:
 * a retry fails on the call's unique key when it is written, and is then answered from the call.
 */
export async function incoming(
  ctx: CallContext,
  inbox: VoiceInbox,
  p: { CallSid: string; From: string; To: string; CallerName?: string },
) {
  const { core } = ctx.deps;
  const flow = await ctx.flow(inbox.row.id);
  const id = crypto.randomUUID();
  const turn = await compute(ctx, inbox, { id, fromAddress: p.From, toAddress: p.To }, flow, startState(flow), null);
  const start = {
    provider: "twilio" as const,
    inboxId: inbox.row.id,
    externalId: p.CallSid,
    direction: "in" as const,
    customer: { kind: "phone" as const, value: p.From, ...(p.CallerName ? { displayName: p.CallerName } : {}) },
    from: p.From,
    to: p.To,
    id,
  };
  const begun = {
    ...start,
    status: turn.status,
    ivr: { ...turn.next, reply: turn.reply },
    callbackNumber: turn.callbackNumber,
    queueId: turn.enqueue?.queueId ?? null,
    enqueuedAt: turn.enqueue ? new Date() : null,
    events: turnEvents(turn),
  };
  const checks = { inboxOfWorkspace: true, skipLookup: true };
  try {
    if (!turn.enqueue) {
      // Most calls begin in the IVR: their start joins the next batch of call writes.
      const started = await ctx.batch.start(inbox.row.workspaceId, begun);
      return answer(ctx, inbox, started.call, turn, undefined);
    }
    // A flow that queues at once: the call, its first IVR answer and its work in one transaction.
    let eta: Eta;
    const started = await startCall(
      core,
      inbox.row.workspaceId,
      begun,
      async (tx, events, call) => void (eta = await enqueueTurn(tx, events, call, turn)),
      checks,
    );
    return answer(ctx, inbox, started.call, turn, eta);
  } catch (err) {
    // Twilio's retry of a call started meanwhile: the call's current step, as the first answer gave.
    const known = await findCall(core.db, inbox.row.id, p.CallSid);
    if (known) return current(ctx, inbox, known);
    if (!turn.enqueue) throw err;
    // A queue deleted after the flow was saved: the call is still logged, the caller hears goodbye.
    log.error("voice: enqueue failed", { err });
    await startCall(core, inbox.row.workspaceId, { ...start, status: "failed" });
    return apologyTwiml(turn.language);
  }
}

/**
 * A chatting visitor's browser calls through the chat's phone line (call-line.ts): no IVR — the
 * chat already said what it is about — straight into the line's queue, in the chat's conversation.
 */
export async function widgetIncoming(
  ctx: CallContext,
  inbox: VoiceInbox,
  p: { CallSid: string; From: string; To: string },
  conversationId: string | undefined,
) {
  const { core } = ctx.deps;
  const known = await findCall(core.db, inbox.row.id, p.CallSid);
  if (known) return current(ctx, inbox, known);
  const contactId = visitorOfCaller(p.From);
  const target = contactId && (await widgetCallTarget(core.db, inbox, contactId, conversationId));
  if (!target) {
    log.warn("voice: a widget call for a chat it cannot continue", { conversationId });
    return apologyTwiml(inbox.language);
  }
  let eta: Eta;
  const started = await startCall(
    core,
    inbox.row.workspaceId,
    {
      provider: "twilio",
      inboxId: inbox.row.id,
      externalId: p.CallSid,
      direction: "in",
      customer: { kind: "visitor", value: contactId },
      conversationId: target.conversationId,
      status: "queued",
      from: p.From,
      to: p.To,
      queueId: target.queueId,
      enqueuedAt: new Date(),
    },
    async (tx, events) =>
      void (eta = (await enqueueCallWithin(tx, events, target.conversationId, { queueId: target.queueId })).eta),
    // Looked up just above; a racing retry still fails on the call item's unique key.
    { inboxOfWorkspace: true, skipLookup: true },
  );
  ctx.deps.router.schedule(inbox.row.workspaceId);
  return waitTwiml(ctx, inbox, started.call, recordingNotice(inbox, inbox.language), eta);
}

/** The caller answered a gather. A retry of an answered step gets the same reply again. */
export async function gather(ctx: CallContext, inbox: VoiceInbox, call: Call, step: number, input: IvrInput) {
  if (call.status !== "ivr" || !call.ivr || call.ivr.step !== step) return current(ctx, inbox, call);
  const turn = await compute(ctx, inbox, call, await ctx.flow(inbox.row.id), call.ivr, input);
  let saved: { call: Call; eta: Eta } | undefined;
  try {
    // Saved with the batch's other turns, only if nobody answered this step meanwhile (a
    // concurrent retry): then theirs stands.
    saved = await ctx.batch.turn(call.workspaceId, {
      call,
      step,
      change: { ivr: { ...turn.next, reply: turn.reply }, status: turn.status, callbackNumber: turn.callbackNumber },
      enqueue: turn.enqueue
        ? {
            queueId: turn.enqueue.queueId,
            priority: turn.next.priority,
            skills: turn.next.skills,
            attributes: turn.next.attributes,
          }
        : undefined,
      events: turnEvents(turn),
      at: new Date(),
    });
  } catch (err) {
    if (!turn.enqueue) throw err;
    log.error("voice: enqueue failed", { callId: call.id, err });
    await changeCall(ctx.deps.core, call.id, { status: "failed" });
    return apologyTwiml(turn.language);
  }
  if (!saved) return current(ctx, inbox, await callById(ctx.deps.core.db, call.workspaceId, call.id));
  return answer(ctx, inbox, saved.call, turn, saved.eta);
}

/** The caller left a voicemail (the IVR's voicemail node recorded it). */
export async function voicemail(ctx: CallContext, inbox: VoiceInbox, call: Call) {
  const language = call.ivr?.language ?? inbox.language;
  await withEvents(ctx.deps.core, async (tx, events) => {
    const { before, after } = await changeCallWithin(tx, events, call.id, (c) =>
      c.status === "ivr" ? { status: "voicemail" } : null,
    );
    if (after !== before) await appendSystemEvent(tx, events, call.conversationId, "voicemail", { callId: call.id });
  });
  return sayTwiml(language, [phrases(language).voicemailThanks]);
}

export async function transcription(ctx: CallContext, call: Call, text: string | undefined) {
  if (text) await changeCall(ctx.deps.core, call.id, { transcript: text });
}

/** Runs the IVR one turn and decides what it means for the call, before anything is written. */
async function compute(
  ctx: CallContext,
  inbox: VoiceInbox,
  call: Pick<Call, "id" | "fromAddress" | "toAddress">,
  flow: IvrFlow,
  state: IvrState,
  input: IvrInput | null,
): Promise<Turn> {
  const { state: next, step } = await runIvr(flow, state, input, {
    now: new Date(),
    from: call.fromAddress ?? "",
    to: call.toAddress ?? "",
    isOpen: (hours, now) => isOpen({ ...hours, holidays: hours.holidays ?? [] }, now),
    lookup: (url, timeoutMs, query) => lookupJson(url, timeoutMs, query, ctx.deps.outboundAllowHosts),
  });
  const language = next.language;
  const urls = ctx.urls(inbox, call);
  const base = {
    next,
    step,
    language,
    newPath: next.path.slice(state.path.length),
    callbackNumber: null as string | null,
    enqueue: undefined as { queueId: string } | undefined,
  };
  switch (step.kind) {
    case "enqueue":
      return { ...base, status: "queued", reply: "", enqueue: { queueId: step.node.queueId } };
    case "callback":
      return {
        ...base,
        status: "callback",
        callbackNumber: call.fromAddress,
        enqueue: { queueId: step.node.queueId },
        reply: ivrTwiml(step, language, urls, next.step),
      };
    case "transfer":
      return {
        ...base,
        status: "transferred_out",
        reply: ivrTwiml(step, language, urls, next.step, inbox.settings.phoneNumber),
      };
    default:
      return { ...base, status: "ivr", reply: ivrTwiml(step, language, urls, next.step) };
  }
}

/** A new call's queue entry, when its flow reaches an enqueue (or callback) node at once. */
async function enqueueTurn(tx: Tx, events: EventLog, call: Call, turn: Turn): Promise<Eta> {
  if (!turn.enqueue) return undefined;
  const { eta } = await enqueueCallWithin(tx, events, call.conversationId, {
    queueId: turn.enqueue.queueId,
    priority: turn.next.priority,
    skills: turn.next.skills,
    attributes: turn.next.attributes,
  });
  return eta;
}

/** The TwiML for a saved turn: the IVR's own answer, or the first round of waiting. */
async function answer(ctx: CallContext, inbox: VoiceInbox, call: Call, turn: Turn, eta: Eta) {
  if (turn.enqueue) ctx.deps.router.schedule(call.workspaceId);
  if (turn.step.kind !== "enqueue") return turn.reply;
  return waitTwiml(ctx, inbox, call, [...turn.step.prompts, ...recordingNotice(inbox, turn.language)], eta);
}

/** The timeline events one IVR turn adds to its call: the nodes it went through, a transfer out. */
function turnEvents(turn: Turn) {
  return [
    ...(turn.newPath.length ? [{ eventType: "ivr", data: { steps: turn.newPath } }] : []),
    ...(turn.step.kind === "transfer"
      ? [{ eventType: "call_transferred_out", data: { number: turn.step.node.number } }]
      : []),
  ];
}

/**
 * The IVR's HTTP lookup: GET with the caller's number and attributes, JSON back, within the timeout.
 * The URL is an admin's, but the request leaves from the server: the outbound policy keeps it off
 * loopback, private and metadata addresses unless OUTBOUND_ALLOW_HOSTS lists the host.
 */
export async function lookupJson(url: string, timeoutMs: number, query: Record<string, string>, allowHosts: string[]) {
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  const res = await fetchOutbound(
    u,
    { signal: AbortSignal.timeout(timeoutMs), headers: { accept: "application/json" } },
    { allowHosts },
  );
  if (!res.ok) throw new Error(`lookup answered ${res.status}`);
  return (await res.json()) as unknown;
}
