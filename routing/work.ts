import { and, asc, count, desc, eq, inArray, isNull, lt, or, sql, type SQL } from "drizzle-orm";
import type { Actor } from "../conversations/actor.ts";
import {
  appendSystemEvent,
  assignWithin,
  requireConversation,
  scopeOf,
  sendSystemMessage,
  transferToTeamWithin,
} from "../conversations/conversation.ts";
import { takeSeqs } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Tx } from "../db/connect.ts";
import { preparedQuery } from "../db/prepared-query.ts";
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
  type WorkItemRow,
} from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { channelClass, DEFAULT_CAPACITY, route, type Agent, type ChannelClass } from "./acd.ts";
import { skillLevelsOf, transferTarget } from "./agent.ts";
import { chooseQueue, priorityFor } from "./entry.ts";
import { queuePosition, toWorkItem } from "./estimate.ts";
import { isOpen } from "./hours.ts";
import { dueSteps } from "./overflow.ts";
import { accept, OFFER_TIMEOUT_MS, reject, ReservationError, type Reservation } from "./reservation.ts";
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

const LIVE = ["waiting", "reserved", "assigned"] as const;

function offerView(w: WorkItemRow) {
  return {
    workItemId: w.id,
    conversationId: w.conversationId,
    queueId: w.queueId,
    channel: w.channel,
    agentId: w.agentId,
    state: w.state,
    expiresAt: w.reservationExpiresAt?.toISOString() ?? null,
  };
}

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
 * for the same event.
 */
