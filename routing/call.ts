import { and, eq, inArray } from "drizzle-orm";
import { appendSystemEvent } from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Tx } from "../db/connect.ts";
import { conversations, queues, workItems, type Conversation, type SkillRequirement } from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { queuePositionOf } from "./estimate.ts";
import { priorityFor } from "./entry.ts";
import { startWrapUp, WRAP_UP_SECONDS } from "./presence.ts";
import { DEFAULT_ROUTING, freeIfIdle } from "./work.ts";

/**
 * Calls join the same queues as chats, but the IVR (not the entry rules) picks the queue, and a call
 * may arrive while its conversation already has live chat work: the call takes over that work item
 * (the conversation has one live item), so whoever answers the call has the chat too.
 */
export type CallTarget = { queueId: string; priority?: number; skills?: SkillRequirement[]; attributes?: Record<string, unknown> };

const LIVE = ["waiting", "reserved", "assigned"] as const;

export async function enqueueCall(core: Core, conversationId: string, target: CallTarget, now = new Date(), settings = DEFAULT_ROUTING) {
  return (await withEvents(core, (tx, events) => enqueueCallWithin(tx, events, conversationId, target, now, settings))).item;
}

/** The same inside a caller's transaction (the IVR's turn commits with it); returns the item and the estimate given. */
export async function enqueueCallWithin(tx: Tx, events: EventLog, conversationId: string, target: CallTarget, now = new Date(), settings = DEFAULT_ROUTING) {
  const [c] = await tx.select().from(conversations).where(eq(conversations.id, conversationId)).for("update");
  if (!c) throw new NotFound("Conversation");
  const { item, eta, queued } = await placeCallWithin(tx, c, target, now, settings);
  await appendSystemEvent(tx, events, conversationId, "queued", queued);
  return { item, eta };
}

/**
 * The queue entry of a call whose conversation the caller has locked, without its timeline event:
 * the `queued` event's data comes back for the caller to append with its own events.
 */
export async function placeCallWithin(tx: Tx, c: Conversation, target: CallTarget, now = new Date(), settings = DEFAULT_ROUTING) {
  const conversationId = c.id;
  // Independent reads, issued together so the Postgres driver pipelines them.
  const [[queue], [live]] = await Promise.all([
    tx.select().from(queues).where(and(eq(queues.workspaceId, c.workspaceId), eq(queues.id, target.queueId))),
    tx.select().from(workItems).where(and(eq(workItems.conversationId, conversationId), inArray(workItems.state, [...LIVE]))).for("update"),
  ]);
  if (!queue) throw new NotFound("Queue", "queueId");
  // Skills the IVR set add to the queue's own; for a skill named twice the higher level counts.
  const skills = new Map(queue.requiredSkills.map((s) => [s.skill, s.minLevel]));
  for (const s of target.skills ?? []) skills.set(s.skill, Math.max(skills.get(s.skill) ?? 0, s.minLevel));
  const requiredSkills = [...skills].map(([skill, minLevel]) => ({ skill, minLevel }));
  const priority = Math.max(target.priority ?? 0, priorityFor(queue.priorityRules, target.attributes ?? {}));
  let item;
  const fields = { queueId: queue.id, channel: "voice", priority, requiredSkills, state: "waiting" as const, agentId: null, reservationExpiresAt: null, enqueuedAt: now, overflowStep: 0 };
  if (live && live.state !== "assigned") {
    [item] = await tx.update(workItems).set(fields).where(eq(workItems.id, live.id)).returning();
  } else {
    if (live) await tx.update(workItems).set({ state: "done", endedAt: now }).where(eq(workItems.id, live.id));
    [item] = await tx
      .insert(workItems)
      .values({
        workspaceId: c.workspaceId,
        conversationId,
        ...fields,
        // The agent already chatting with this customer gets the first chance at their call.
        stickyAgentId: live?.agentId ?? null,
        stickyUntil: live?.agentId ? new Date(now.getTime() + settings.stickyMs) : null,
      })
      .returning();
  }
  const [eta] = await Promise.all([
    queuePositionOf(tx, item!),
    tx.update(conversations).set({ queueId: queue.id, priority }).where(eq(conversations.id, conversationId)),
  ]);
  if (eta.estimatedWaitS != null) await tx.update(workItems).set({ estimatedWaitSeconds: eta.estimatedWaitS }).where(eq(workItems.id, item!.id));
  const queued = {
    queueId: queue.id,
    queueName: queue.name,
    priority,
    channel: "voice",
    position: eta.position,
    estimatedWaitS: eta.estimatedWaitS,
  };
  return { item: item!, eta, queued };
}

/** The caller hung up before anyone answered: the call's work is abandoned, with how long they waited. */
export async function abandonCallWork(core: Core, conversationId: string, now = new Date()) {
  const [w] = await core.db
    .update(workItems)
    .set({ state: "abandoned", endedAt: now, agentId: null, reservationExpiresAt: null })
    .where(and(eq(workItems.conversationId, conversationId), eq(workItems.channel, "voice"), inArray(workItems.state, ["waiting", "reserved"])))
    .returning();
  return w;
}

/**
 * The call with an agent ended: its work is done and the agent wraps up (the queue's wrap-up time,
 * else the voice default) before the next offer. The conversation stays open for notes and chat.
 */
export async function finishCallWork(core: Core, conversationId: string, now = new Date()) {
  const [w] = await core.db
    .update(workItems)
    .set({ state: "done", endedAt: now, reservationExpiresAt: null })
    .where(and(eq(workItems.conversationId, conversationId), eq(workItems.channel, "voice"), eq(workItems.state, "assigned")))
    .returning();
  if (!w?.agentId) return w;
  const [queue] = await core.db.select({ wrapUpSeconds: queues.wrapUpSeconds }).from(queues).where(eq(queues.id, w.queueId));
  const wrapUp = queue?.wrapUpSeconds ?? WRAP_UP_SECONDS.voice;
  if (wrapUp > 0) await startWrapUp(core, w.workspaceId, w.agentId, wrapUp, now);
  else await freeIfIdle(core, w.workspaceId, w.agentId);
  return w;
}
