import { and, eq, inArray, sql } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import { agentSkills, agentStates, skills, workItems, type Capacity, type WorkItemRow } from "../db/schema/index.ts";
import { canTake, channelClass, DEFAULT_CAPACITY, DEFAULT_ROUTING_OPTIONS, type Agent, type WorkItem } from "./acd.ts";

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
  // Who is ahead, how long the queue's recent work took, and who could take it, in one statement:
  // every caller's announcement asks, every few seconds.
  const [row] = rowsOf<{ ahead: number | string; handled: number[] | null; agents: { userId: string; capacity: Partial<Capacity>; idleSince: number; skills: Record<string, number> | null }[] | null }>(
    await db.execute(sql`
      SELECT
        (SELECT count(*) FROM ${workItems} WHERE ${workItems.queueId} = ${mine.queueId} AND ${workItems.state} = 'waiting'
          AND (${key} > ${mineKey} OR (${key} = ${mineKey} AND ${workItems.id} < ${mine.id}))) AS ahead,
        (SELECT json_agg(extract(epoch FROM r.ended_at - r.answered_at)) FROM (
          SELECT ${workItems.answeredAt} AS answered_at, ${workItems.endedAt} AS ended_at FROM ${workItems}
          WHERE ${workItems.queueId} = ${mine.queueId} AND ${workItems.state} = 'done' AND ${workItems.answeredAt} IS NOT NULL
          ORDER BY ${workItems.endedAt} DESC LIMIT 50) r WHERE r.ended_at IS NOT NULL) AS handled,
        (SELECT json_agg(json_build_object(
            'userId', s.user_id, 'capacity', s.capacity, 'idleSince', extract(epoch FROM s.idle_since) * 1000,
            'skills', (SELECT json_object_agg(k.name, a.level) FROM ${agentSkills} a JOIN ${skills} k ON k.id = a.skill_id WHERE a.user_id = s.user_id)))
          FROM ${agentStates} s WHERE s.workspace_id = ${mine.workspaceId} AND s.presence IN ('available', 'busy')) AS agents`),
  );
  const item = toWorkItem(mine);
  const cls = channelClass(mine.channel);
  // Seats: capacity for this kind of work among agents who could take it if they were free.
  const seats = (row?.agents ?? [])
    .map((s): Agent => ({
      id: s.userId,
      presence: "available",
      skills: s.skills ?? {},
      capacity: { ...DEFAULT_CAPACITY, ...s.capacity },
      load: { voice: 0, chat: 0, email: 0, messaging: 0 },
      idleSince: Number(s.idleSince),
    }))
    .filter((a) => canTake(a, item))
    .reduce((sum, a) => sum + a.capacity[cls], 0);
  const handled = (row?.handled ?? []).map(Number);
  const ahtSeconds = handled.length >= MIN_HANDLED_FOR_AHT ? handled.reduce((a, b) => a + b, 0) / handled.length : DEFAULT_AHT_S;
  const position = Number(row?.ahead ?? 0) + 1;
  return { position, estimatedWaitS: estimateWait({ position, ahtSeconds, seats }) };
}
