import { and, asc, count, desc, eq, inArray, lt, or, sql, type SQL } from "drizzle-orm";
import type { Actor } from "../conversations/actor.ts";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { assignWithin } from "../conversations/assignment.ts";
import { scopeOf } from "../conversations/conversation.ts";
import { takeSeqs } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Tx } from "../db/connect.ts";
import { preparedQuery } from "../db/prepared-query.ts";
import {
  agentStates,
  conversations,
  queues,
  timelineItems,
  users,
  workItems,
  type WorkItemRow,
} from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { channelClass, DEFAULT_CAPACITY, route, type Agent, type ChannelClass } from "./acd.ts";
import { skillLevelsOf } from "./agent.ts";
import { toWorkItem } from "./estimate.ts";
import { isOpen } from "./hours.ts";
import { accept, reject, ReservationError, type Reservation } from "./reservation.ts";
import { setPresence } from "./presence.ts";
import { DEFAULT_ROUTING } from "./work.ts";

/** A work item as its offer: what the offered agent and supervisors are shown. */
export function offerView(w: WorkItemRow) {
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

/** Offers waiting for an agent's answer, oldest first. */
export async function offersFor(db: Core["db"], workspaceId: string, agentId: string) {
  const rows = await db
    .select()
    .from(workItems)
    .where(and(eq(workItems.workspaceId, workspaceId), eq(workItems.agentId, agentId), eq(workItems.state, "reserved")))
    .orderBy(asc(workItems.reservationExpiresAt));
  return rows.map(offerView);
}
