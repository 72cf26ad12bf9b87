import { and, eq, inArray } from "drizzle-orm";
import { customerStatus, type StatusCallback } from "../channels/voice/parse.ts";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { withEvents } from "../conversations/transaction.ts";
import { calls, queues, type Call } from "../db/schema/index.ts";
import { Conflict, Invalid } from "../platform/errors.ts";
import { log } from "../platform/log.ts";
import { followAssignment } from "../routing/work.ts";
import { changeCall, changeCallWithin, isFinal } from "./call.ts";
import { clientIdentity, type CallContext } from "./call-context.ts";
import { startCall } from "./call-start.ts";
import { abandonCallWork, finishCallWork } from "./call-queue.ts";
import type { VoiceInbox } from "./voice-inbox.ts";

const LEG_ENDED = ["completed", "failed", "no-answer", "busy", "canceled"];

/**
 * Rings an agent when the conversation of a waiting call is assigned to them (offer accepted,
 * auto-accept, a supervisor's move). Returns the unsubscribe.
 */
export function watchAssignments(ctx: CallContext) {
  return ctx.deps.core.bus.subscribe((m) => {
    if (!("type" in m) || m.type !== "conversation.updated" || !m.conversationId) return;
    const changes = m.payload.changes as { assigneeId?: string | null } | undefined;
    if (!changes?.assigneeId) return;
    void connectWaitingCall(ctx, m.conversationId, changes.assigneeId).catch((err: unknown) =>
      log.error("voice: connecting the agent failed", { err, conversationId: m.conversationId }),
    );
  });
}

/**
 * The conversation of a waiting call was assigned (offer accepted, auto-accept, a supervisor's
 * move): ring the agent's softphone and bring the caller into the call's conference.
 */
export async function connectWaitingCall(ctx: CallContext, conversationId: string, agentId: string) {
  const { core } = ctx.deps;
  const [call] = await core.db
    .select()
    .from(calls)
    .where(
      and(
        eq(calls.conversationId, conversationId),
        eq(calls.provider, "twilio"),
        inArray(calls.status, ["queued", "callback"]),
      ),
    );
  if (!call) return;
  const inbox = (await ctx.inbox(call.inboxId))!;
  const rest = ctx.rest(inbox);
  // Every node hears the assignment: the one whose claim lands dials, the others see it taken.
  const claimed = await changeCall(core, call.id, (c) =>
    c.status === "queued"
      ? { status: "connecting", agentId }
      : c.status === "callback" && c.agentId !== agentId
        ? { agentId }
        : null,
  );
  if (claimed.after === claimed.before) return;
  const legId = await rest.dial({
    to: `client:${clientIdentity(agentId)}`,
    from: inbox.settings.phoneNumber ?? call.toAddress ?? "",
    url: ctx.at(inbox, call, "agent"),
    statusCallback: ctx.at(inbox, call, "status", `&leg=agent&agent=${agentId}`),
  });
  await changeCall(core, call.id, (c) => (c.agentLegId ? null : { agentLegId: legId }));
  // A caller on the line joins now (hearing music until the agent's leg starts the conference);
  // a callback waits for the agent to answer first.
  if (call.status === "queued") await rest.redirect(call.externalId, ctx.at(inbox, call, "connect"));
}

/** Click-to-call: the agent's softphone rings first, then the customer, from the inbox's number. */
export async function dialOut(
  ctx: CallContext,
  workspaceId: string,
  agent: { userId: string },
  input: { conversationId?: string; inboxId: string; number: string; name?: string },
) {
  const inbox = await ctx.inbox(input.inboxId);
  if (!inbox || inbox.row.workspaceId !== workspaceId) throw new Invalid("Unknown voice inbox", "inboxId");
  const rest = ctx.rest(inbox);
  const started = await startCall(ctx.deps.core, workspaceId, {
    provider: "twilio",
    inboxId: inbox.row.id,
    externalId: `out-${crypto.randomUUID()}`,
    direction: "out",
    customer: { kind: "phone", value: input.number, ...(input.name ? { displayName: input.name } : {}) },
    from: inbox.settings.phoneNumber ?? null,
    to: input.number,
    conversationId: input.conversationId,
    agentId: agent.userId,
    status: "callback",
    callbackNumber: input.number,
  });
  const call = started.call;
  const legId = await rest.dial({
    to: `client:${clientIdentity(agent.userId)}`,
    from: inbox.settings.phoneNumber ?? "",
    url: ctx.at(inbox, call, "agent"),
    statusCallback: ctx.at(inbox, call, "status", `&leg=agent&agent=${agent.userId}`),
  });
  return (await changeCall(ctx.deps.core, call.id, (c) => (c.agentLegId ? null : { agentLegId: legId }))).after;
}

