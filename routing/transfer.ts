import { and, eq, inArray } from "drizzle-orm";
import type { Actor } from "../conversations/actor.ts";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { assignWithin, transferToTeamWithin } from "../conversations/assignment.ts";
import { requireConversation, scopeOf } from "../conversations/conversation.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Tx } from "../db/connect.ts";
import { conversations, queues, workItems } from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { channelClass } from "./acd.ts";
import { transferTarget } from "./agent.ts";
import { priorityFor } from "./entry.ts";
import { offerView } from "./offer.ts";
import { DEFAULT_ROUTING, freeIfIdle, LIVE } from "./work.ts";

/** Ends the conversation's live work item, if any, and returns it (a transfer starts a new one). */
async function endLiveWork(tx: Tx, conversationId: string, now: Date) {
  const [w] = await tx
    .update(workItems)
    .set({ state: "done", endedAt: now, reservationExpiresAt: null })
    .where(and(eq(workItems.conversationId, conversationId), inArray(workItems.state, [...LIVE])))
    .returning();
  return w;
}

/**
 * Sends a conversation back to a queue (the same or another) with a note: it leaves its agent and
 * waits to be routed again by that queue's rules.
 */
export async function transferToQueue(
  core: Core,
  actor: Actor,
  conversationId: string,
  queueId: string,
  note?: string,
  now = new Date(),
) {
  await requireConversation(core.db, actor, conversationId);
  return withEvents(core, async (tx, events) => {
    const [queue] = await tx
      .select()
      .from(queues)
      .where(and(eq(queues.workspaceId, actor.workspaceId), eq(queues.id, queueId)));
    if (!queue) throw new NotFound("Queue", "queueId");
    await tx
      .select({ id: conversations.id })
      .from(conversations)
      .where(eq(conversations.id, conversationId))
      .for("update");
    const previous = await endLiveWork(tx, conversationId, now);
    await assignWithin(tx, events, actor, conversationId, null);
    const [c] = await tx
      .update(conversations)
      .set({ queueId: queue.id })
      .where(eq(conversations.id, conversationId))
      .returning();
    const [item] = await tx
      .insert(workItems)
      .values({
        workspaceId: actor.workspaceId,
        conversationId,
        queueId: queue.id,
        channel: c!.channel,
        priority: previous?.priority ?? priorityFor(queue.priorityRules, {}),
        requiredSkills: queue.requiredSkills,
        enqueuedAt: now,
      })
      .returning();
    await appendSystemEvent(tx, events, conversationId, "transferred", {
      queueId: queue.id,
      queueName: queue.name,
      note: note ?? null,
      by: actor.name,
    });
    return offerView(item!);
  });
}

/**
 * Hands a conversation to a team: it leaves its queue and its agent in one transaction (the work
 * item ends, so the agent's capacity is free again), and waits for the team's members to take it.
 */
export async function transferToTeam(
  core: Core,
  actor: Actor,
  conversationId: string,
  teamId: string,
  note?: string,
  now = new Date(),
) {
  await requireConversation(core.db, actor, conversationId);
  const { conversation, previous } = await withEvents(core, async (tx, events) => {
    await tx
      .select({ id: conversations.id })
      .from(conversations)
      .where(eq(conversations.id, conversationId))
      .for("update");
    const previous = await endLiveWork(tx, conversationId, now);
    return { conversation: await transferToTeamWithin(tx, events, actor, conversationId, teamId, note), previous };
  });
  if (previous?.agentId) await freeIfIdle(core, actor.workspaceId, previous.agentId);
  return conversation;
}

/**
 * Hands a queued conversation to one agent: they get an offer (a reservation) to accept like any
 * other; if they let it pass, the work goes back to its queue. Conversations outside the queues are
 * simply assigned.
 */
export async function transferToAgent(
  core: Core,
  actor: Actor,
  conversationId: string,
  agentId: string,
  note?: string,
  now = new Date(),
) {
  await requireConversation(core.db, actor, conversationId);
  return withEvents(core, async (tx, events) => {
    await tx
      .select({ id: conversations.id })
      .from(conversations)
      .where(eq(conversations.id, conversationId))
      .for("update");
    const [live] = await tx
      .select()
      .from(workItems)
      .where(and(eq(workItems.conversationId, conversationId), inArray(workItems.state, [...LIVE])))
      .for("update");
    // Queued work becomes an offer, which only a signed-in agent can answer; the rest is assigned.
    await transferTarget(tx, actor.workspaceId, agentId, !!live);
    await appendSystemEvent(tx, events, conversationId, "transferred", { agentId, note: note ?? null, by: actor.name });
    if (!live) {
      await assignWithin(tx, events, actor, conversationId, agentId);
      return undefined;
    }
    await assignWithin(tx, events, actor, conversationId, null);
    const [queue] = await tx
      .select({ offerTimeoutSeconds: queues.offerTimeoutSeconds })
      .from(queues)
      .where(eq(queues.id, live.queueId));
    const timeoutMs =
      (queue?.offerTimeoutSeconds ?? 0) * 1000 || DEFAULT_ROUTING.offerTimeoutMs[channelClass(live.channel)];
    const [offered] = await tx
      .update(workItems)
      .set({ state: "reserved", agentId, answeredAt: null, reservationExpiresAt: new Date(now.getTime() + timeoutMs) })
      .where(eq(workItems.id, live.id))
      .returning();
    const [c] = await tx.select().from(conversations).where(eq(conversations.id, conversationId));
    await events.append(actor.workspaceId, {
      type: "offer.created",
      conversationId,
      payload: { offer: offerView(offered!), scope: { ...scopeOf(c!), assigneeId: agentId } },
    });
    return offerView(offered!);
  });
}