export async function enqueueConversation(
  core: Core,
  conversationId: string,
  settings = DEFAULT_ROUTING,
  now = new Date(),
  reopened = false,
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
        .select({ text: timelineItems.text })
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
        text: last?.text ?? null,
        attributes,
        language: typeof attributes.language === "string" ? attributes.language : null,
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

/** Signed-in agents of a workspace as the ACD sees them, locked (skipping ones another router holds). */
async function lockAgents(tx: Tx, workspaceId: string): Promise<Agent[]> {
  const states = await tx
    .select()
    .from(agentStates)
    // Agents in wrap-up are listed too: work can wait for one who is its contact's sticky agent.
    .where(
      and(eq(agentStates.workspaceId, workspaceId), inArray(agentStates.presence, ["available", "busy", "wrap_up"])),
    )
    .orderBy(asc(agentStates.userId))
    .for("update", { skipLocked: true });
  if (!states.length) return [];
  const ids = states.map((s) => s.userId);
  const [levels, held] = await Promise.all([
    skillLevelsOf(tx, ids),
    tx
      .select({ agentId: workItems.agentId, channel: workItems.channel, n: count() })
      .from(workItems)
      .where(and(inArray(workItems.agentId, ids), inArray(workItems.state, ["reserved", "assigned"])))
      .groupBy(workItems.agentId, workItems.channel),
  ]);
  return states.map((s) => {
    const load: Record<ChannelClass, number> = { voice: 0, chat: 0, email: 0, messaging: 0 };
    for (const h of held) if (h.agentId === s.userId) load[channelClass(h.channel)] += Number(h.n);
    return {
      id: s.userId,
      presence: s.presence,
      skills: levels.get(s.userId)!,
      capacity: { ...DEFAULT_CAPACITY, ...s.capacity },
      load,
      idleSince: s.idleSince.getTime(),
    };
  });
}

// Asked before every routing pass (each queued caller or chat starts one): built once (prepared-query.ts).
const signedIn = preparedQuery("agent_signed_in", (db) =>
  db
    .select({ id: agentStates.userId })
    .from(agentStates)
    .where(
      and(
        eq(agentStates.workspaceId, sql.placeholder("workspaceId")),
        inArray(agentStates.presence, ["available", "busy"]),
      ),
    )
    .limit(1),
);

/**
 * One routing pass over a workspace: claims waiting work and free agents with SKIP LOCKED (so routers
 * on other nodes take disjoint sets and nothing is offered twice), lets the ACD match them, and
 * reserves each match for its agent — or assigns it at once where the channel auto-accepts.
 */
export async function routeWorkspace(core: Core, workspaceId: string, settings = DEFAULT_ROUTING, now = new Date()) {
  // Nobody signed in to take work: skip the pass before locking anything.
  const [anyone] = await signedIn(core.db, { workspaceId });
  if (!anyone) return [];
  return withEvents(core, async (tx, events) => {
    // Conversations first, then their work (the lock order of invariant 4): an auto-accept assigns
    // and a pass's events take the counter, while a customer's message holds its conversation and
    // then wants the counter. Work whose conversation is busy that way waits for the next pass.
    const waitingHere = and(eq(workItems.workspaceId, workspaceId), eq(workItems.state, "waiting"))!;
    const held = await lockConversationsOf(tx, waitingHere, 1000);
    if (!held.length) return [];
    const waiting = await tx
      .select()
      .from(workItems)
      .where(and(inArray(workItems.conversationId, held), eq(workItems.state, "waiting")))
      .orderBy(desc(workItems.priority), asc(workItems.enqueuedAt))
      .for("update", { skipLocked: true });
    if (!waiting.length) return [];
    // A closed queue's work waits for opening hours; nobody is offered it now.
    const queueRows = await tx
      .select({ id: queues.id, businessHours: queues.businessHours, offerTimeoutSeconds: queues.offerTimeoutSeconds })
      .from(queues)
      .where(inArray(queues.id, [...new Set(waiting.map((w) => w.queueId))]));
    const open = new Set(queueRows.filter((q) => isOpen(q.businessHours, now)).map((q) => q.id));
    const timeoutOf = new Map(queueRows.map((q) => [q.id, q.offerTimeoutSeconds]));
    const offerTimeoutMs = (w: WorkItemRow) =>
      (timeoutOf.get(w.queueId) ?? 0) * 1000 || settings.offerTimeoutMs[channelClass(w.channel)];
    const routable = waiting.filter((w) => open.has(w.queueId));
    if (!routable.length) return [];
    const agents = await lockAgents(tx, workspaceId);
    if (!agents.length) return [];
    const matches = route(routable.map(toWorkItem), agents, now.getTime());
    const byId = new Map(waiting.map((w) => [w.id, w]));
    const offers: WorkItemRow[] = [];
    for (const m of matches) {
      const w = byId.get(m.itemId)!;
      if (settings.autoAccept.includes(channelClass(w.channel))) {
        await tx
          .update(workItems)
          .set({ state: "assigned", agentId: m.agentId, answeredAt: now })
          .where(eq(workItems.id, w.id));
        await assignWithin(tx, events, "system", w.conversationId, m.agentId);
      } else {
        offers.push({
          ...w,
          state: "reserved",
          agentId: m.agentId,
          reservationExpiresAt: new Date(now.getTime() + offerTimeoutMs(w)),
        });
      }
    }
    // Offers are written and announced together: a pass costs a few statements, not a few per match.
    if (offers.length) {
      await tx.execute(sql`
        UPDATE ${workItems} AS w SET state = 'reserved', agent_id = v.agent_id, reservation_expires_at = v.expires_at
        FROM (VALUES ${sql.join(
          offers.map(
            (o) => sql`(${o.id}::uuid, ${o.agentId}::uuid, ${o.reservationExpiresAt!.toISOString()}::timestamptz)`,
          ),
          sql`, `,
        )}) AS v(id, agent_id, expires_at)
        WHERE w.id = v.id`);
      const scopes = await tx
        .select({
          id: conversations.id,
          contactId: conversations.contactId,
          assigneeId: conversations.assigneeId,
          teamId: conversations.teamId,
        })
        .from(conversations)
        .where(
          inArray(
            conversations.id,
            offers.map((o) => o.conversationId),
          ),
        );
      const scopeOfConversation = new Map(scopes.map((c) => [c.id, scopeOf(c)]));
      const first = await takeSeqs(tx, workspaceId, offers.length);
      // Scoped to the offered agent (and supervisors): the conversation is theirs to take.
      await events.record(
        offers.map((o, n) => ({
          workspaceId,
          seq: first + n,
          type: "offer.created",
          conversationId: o.conversationId,
          public: false,
          payload: {
            offer: offerView(o),
            scope: { ...scopeOfConversation.get(o.conversationId)!, assigneeId: o.agentId },
          },
        })),
      );
    }
    // Agents who just got work are no longer idle: the next pass starts with someone else.
    if (matches.length)
      await tx
        .update(agentStates)
        .set({ idleSince: now })
        .where(inArray(agentStates.userId, [...new Set(matches.map((m) => m.agentId))]));
    return matches;
  });
}

/**
 * Locks, skipping those another transaction holds, the conversations of the work items `where`
 * picks (the most urgent `limit` of them): what a claim takes before it locks the work items.
 */
async function lockConversationsOf(tx: Tx, where: SQL, limit: number) {
  const picked = tx
    .select({ id: workItems.conversationId })
    .from(workItems)
    .where(where)
    .orderBy(desc(workItems.priority), asc(workItems.enqueuedAt))
    .limit(limit);
  const rows = await tx
    .select({ id: conversations.id })
    .from(conversations)
    .where(inArray(conversations.id, picked))
    .for("update", { skipLocked: true });
  return rows.map((r) => r.id);
}

/** The work item behind an offer, locked, as the pure reservation state machine sees it. */
async function lockOffer(tx: Tx, actor: Actor, workItemId: string) {
  const [ref] = await tx
    .select({ conversationId: workItems.conversationId })
    .from(workItems)
    .where(and(eq(workItems.workspaceId, actor.workspaceId), eq(workItems.id, workItemId)));
  if (!ref) throw new NotFound("Offer", "workItemId");
  // Conversation before work item: the order transfers and enqueueing lock in too.
  await tx
    .select({ id: conversations.id })
    .from(conversations)
    .where(eq(conversations.id, ref.conversationId))
    .for("update");
  const [w] = await tx.select().from(workItems).where(eq(workItems.id, workItemId)).for("update");
  if (!w) throw new NotFound("Offer", "workItemId");
  // The agent's own offer lapsed and the work moved on (back to the queue or to someone else): say
  // so, rather than that it belongs to another agent.
  if (w.agentId !== actor.userId) {
    const [missed] = await tx
      .select({ id: timelineItems.id })
      .from(timelineItems)
      .where(
        and(
          eq(timelineItems.conversationId, w.conversationId),
          eq(timelineItems.eventType, "offer_missed"),
          sql`${timelineItems.data}->>'agentId' = ${actor.userId}`,
        ),
      )
      .limit(1);
    if (missed || w.state === "waiting") throw new ReservationError("expired", "This offer is no longer open");
  }
  const reservation: Reservation = {
    id: w.id,
    itemId: w.id,
    agentId: w.agentId ?? "",
    createdAt: w.enqueuedAt.getTime(),
    expiresAt: w.reservationExpiresAt?.getTime() ?? Number.POSITIVE_INFINITY,
    state: w.state === "reserved" ? "pending" : w.state === "assigned" ? "accepted" : "expired",
  };
  return { w, reservation };
}

/** The offered agent takes the work: the conversation is assigned to them in the same transaction. */
export async function acceptOffer(core: Core, actor: Actor, workItemId: string, now = new Date()) {
  const offer = await withEvents(core, async (tx, events) => {
    const { w, reservation } = await lockOffer(tx, actor, workItemId);
    accept(reservation, actor.userId, now.getTime());
    const [taken] = await tx
      .update(workItems)
      .set({ state: "assigned", answeredAt: now, reservationExpiresAt: null })
      .where(eq(workItems.id, w.id))
      .returning();
    await assignWithin(tx, events, actor, w.conversationId, actor.userId);
    return offerView(taken!);
  });
  // On work now: "busy" tells supervisors so (the ACD still offers more while capacity is left).
  const [state] = await core.db
    .select({ presence: agentStates.presence })
    .from(agentStates)
    .where(eq(agentStates.userId, actor.userId));
  if (state?.presence === "available") await setPresence(core, actor.workspaceId, actor.userId, { presence: "busy" });
  return offer;
}

/**
 * Back to the queue: the agent said no, or let the offer run out. Either way they are marked away,
 * so the next offer goes to someone who is there.
 */
type MissReason = "rejected" | "expired" | "withdrawn";

async function returnToQueue(tx: Tx, events: Parameters<typeof assignWithin>[1], w: WorkItemRow, reason: MissReason) {
  await tx
    .update(workItems)
    .set({ state: "waiting", agentId: null, reservationExpiresAt: null })
    .where(eq(workItems.id, w.id));
  await appendSystemEvent(tx, events, w.conversationId, "offer_missed", { agentId: w.agentId, reason });
}

export async function rejectOffer(core: Core, actor: Actor, workItemId: string, now = new Date()) {
  await withEvents(core, async (tx, events) => {
    const { w, reservation } = await lockOffer(tx, actor, workItemId);
    reject(reservation, actor.userId, now.getTime());
    await returnToQueue(tx, events, w, "rejected");
  });
  await setPresence(core, actor.workspaceId, actor.userId, { presence: "away", reason: "missed offer" });
}

/** The offered agent is gone: deleted, disabled, or signed out (by choice, logout or a lost connection). */
const offeredAgentGone = sql<boolean>`(${workItems.agentId} IS NULL OR NOT EXISTS (
  SELECT 1 FROM ${agentStates} JOIN ${users} ON ${users.id} = ${agentStates.userId}
  WHERE ${agentStates.userId} = ${workItems.agentId} AND ${agentStates.presence} <> 'offline'
    AND ${users.disabledAt} IS NULL))`;

/**
 * Offers nobody answered in time go back to the queue, and so, without waiting for their time, do
 * offers of agents who are gone (the periodic sweep, so an event a node missed cannot strand them).
 * Agents who let an offer run out while signed in are marked away; gone ones stay offline.
 */
export async function expireOffers(core: Core, now = new Date()) {
  const missed = await withEvents(core, async (tx, events) => {
    // Conversations before work items, as everywhere: each offer's timeline event takes the counter.
    const lapsed = and(eq(workItems.state, "reserved"), or(lt(workItems.reservationExpiresAt, now), offeredAgentGone))!;
    const held = await lockConversationsOf(tx, lapsed, 1000);
    if (!held.length) return [];
    const due = await tx
      .select({ w: workItems, gone: offeredAgentGone })
      .from(workItems)
      .where(and(inArray(workItems.conversationId, held), lapsed))
      .for("update", { skipLocked: true });
    for (const { w, gone } of due) await returnToQueue(tx, events, w, gone ? "withdrawn" : "expired");
    return due;
  });
  for (const { w, gone } of missed)
    if (!gone) await setPresence(core, w.workspaceId, w.agentId!, { presence: "away", reason: "missed offer" });
  return [...new Set(missed.map(({ w }) => w.workspaceId))];
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

/** Offers waiting for an agent's answer, oldest first. */
export async function offersFor(db: Core["db"], workspaceId: string, agentId: string) {
  const rows = await db
    .select()
    .from(workItems)
    .where(and(eq(workItems.workspaceId, workspaceId), eq(workItems.agentId, agentId), eq(workItems.state, "reserved")))
    .orderBy(asc(workItems.reservationExpiresAt));
  return rows.map(offerView);
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