export async function hold(ctx: CallContext, workspaceId: string, callId: string, onHold: boolean) {
  const { call, inbox } = await ctx.liveCall(workspaceId, callId);
  if (!call.conferenceSid || (call.status !== "connected" && call.status !== "on_hold"))
    throw new Conflict("The call is not connected", "callId");
  await ctx.rest(inbox).hold(call.conferenceSid, call.customerLegId ?? call.externalId, onHold);
  return (await changeCall(ctx.deps.core, call.id, { hold: onHold })).after;
}

export async function mute(ctx: CallContext, workspaceId: string, callId: string, muted: boolean) {
  const { call, inbox } = await ctx.liveCall(workspaceId, callId);
  if (!call.conferenceSid || !call.agentLegId) throw new Conflict("The call is not connected", "callId");
  await ctx.rest(inbox).mute(call.conferenceSid, call.agentLegId, muted);
  return call;
}

export async function hangup(ctx: CallContext, workspaceId: string, callId: string) {
  const { call, inbox } = await ctx.liveCall(workspaceId, callId);
  await ctx.rest(inbox).hangup(call.customerLegId ?? call.externalId);
  return call;
}

/** Twilio's status callback for one of the call's legs. */
export async function legStatus(
  ctx: CallContext,
  inbox: VoiceInbox,
  call: Call,
  leg: "customer" | "callee" | "agent" | "consult" | "monitor",
  p: StatusCallback,
  agentId?: string,
) {
  const { core } = ctx.deps;
  if (leg === "customer") return customerLegStatus(ctx, inbox, call, p);
  // A leg we dialled may report before the REST answer that named it was saved: the first report
  // for the expected party names it; reports for any other leg (one replaced since) are stale.
  if (leg === "callee") {
    const { after } = await changeCall(core, call.id, (c) => (c.customerLegId ? null : { customerLegId: p.CallSid }));
    if (after.customerLegId === p.CallSid) return customerLegStatus(ctx, inbox, after, p);
    return;
  }
  if (leg === "agent" && agentId && call.agentId === agentId) {
    const { after } = await changeCall(core, call.id, (c) =>
      c.agentLegId || c.agentId !== agentId ? null : { agentLegId: p.CallSid },
    );
    if (after.agentLegId === p.CallSid) return agentLegStatus(ctx, inbox, after, p);
    return;
  }
  if (leg === "consult" && call.consult?.agentId === agentId) return consultLegStatus(ctx, call, p);
  if (leg === "monitor" && LEG_ENDED.includes(p.CallStatus))
    await changeCall(core, call.id, (c) => ({ monitors: c.monitors.filter((m) => m.legId !== p.CallSid) }));
}

async function customerLegStatus(ctx: CallContext, inbox: VoiceInbox, call: Call, p: StatusCallback) {
  const { core } = ctx.deps;
  // A callback dials the customer anew: only that leg's callbacks count then.
  if (call.customerLegId && p.CallSid !== call.customerLegId) return;
  if (!call.customerLegId && p.CallSid !== call.externalId) return;
  if (p.CallStatus === "in-progress" && call.customerLegId && call.status === "connecting") {
    await changeCall(core, call.id, { status: "connected", answeredAt: new Date() });
    return;
  }
  const next = customerStatus(p.CallStatus, call.status);
  if (!next) return;
  const { before, after } = await withEvents(core, async (tx, events) => {
    const r = await changeCallWithin(tx, events, call.id, (c) =>
      isFinal(c.status) ? null : { status: customerStatus(p.CallStatus, c.status) ?? c.status },
    );
    if (r.after !== r.before && r.after.status === "abandoned")
      await appendSystemEvent(tx, events, call.conversationId, "call_abandoned", {
        callId: call.id,
        waitS: waitSeconds(r.after),
      });
    return r;
  });
  if (after === before) return;
  if (after.status === "abandoned") {
    await abandonCallWork(core, call.conversationId);
    return;
  }
  if (before.status === "connected" || before.status === "on_hold" || before.status === "connecting") {
    await finishCallWork(core, call.conversationId);
    // The customer hung up: the agent's softphone leg ends too.
    for (const leg of [before.agentLegId, before.consult?.legId, ...before.monitors.map((m) => m.legId)])
      if (leg) await ctx.quietly(() => ctx.rest(inbox).hangup(leg));
  }
}

