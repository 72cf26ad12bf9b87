import { and, asc, count, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { assignWithin } from "../conversations/assignment.ts";
import { sendSystemMessage } from "../conversations/reply.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Tx } from "../db/connect.ts";
import {
  agentStates,
  contacts,
  conversations,
  entryRules,
  inboxes,
  knowledgeBotSessions,
  queues,
  timelineItems,
  users,
  workItems,
} from "../db/schema/index.ts";
import { channelClass, type ChannelClass } from "./acd.ts";
import { chooseQueue, priorityFor } from "./entry.ts";
import { queuePosition } from "./estimate.ts";
import { dueSteps } from "./overflow.ts";
import { OFFER_TIMEOUT_MS } from "./reservation.ts";
import { setPresence, startWrapUp, WRAP_UP_SECONDS } from "./presence.ts";

/**
 * How long the last agent of a contact is preferred, which channels skip the offer, and how long an
 * offer waits (reservation.ts has the defaults per channel).
 */
export type RoutingSettings = {
  stickyMs: number;
  autoAccept: ChannelClass[];
  offerTimeoutMs: Record<ChannelClass, number>;
};
export const DEFAULT_ROUTING: RoutingSettings = {
  stickyMs: 30_000,
  autoAccept: [],
  offerTimeoutMs: { ...OFFER_TIMEOUT_MS },
};

/** The states of a work item still in routing: one such item per conversation at most. */
export const LIVE = ["waiting", "reserved", "assigned"] as const;

/** The inbox has the knowledge bot on and the bot has not handed this conversation over. */
async function heldByBot(tx: Tx, c: { id: string; inboxId: string }) {
  const [row] = await tx
    .select({ settings: inboxes.settings, state: knowledgeBotSessions.state })
    .from(inboxes)
    .leftJoin(knowledgeBotSessions, eq(knowledgeBotSessions.conversationId, c.id))
    .where(eq(inboxes.id, c.inboxId));
  return row?.settings.knowledgeBot === true && row.state !== "handed_over";
}

/**
 * The assignee of a reopened conversation still takes it while they can: enabled and signed in
 * (available, busy, in wrap-up or briefly away). A disabled or signed-out assignee does not, and the
 * conversation is routed again, that agent preferred (sticky) if they come back in time.
 */
async function assigneeAtWork(tx: Tx, userId: string) {
  const [row] = await tx
    .select({ disabledAt: users.disabledAt, presence: agentStates.presence })
    .from(users)
    .leftJoin(agentStates, eq(agentStates.userId, users.id))
    .where(eq(users.id, userId));
  return !!row && !row.disabledAt && !!row.presence && row.presence !== "offline";
}

/**
 * Puts an open, unassigned conversation into the queue its entry rules choose (nothing happens when
 * no rule matches: the conversation stays for agents to pick by hand). `reopened` (a customer wrote
 * again, a snooze ended, the reconciliation found it): an assignee who is no longer at work does not
 * keep it. Idempotent: the live work item is unique per conversation, so every node may call this
 * for the same event. `arrival.text`: what the entry rules read instead of the customer's last message
 * (the knowledge bot's handover: the question asked, not the "agent, please" that ended the bot's turn).
 */
export async function enqueueConversation(
  core: Core,
  conversationId: string,
  settings = DEFAULT_ROUTING,
  now = new Date(),
  reopened = false,
  arrival: { text?: string } = {},
) {
  return withEvents(core, async (tx, events) => {
    // Locked, so a transfer of the same conversation and this enqueue happen one after the other.
    const [c] = await tx.select().from(conversations).where(eq(conversations.id, conversationId)).for("update");
    if (!c || c.status !== "open") return undefined;
    if (c.assigneeId && (!reopened || (await assigneeAtWork(tx, c.assigneeId)))) return undefined;
    // A workspace without entry rules does not route: nothing more to read.
    const rules = await tx
      .select()
      .from(entryRules)
      .where(eq(entryRules.workspaceId, c.workspaceId))
      .orderBy(asc(entryRules.position));
    if (!rules.length) return undefined;
    // The knowledge bot answers first where it is on: no agent is offered the chat until it hands over.
    if (await heldByBot(tx, c)) return undefined;
    const [[contact], [last], served] = await Promise.all([
      tx.select({ attributes: contacts.attributes }).from(contacts).where(eq(contacts.id, c.contactId)),
      tx
        .select({ text: timelineItems.text, data: timelineItems.data })
        .from(timelineItems)
        .where(and(eq(timelineItems.conversationId, c.id), eq(timelineItems.direction, "in")))
        .orderBy(desc(timelineItems.seq))
        .limit(1),
      tx.select().from(queues).where(eq(queues.workspaceId, c.workspaceId)),
    ]);
    const attributes = contact?.attributes ?? {};
    // A rule counts only if its queue serves this channel (a queue with no channels serves all).
    const serving = new Map(
      served.filter((q) => !q.channels.length || q.channels.includes(c.channel)).map((q) => [q.id, q]),
    );
    const rule = chooseQueue(
      rules.filter((r) => serving.has(r.queueId)),
      {
        inboxId: c.inboxId,
        channel: c.channel,
        text: arrival.text ?? last?.text ?? null,
        attributes,
        // The contact's own language, else what the channel said of the customer's app (Telegram's
        // language_code, "zh-hans"), so language rules work for a customer nobody has described yet.
        language:
          typeof attributes.language === "string"
            ? attributes.language
            : typeof last?.data.languageCode === "string"
              ? last.data.languageCode.toLowerCase()
              : null,
      },
    );
    if (!rule) return undefined;
    const queue = serving.get(rule.queueId)!;
    // The agent who last served this contact gets the first chance while the sticky window is open.
    const [previous] = await tx
      .select({ agentId: workItems.agentId })
      .from(workItems)
      .innerJoin(conversations, eq(conversations.id, workItems.conversationId))
      .where(and(eq(conversations.contactId, c.contactId), eq(workItems.state, "done")))
      .orderBy(desc(workItems.endedAt))
      .limit(1);
    // The absent assignee of a reopened conversation gets the first chance, if still enabled.
    const [absent] = c.assigneeId
      ? await tx
          .select({ id: users.id })
          .from(users)
          .where(and(eq(users.id, c.assigneeId), isNull(users.disabledAt)))
      : [];
    const sticky = absent?.id ?? previous?.agentId ?? null;
    const [item] = await tx
      .insert(workItems)
      .values({
        workspaceId: c.workspaceId,
        conversationId: c.id,
        queueId: queue.id,
        channel: c.channel,
        priority: priorityFor(queue.priorityRules, attributes),
        requiredSkills: queue.requiredSkills,
        stickyAgentId: sticky,
        stickyUntil: sticky ? new Date(now.getTime() + settings.stickyMs) : null,
        enqueuedAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (!item) return undefined;
    // The estimate given now is kept beside the wait that follows, so accuracy can be reported.
    const eta = await queuePosition(tx, c.id);
    if (eta?.estimatedWaitS != null)
      await tx.update(workItems).set({ estimatedWaitSeconds: eta.estimatedWaitS }).where(eq(workItems.id, item.id));
    await tx
      .update(conversations)
      .set({ queueId: queue.id, priority: item.priority })
      .where(eq(conversations.id, c.id));
    // After the work item: the unassignment's event takes the counter, the last lock of all.
    if (c.assigneeId) await assignWithin(tx, events, "system", c.id, null);
    await appendSystemEvent(tx, events, c.id, "queued", {
      queueId: queue.id,
      queueName: queue.name,
      priority: item.priority,
      position: eta?.position ?? null,
      estimatedWaitS: eta?.estimatedWaitS ?? null,
    });
    return item;
  });
}

/** Work that ended (the conversation was resolved) frees the agent's capacity. */
export async function finishWork(core: Core, conversationId: string, now = new Date()) {
  // Closed before anyone answered (the customer gave up, or it was settled another way): abandoned.
  const [w] = await core.db
    .update(workItems)
    .set({
      state: sql`CASE WHEN ${workItems.answeredAt} IS NULL THEN 'abandoned' ELSE 'done' END::work_item_state`,
      endedAt: now,
      reservationExpiresAt: null,
      agentId: sql`CASE WHEN ${workItems.answeredAt} IS NULL THEN NULL ELSE ${workItems.agentId} END`,
    })
    .where(and(eq(workItems.conversationId, conversationId), inArray(workItems.state, [...LIVE])))
    .returning();
  return w;
}

/**
 * Ends a resolved conversation's work and releases its agent: wrap-up for the queue's (or channel's)
 * time, else available again if nothing else is in hand. Returns the work item it ended, if any.
 */
export async function releaseFinishedWork(core: Core, conversationId: string, now = new Date()) {
  const w = await finishWork(core, conversationId, now);
  if (!w?.agentId || !w.answeredAt) return w;
  const [queue] = await core.db
    .select({ wrapUpSeconds: queues.wrapUpSeconds })
    .from(queues)
    .where(eq(queues.id, w.queueId));
  const wrapUp = queue?.wrapUpSeconds ?? WRAP_UP_SECONDS[channelClass(w.channel)];
  if (wrapUp > 0) await startWrapUp(core, w.workspaceId, w.agentId, wrapUp, now);
  else await freeIfIdle(core, w.workspaceId, w.agentId);
  return w;
}

/**
 * A conversation assigned by hand (a supervisor moving it, an agent taking it from the list): its
 * queued work follows, so capacity and the wallboard count it against the agent who now has it.
 * Unassigned, it goes back to waiting in its queue. Returns the agent who had it, to be freed.
 */
export async function followAssignment(
  core: Core,
  conversationId: string,
  assigneeId: string | null,
  now = new Date(),
) {
  return core.db.transaction(async (tx) => {
    const [live] = await tx
      .select()
      .from(workItems)
      .where(and(eq(workItems.conversationId, conversationId), inArray(workItems.state, [...LIVE])))
      .for("update");
    if (!live || live.agentId === assigneeId) return null;
    await tx
      .update(workItems)
      .set(
        assigneeId
          ? { state: "assigned", agentId: assigneeId, answeredAt: live.answeredAt ?? now, reservationExpiresAt: null }
          : { state: "waiting", agentId: null, reservationExpiresAt: null },
      )
      .where(eq(workItems.id, live.id));
    return { workspaceId: live.workspaceId, previousAgentId: live.agentId };
  });
}

/** A busy agent whose last piece of work ended is available again. */
export async function freeIfIdle(core: Core, workspaceId: string, agentId: string) {
  const [held] = await core.db
    .select({ n: count() })
    .from(workItems)
    .where(and(eq(workItems.agentId, agentId), inArray(workItems.state, ["reserved", "assigned"])));
  const [state] = await core.db
    .select({ presence: agentStates.presence })
    .from(agentStates)
    .where(eq(agentStates.userId, agentId));
  if (Number(held?.n ?? 0) === 0 && state?.presence === "busy")
    await setPresence(core, workspaceId, agentId, { presence: "available" });
}

/** The work agents hold now (offered or assigned): the supervisor's per-agent view. */
export async function liveWorkOf(db: Core["db"], agentIds: string[]) {
  if (!agentIds.length) return [];
  return db
    .select({
      agentId: workItems.agentId,
      workItemId: workItems.id,
      conversationId: workItems.conversationId,
      channel: workItems.channel,
      state: workItems.state,
      queueId: workItems.queueId,
    })
    .from(workItems)
    .where(and(inArray(workItems.agentId, agentIds), inArray(workItems.state, ["reserved", "assigned"])));
}

/** Workspaces with work waiting: what a router's periodic pass looks at. */
export async function workspacesWaiting(core: Core) {
  const rows = await core.db
    .selectDistinct({ workspaceId: workItems.workspaceId })
    .from(workItems)
    .where(eq(workItems.state, "waiting"));
  return rows.map((r) => r.workspaceId);
}

/** Workspaces with work in their queues: the ones whose supervisors get the live view pushed. */
export async function workspacesWithWork(core: Core) {
  const rows = await core.db
    .selectDistinct({ workspaceId: workItems.workspaceId })
    .from(workItems)
    .where(inArray(workItems.state, [...LIVE]));
  return rows.map((r) => r.workspaceId);
}

/**
 * Runs the overflow steps of waiting work whose time has come: widen the skills it needs, move it to
 * another queue, offer a callback, or send the customer an automatic reply. Each item changes in its
 * own transaction with its row locked, so routers on several nodes apply each step once.
 */
export async function applyOverflow(core: Core, now = new Date()) {
  const candidates = await core.db
    .select({ id: workItems.id, workspaceId: workItems.workspaceId, conversationId: workItems.conversationId })
    .from(workItems)
    .innerJoin(queues, eq(queues.id, workItems.queueId))
    .where(
      and(eq(workItems.state, "waiting"), sql`jsonb_array_length(${queues.overflow}) > ${workItems.overflowStep}`),
    );
  const changed = new Set<string>();
  for (const candidate of candidates) {
    const applied = await withEvents(core, async (tx, events) => {
      // The conversation first: a step's event takes the counter, and a later step (a move, a reply)
      // writes the conversation; a customer's message holds the conversation and wants the counter.
      const [c] = await tx
        .select({ id: conversations.id })
        .from(conversations)
        .where(eq(conversations.id, candidate.conversationId))
        .for("update", { skipLocked: true });
      if (!c) return 0;
      const [w] = await tx
        .select()
        .from(workItems)
        .where(and(eq(workItems.id, candidate.id), eq(workItems.state, "waiting")))
        .for("update", { skipLocked: true });
      if (!w) return 0;
      const [queue] = await tx.select().from(queues).where(eq(queues.id, w.queueId));
      const due = dueSteps(queue!.overflow, w.overflowStep, (now.getTime() - w.enqueuedAt.getTime()) / 1000);
      if (!due.length) return 0;
      let patch: Partial<typeof workItems.$inferInsert> = { overflowStep: w.overflowStep + due.length };
      for (const step of due) {
        if (step.action === "widen_skills") patch = { ...patch, requiredSkills: step.skills };
        else if (step.action === "move_queue") {
          const [target] = await tx.select().from(queues).where(eq(queues.id, step.queueId));
          if (!target) continue;
          // The new queue's steps count from the original enqueue time: the customer's wait goes on.
          patch = { ...patch, queueId: target.id, requiredSkills: target.requiredSkills, overflowStep: 0 };
          await tx.update(conversations).set({ queueId: target.id }).where(eq(conversations.id, w.conversationId));
        } else if (step.action === "auto_reply") await sendSystemMessage(tx, events, w.conversationId, step.message);
        await appendSystemEvent(tx, events, w.conversationId, "overflow", {
          action: step.action,
          afterSeconds: step.afterSeconds,
          queueId: w.queueId,
          ...(step.action === "move_queue" ? { toQueueId: step.queueId } : {}),
        });
      }
      await tx.update(workItems).set(patch).where(eq(workItems.id, w.id));
      return due.length;
    });
    if (applied) changed.add(candidate.workspaceId);
  }
  return [...changed];
}
