import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "../db/connect.ts";
import { calls, type Call } from "../db/schema/index.ts";
import { Conflict, Forbidden, Invalid, NotFound } from "../platform/errors.ts";
import type { Actor } from "../conversations/actor.ts";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { changeCallWithin, isFinal } from "./call.ts";
import type { CallSignal } from "./browser-call-signal.ts";

/**
 * Supervisors on browser calls. A supervisor listens, whispers or barges from the wallboard over a
 * second peer connection, with the agent's browser: the agent's tab sends the supervisor what it
 * hears and says (the visitor's audio mixed with its microphone), plays what the supervisor says
 * (whisper), and for a barge also mixes the supervisor into what it sends the visitor. The visitor's
 * browser is never involved, so a whisper cannot reach them. The supervisor's browser makes that
 * connection's offer.
 */
export const MonitorMode = z.enum(["listen", "whisper", "barge"]);
export type MonitorMode = z.infer<typeof MonitorMode>;

/** Where the monitors of a call are kept (`calls.monitors`): a browser link has no Twilio leg. */
const BROWSER_LEG = "webrtc";

/** Tells the agent on the call about a supervisor joining, changing mode, or leaving (`mode: null`). */
function tellAgent(core: Core, call: Call, supervisor: { userId: string; name: string }, mode: MonitorMode | null) {
  if (!call.agentId) return;
  core.bus.publish([
    {
      workspaceId: call.workspaceId,
      seq: 0,
      type: "call.monitor",
      conversationId: call.conversationId,
      public: false,
      ephemeral: true,
      payload: {
        callId: call.id,
        supervisorId: supervisor.userId,
        supervisorName: supervisor.name,
        mode,
        onlyFor: { userId: call.agentId },
      },
    },
  ]);
}

async function monitoredCall(db: Executor, workspaceId: string, callId: string) {
  const [call] = await db
    .select()
    .from(calls)
    .where(and(eq(calls.workspaceId, workspaceId), eq(calls.id, callId), eq(calls.provider, "webrtc")));
  if (!call) throw new NotFound("Call", "callId");
  return call;
}

/** A supervisor starts listening, whispering or barging on a talking browser call, or changes mode. */
export async function monitorBrowserCall(core: Core, supervisor: Actor, callId: string, mode: MonitorMode) {
  const found = await monitoredCall(core.db, supervisor.workspaceId, callId);
  const { after, joined } = await withEvents(core, async (tx, events) => {
    let joined = false;
    const { after } = await changeCallWithin(tx, events, found.id, (c) => {
      if (c.status !== "connected" && c.status !== "on_hold") throw new Conflict("The call is not connected", "callId");
      if (c.agentId === supervisor.userId) throw new Conflict("This is your own call", "callId");
      joined = !c.monitors.some((m) => m.userId === supervisor.userId);
      const others = c.monitors.filter((m) => m.userId !== supervisor.userId);
      return { monitors: [...others, { userId: supervisor.userId, legId: BROWSER_LEG, mode }] };
    });
    if (joined)
      await appendSystemEvent(tx, events, after.conversationId, "call_monitored", {
        callId: after.id,
        supervisorId: supervisor.userId,
        mode,
      });
    return { after, joined };
  });
  tellAgent(core, after, { userId: supervisor.userId, name: supervisor.name }, mode);
  return { call: after, joined };
}

/** The supervisor leaves a browser call they were monitoring. */
export async function stopMonitoringBrowserCall(core: Core, supervisor: Actor, callId: string) {
  const found = await monitoredCall(core.db, supervisor.workspaceId, callId);
  const { before, after } = await withEvents(core, (tx, events) =>
    changeCallWithin(tx, events, found.id, (c) =>
      c.monitors.some((m) => m.userId === supervisor.userId)
        ? { monitors: c.monitors.filter((m) => m.userId !== supervisor.userId) }
        : null,
    ),
  );
  if (after !== before) tellAgent(core, after, { userId: supervisor.userId, name: supervisor.name }, null);
  return after;
}

/**
 * Relays the monitoring connection's signalling: a supervisor monitoring the call to its agent, and
 * the agent on the call to a supervisor who monitors it (`supervisorId`). Nobody else has a part.
 */
export async function relayMonitorSignal(
  core: Core,
  actor: Actor,
  callId: string,
  signal: CallSignal,
  supervisorId?: string,
) {
  const call = await monitoredCall(core.db, actor.workspaceId, callId);
  if (isFinal(call.status) || !call.agentId) throw new Conflict("The call is not in progress", "callId");
  const isAgent = call.agentId === actor.userId;
  const supervisor = isAgent ? supervisorId : actor.userId;
  if (!supervisor || !call.monitors.some((m) => m.userId === supervisor))
    throw new Forbidden("Only the agent on the call and a supervisor monitoring it take part");
  if (signal.kind === "offer" && isAgent) throw new Invalid("The supervisor's browser makes the offer", "kind");
  if (signal.kind === "answer" && !isAgent) throw new Invalid("The agent's browser answers", "kind");
  core.bus.publish([
    {
      workspaceId: call.workspaceId,
      seq: 0,
      type: "call.monitor.signal",
      conversationId: call.conversationId,
      public: false,
      ephemeral: true,
      payload: {
        callId: call.id,
        supervisorId: supervisor,
        signal,
        onlyFor: { userId: isAgent ? supervisor : call.agentId },
      },
    },
  ]);
}