async function agentLegStatus(ctx: CallContext, inbox: VoiceInbox, call: Call, p: StatusCallback) {
  const { core } = ctx.deps;
  if (p.CallStatus === "in-progress") {
    if (call.status === "callback") {
      // Callback: the agent is on the line; now call the customer into the same conference. Claimed
      // first, so a repeated report never dials the customer twice.
      const claim = await changeCall(core, call.id, (c) => (c.status === "callback" ? { status: "connecting" } : null));
      if (claim.after === claim.before) return;
      const legId = await ctx.rest(inbox).dial({
        to: call.callbackNumber!,
        from: inbox.settings.phoneNumber ?? call.toAddress ?? "",
        url: ctx.at(inbox, call, "connect"),
        statusCallback: ctx.at(inbox, call, "status", "&leg=callee"),
        timeoutS: 30,
      });
      await changeCall(core, call.id, (c) => (c.customerLegId ? null : { customerLegId: legId }));
      return;
    }
    // For a callback, "connected" waits for the customer to answer (their leg reports it).
    if (call.status === "connecting" && !call.callbackNumber)
      await changeCall(core, call.id, (c) =>
        c.status === "connecting" ? { status: "connected", answeredAt: new Date() } : null,
      );
    return;
  }
  if (!LEG_ENDED.includes(p.CallStatus)) return;
  if (call.status === "connected" || call.status === "on_hold") {
    // The agent hung up: the call is over for the customer too (a transfer clears the leg first),
    // unless the queue asks for a rating: then the caller hears the post-call question (csat step).
    const customerLeg = call.customerLegId ?? call.externalId;
    if (await asksForRating(ctx, call))
      await ctx.quietly(() => ctx.rest(inbox).redirect(customerLeg, ctx.at(inbox, call, "csat")));
    else await ctx.quietly(() => ctx.rest(inbox).hangup(customerLeg));
    return;
  }
  if (call.status === "connecting" || call.status === "callback") {
    // The agent's softphone did not answer: the caller goes back to the front of the queue.
    await withEvents(core, async (tx, events) => {
      await changeCallWithin(tx, events, call.id, {
        status: call.callbackNumber ? "callback" : "queued",
        agentId: null,
        agentLegId: null,
      });
      await appendSystemEvent(tx, events, call.conversationId, "agent_leg_failed", {
        callId: call.id,
        agentId: call.agentId,
        status: p.CallStatus,
      });
    });
    await followAssignment(core, call.conversationId, null);
    await ctx.reassign(call.conversationId, null);
    if (!call.callbackNumber)
      await ctx.quietly(() => ctx.rest(inbox).redirect(call.externalId, ctx.at(inbox, call, "wait")));
    ctx.deps.router.schedule(call.workspaceId);
  }
}

async function consultLegStatus(ctx: CallContext, call: Call, p: StatusCallback) {
  if (p.CallStatus === "in-progress") return;
  if (LEG_ENDED.includes(p.CallStatus))
    await withEvents(ctx.deps.core, async (tx, events) => {
      await changeCallWithin(tx, events, call.id, { consult: null });
      await appendSystemEvent(tx, events, call.conversationId, "consult_ended", {
        callId: call.id,
        agentId: call.consult?.agentId ?? null,
      });
    });
}

/** The call's queue ends its calls with the satisfaction question (queues.csat_ivr). */
async function asksForRating(ctx: CallContext, call: Call) {
  if (!call.queueId) return false;
  const [queue] = await ctx.deps.core.db
    .select({ csatIvr: queues.csatIvr })
    .from(queues)
    .where(eq(queues.id, call.queueId));
  return queue?.csatIvr === true;
}

function waitSeconds(call: Call) {
  return call.enqueuedAt && call.endedAt ? Math.round((call.endedAt.getTime() - call.enqueuedAt.getTime()) / 1000) : 0;
}
