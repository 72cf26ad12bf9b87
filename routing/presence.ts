import { and, eq, gt, inArray, isNull, lt, ne, or } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import {
  agentStates,
  agentStateSpans,
  sessions,
  users,
  type AgentState,
  type Capacity,
  type Presence,
} from "../db/schema/index.ts";
import type { Actor } from "../conversations/actor.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { Invalid } from "../platform/errors.ts";
import { DEFAULT_CAPACITY, type ChannelClass } from "./acd.ts";

/** What an agent may choose; "busy" and "wrap_up" follow from work and are set by the system. */
export const chosenPresences = ["available", "away", "offline"] as const;
export type ChosenPresence = (typeof chosenPresences)[number];

export function presenceView(s: AgentState) {
  return {
    userId: s.userId,
    presence: s.presence,
    reason: s.reason,
    since: s.since.toISOString(),
    wrapUpUntil: s.wrapUpUntil?.toISOString() ?? null,
    capacity: s.capacity,
  };
}

/** The agent's routing state, created (offline, default capacity) the first time it is asked for. */
export async function agentState(db: Executor, workspaceId: string, userId: string): Promise<AgentState> {
  const [existing] = await db.select().from(agentStates).where(eq(agentStates.userId, userId));
  if (existing) return existing;
  await db.insert(agentStates).values({ userId, workspaceId }).onConflictDoNothing();
  const [created] = await db.select().from(agentStates).where(eq(agentStates.userId, userId));
  return created!;
}

/**
 * Changes presence and tells supervisors (event `agent.presence`). `by` is the agent, or "system" for
 * a disconnect or a missed offer.
 */
export async function setPresence(
  core: Core,
  workspaceId: string,
  userId: string,
  change: { presence: Presence; reason?: string | null; wrapUpUntil?: Date | null },
) {
  return withEvents(core, async (tx, events) => {
    const before = await agentState(tx, workspaceId, userId);
    if (before.presence === change.presence && (before.reason ?? null) === (change.reason ?? null)) return before;
    const now = new Date();
    const [after] = await tx
      .update(agentStates)
      .set({
        presence: change.presence,
        reason: change.reason ?? null,
        since: now,
        wrapUpUntil: change.wrapUpUntil ?? null,
        // Becoming free starts the idle clock that "longest idle first" reads.
        ...(change.presence === "available" && before.presence !== "available" ? { idleSince: now } : {}),
      })
      .where(eq(agentStates.userId, userId))
      .returning();
    // The presence history reports read (state time, occupancy): the open span closes and the next
    // starts in the same transaction, so spans never overlap or leave a gap.
    await tx
      .update(agentStateSpans)
      .set({ endedAt: now })
      .where(and(eq(agentStateSpans.userId, userId), isNull(agentStateSpans.endedAt)));
    await tx.insert(agentStateSpans).values({
      workspaceId,
      userId,
      presence: change.presence,
      reason: change.reason ?? null,
      startedAt: now,
    });
    await events.append(workspaceId, {
      type: "agent.presence",
      payload: { agent: presenceView(after!), previous: before.presence },
    });
    return after!;
  });
}

/**
 * The user signed out (logout) and has no other session left: they are offline, not away, and the
 * router withdraws any offer they still had (on the event, and in its sweep if a node missed it).
 */
export async function signedOut(core: Core, workspaceId: string, userId: string, now = new Date()) {
  const [left] = await core.db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), gt(sessions.expiresAt, now)))
    .limit(1);
  if (!left) await setPresence(core, workspaceId, userId, { presence: "offline", reason: "signed out" });
}

/** An agent's own choice from the status menu. */
export async function choosePresence(core: Core, actor: Actor, presence: ChosenPresence, reason?: string) {
  if (presence !== "away" && reason) throw new Invalid("Only 'away' takes a reason", "reason");
  return setPresence(core, actor.workspaceId, actor.userId, {
    presence,
    reason: presence === "away" ? (reason ?? null) : null,
  });
}

export function validateCapacity(capacity: Partial<Capacity>): Capacity {
  const merged = { ...DEFAULT_CAPACITY, ...capacity };
  for (const [channel, n] of Object.entries(merged)) {
    if (!Number.isInteger(n) || n < 0 || n > 50)
      throw new Invalid(`Capacity for ${channel} must be a whole number from 0 to 50`, `capacity.${channel}`);
  }
  return merged;
}

export async function setCapacity(db: Executor, workspaceId: string, userId: string, capacity: Partial<Capacity>) {
  const valid = validateCapacity(capacity);
  await agentState(db, workspaceId, userId);
  const [row] = await db.update(agentStates).set({ capacity: valid }).where(eq(agentStates.userId, userId)).returning();
  return row!;
}

/**
 * Agents whose realtime socket has been gone longer than the grace period (no heartbeat on any node)
 * go offline. Runs on every node; the row locks make each change happen once.
 */
export async function markDisconnectedOffline(core: Core, graceMs: number, now = new Date()) {
  const cutoff = new Date(now.getTime() - graceMs);
  const gone = await core.db
    .select({ userId: agentStates.userId, workspaceId: agentStates.workspaceId })
    .from(agentStates)
    .innerJoin(users, eq(users.id, agentStates.userId))
    .where(and(ne(agentStates.presence, "offline"), or(isNull(users.lastSeenAt), lt(users.lastSeenAt, cutoff))));
  for (const g of gone)
    await setPresence(core, g.workspaceId, g.userId, { presence: "offline", reason: "disconnected" });
  return gone.length;
}

/** Presence of many agents at once (supervisor views), creating missing rows as offline. */
export async function presenceOf(db: Executor, workspaceId: string, userIds: string[]) {
  if (!userIds.length) return new Map<string, AgentState>();
  await db
    .insert(agentStates)
    .values(userIds.map((userId) => ({ userId, workspaceId })))
    .onConflictDoNothing();
  const rows = await db
    .select()
    .from(agentStates)
    .where(and(eq(agentStates.workspaceId, workspaceId), inArray(agentStates.userId, userIds)));
  return new Map(rows.map((r) => [r.userId, r]));
}

/** After-contact work: the agent is held out of routing for a while after finishing work. */
export const WRAP_UP_SECONDS: Record<ChannelClass, number> = { voice: 30, chat: 0, email: 0, messaging: 0 };

export async function startWrapUp(core: Core, workspaceId: string, userId: string, seconds: number, now = new Date()) {
  if (seconds <= 0) return;
  await setPresence(core, workspaceId, userId, {
    presence: "wrap_up",
    wrapUpUntil: new Date(now.getTime() + seconds * 1000),
  });
}

/** Agents whose wrap-up time is over become available again. */
export async function endWrapUps(core: Core, now = new Date()) {
  const due = await core.db
    .select({ userId: agentStates.userId, workspaceId: agentStates.workspaceId })
    .from(agentStates)
    .where(and(eq(agentStates.presence, "wrap_up"), lt(agentStates.wrapUpUntil, now)));
  for (const d of due) await setPresence(core, d.workspaceId, d.userId, { presence: "available" });
  return [...new Set(due.map((d) => d.workspaceId))];
}
