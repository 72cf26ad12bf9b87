import { and, count, desc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { agentStates, workItems, type WorkItemRow } from "../db/schema/index.ts";
import { canTake, channelClass, DEFAULT_CAPACITY, DEFAULT_ROUTING_OPTIONS, type Agent, type WorkItem } from "./acd.ts";
import { skillLevelsOf } from "./agent.ts";

/** Used until a queue has handled enough work (MIN_HANDLED_FOR_AHT) to know its own handle time. */
export const DEFAULT_AHT_S = 180;
export const MIN_HANDLED_FOR_AHT = 5;

/**
 * Expected wait of a waiting item: the work ahead of it (and itself) shared over the seats that can
 * take it, each turning over once per average handle time. `null` when nobody who could take it is
 * signed in: an honest "unknown" beats a made-up number.
 */
export function estimateWait(input: { position: number; ahtSeconds: number; seats: number }) {
  if (input.seats <= 0) return null;
  return Math.round((input.position * input.ahtSeconds) / input.seats);
}

/** With the ACD's default aging of one priority point a minute. */
const MS_PER_PRIORITY_POINT = 60_000 / DEFAULT_ROUTING_OPTIONS.agingPerMinute;

/** A work item row as the ACD sees it. */
export const toWorkItem = (w: WorkItemRow): WorkItem => ({
  id: w.id,
  queueId: w.queueId,
  channel: w.channel,
  priority: w.priority,
  enqueuedAt: w.enqueuedAt.getTime(),
  requiredSkills: w.requiredSkills,
  stickyAgentId: w.stickyAgentId,
  stickyUntil: w.stickyUntil?.getTime() ?? null,
});

/** Position and estimated wait of a conversation's waiting work, for the widget, IVR and supervisors. */
export async function queuePosition(db: Executor, conversationId: string) {
  const [mine] = await db
    .select()
    .from(workItems)
    .where(and(eq(workItems.conversationId, conversationId), inArray(workItems.state, ["waiting", "reserved"])));
  return mine ? queuePositionOf(db, mine) : undefined;
}

/** The same for a work item the caller already has (it has just queued it). */
export async function queuePositionOf(db: Executor, mine: WorkItemRow) {
  if (mine.state === "reserved") return { position: 0, estimatedWaitS: 0 };
  // Aging adds the same points per minute to everyone, so the ACD's order is fixed by
  // priority·60 s − enqueue time: count who is ahead in SQL instead of loading the whole queue.
  const key = sql`${workItems.priority} * ${MS_PER_PRIORITY_POINT}::bigint - (extract(epoch from ${workItems.enqueuedAt}) * 1000)::bigint`;
  const mineKey = mine.priority * MS_PER_PRIORITY_POINT - mine.enqueuedAt.getTime();
  const [[ahead], recent, states] = await Promise.all([
    db
      .select({ n: count() })
      .from(workItems)
      .where(
        and(
          eq(workItems.queueId, mine.queueId),
          eq(workItems.state, "waiting"),
          sql`(${key} > ${mineKey} OR (${key} = ${mineKey} AND ${workItems.id} < ${mine.id}))`,
        ),
      ),
    db
      .select({ answeredAt: workItems.answeredAt, endedAt: workItems.endedAt })
      .from(workItems)
      .where(and(eq(workItems.queueId, mine.queueId), eq(workItems.state, "done"), isNotNull(workItems.answeredAt)))
      .orderBy(desc(workItems.endedAt))
      .limit(50),
    db.select().from(agentStates).where(and(eq(agentStates.workspaceId, mine.workspaceId), inArray(agentStates.presence, ["available", "busy"]))),
  ]);
  const levels = await skillLevelsOf(db, states.map((s) => s.userId));
  const item = toWorkItem(mine);
  const cls = channelClass(mine.channel);
  // Seats: capacity for this kind of work among agents who could take it if they were free.
  const seats = states
    .map((s): Agent => ({
      id: s.userId,
      presence: "available",
      skills: levels.get(s.userId)!,
      capacity: { ...DEFAULT_CAPACITY, ...s.capacity },
      load: { voice: 0, chat: 0, email: 0, messaging: 0 },
      idleSince: s.idleSince.getTime(),
    }))
    .filter((a) => canTake(a, item))
    .reduce((sum, a) => sum + a.capacity[cls], 0);
  const handled = recent.filter((r) => r.endedAt).map((r) => (r.endedAt!.getTime() - r.answeredAt!.getTime()) / 1000);
  const ahtSeconds = handled.length >= MIN_HANDLED_FOR_AHT ? handled.reduce((a, b) => a + b, 0) / handled.length : DEFAULT_AHT_S;
  const position = Number(ahead?.n ?? 0) + 1;
  return { position, estimatedWaitS: estimateWait({ position, ahtSeconds, seats }) };
}
