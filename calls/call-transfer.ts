import { and, eq } from "drizzle-orm";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { withEvents } from "../conversations/transaction.ts";
import { queues } from "../db/schema/index.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import { listTeams, transferTarget } from "../routing/agent.ts";
import { presenceOf } from "../routing/presence.ts";
import { listQueues } from "../routing/queue.ts";
import { transferToAgent } from "../routing/transfer.ts";
import { DEFAULT_ROUTING, followAssignment } from "../routing/work.ts";
import { callById, changeCallWithin } from "./call.ts";
import { clientIdentity, type CallContext } from "./call-context.ts";
import { enqueueCall, finishCallWork } from "./call-queue.ts";

/** A transferred call is not offered back to the agent who just let it go. */
const NOT_STICKY = { ...DEFAULT_ROUTING, stickyMs: 0 };

/**
 * Transfers a connected call. Cold: the agent's leg ends and the caller waits for the target (an
 * offer to an agent or team member, or the queue). Warm: the target is dialled into the same
 * conference while the agent stays, and takes over when the agent leaves.
 */
export async function transfer(
  ctx: CallContext,
  workspaceId: string,
  callId: string,
  by: { userId: string; name: string },
  target: { agentId?: string; queueId?: string; teamId?: string },
  warm: boolean,
  note?: string,
) {
  const { core } = ctx.deps;
  const { call, inbox } = await ctx.liveCall(workspaceId, callId);
  if (call.status !== "connected" && call.status !== "on_hold")
    throw new Conflict("The call is not connected", "callId");
  const rest = ctx.rest(inbox);
  let agentId = target.agentId;
  if (target.teamId) agentId = await freeTeamMember(ctx, workspaceId, target.teamId);
  // Everything the transfer names is checked before any leg moves: a bad target must never leave
  // the caller on hold with neither an agent nor a queue (404/409 naming the field instead).
  if (agentId) await transferTarget(core.db, workspaceId, agentId, true);
  if (warm) {
    if (!agentId) throw new Invalid("A warm transfer goes to an agent or a team", "agentId");
    const legId = await rest.dial({
      to: `client:${clientIdentity(agentId)}`,
      from: inbox.settings.phoneNumber ?? call.toAddress ?? "",
      url: ctx.at(inbox, call, "agent"),
      statusCallback: ctx.at(inbox, call, "status", `&leg=consult&agent=${agentId}`),
    });
    return withEvents(core, async (tx, events) => {
      const { after } = await changeCallWithin(tx, events, call.id, { consult: { agentId: agentId!, legId } });
      await appendSystemEvent(tx, events, call.conversationId, "transferred", {
        callId: call.id,
        agentId,
        warm: true,
        note: note ?? null,
        by: by.name,
      });
      return after;
    });
  }
  if (!agentId && !target.queueId) throw new Invalid("Transfer to an agent, a team or a queue", "agentId");
  const queueId = agentId
    ? (call.queueId ?? target.queueId ?? (await anyVoiceQueue(ctx, workspaceId)))
    : target.queueId!;
  await voiceQueue(ctx, workspaceId, queueId);
  // Cold: the caller goes back to waiting music before the agent's leg is dropped, so hanging up
  // that leg cannot end the call.
  await withEvents(core, (tx, events) =>
    changeCallWithin(tx, events, call.id, { status: "queued", agentId: null, agentLegId: null, hold: false }),
  );
  await rest.redirect(call.customerLegId ?? call.externalId, ctx.at(inbox, call, "wait"));
  if (call.agentLegId) await ctx.quietly(() => rest.hangup(call.agentLegId!));
  await finishCallWork(core, call.conversationId);
  const actor = { workspaceId, userId: by.userId, name: by.name, role: "supervisor" as const };
  await ctx.reassign(call.conversationId, null);
  await enqueueCall(core, call.conversationId, { queueId }, new Date(), NOT_STICKY);
  if (agentId) await transferToAgent(core, actor as never, call.conversationId, agentId, note);
  else
    await withEvents(core, (tx, events) =>
      appendSystemEvent(tx, events, call.conversationId, "transferred", {
        callId: call.id,
        queueId,
        note: note ?? null,
        by: by.name,
      }),
    );
  ctx.deps.router.schedule(workspaceId);
  return callById(core.db, workspaceId, call.id);
}

/** The warm transfer's second agent takes over: the first agent's leg is dropped. */
export async function completeWarmTransfer(ctx: CallContext, workspaceId: string, callId: string) {
  const { core } = ctx.deps;
  const { call, inbox } = await ctx.liveCall(workspaceId, callId);
  if (!call.consult) throw new Conflict("No warm transfer is in progress", "callId");
  const previous = call.agentLegId;
  const consult = call.consult;
  await withEvents(core, async (tx, events) => {
    await changeCallWithin(tx, events, call.id, {
      agentId: consult.agentId,
      agentLegId: consult.legId,
      consult: null,
    });
  });
  await followAssignment(core, call.conversationId, consult.agentId);
  await ctx.reassign(call.conversationId, consult.agentId);
  if (previous) await ctx.quietly(() => ctx.rest(inbox).hangup(previous));
  return callById(core.db, workspaceId, call.id);
}

/** The team's available member who has been idle longest. */
async function freeTeamMember(ctx: CallContext, workspaceId: string, teamId: string): Promise<string> {
  const db = ctx.deps.core.db;
  const [team] = await listTeams(db, workspaceId, teamId);
  if (!team) throw new Invalid("Unknown team", "teamId");
  const states = await presenceOf(
    db,
    workspaceId,
    team.members.map((m) => m.id),
  );
  const free = team.members
    .map((m) => states.get(m.id)!)
    .filter((s) => s.presence === "available")
    .sort((a, b) => a.idleSince.getTime() - b.idleSince.getTime());
  if (!free[0]) throw new Conflict("Nobody in this team is available", "teamId");
  return free[0].userId;
}

/** A queue of the workspace that takes calls, or 404 naming `queueId`. */
async function voiceQueue(ctx: CallContext, workspaceId: string, queueId: string) {
  const [q] = await ctx.deps.core.db
    .select()
    .from(queues)
    .where(and(eq(queues.workspaceId, workspaceId), eq(queues.id, queueId)));
  if (!q || (q.channels.length && !q.channels.includes("voice"))) throw new NotFound("Queue", "queueId");
  return q;
}

async function anyVoiceQueue(ctx: CallContext, workspaceId: string): Promise<string> {
  const all = await listQueues(ctx.deps.core.db, workspaceId);
  const q = all.find((x) => !x.channels.length || x.channels.includes("voice"));
  if (!q) throw new Invalid("No queue takes calls", "queueId");
  return q.id;
}
