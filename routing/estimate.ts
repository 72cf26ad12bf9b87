import { and, eq, getTableName, inArray, sql, type SQL } from "drizzle-orm";
import { rowsOf, type Executor } from "../db/connect.ts";
import { preparedQuery } from "../db/prepared-query.ts";
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

// Every waiting caller's announcement asks: built once (prepared-query.ts).
const queuedWork = preparedQuery("queued_work", (db) =>
  db
    .select()
    .from(workItems)
    .where(
      and(
        eq(workItems.conversationId, sql.placeholder("conversationId")),
        inArray(workItems.state, ["waiting", "reserved"]),
      ),
    ),
);

/** Position and estimated wait of a conversation's waiting work, for the widget, IVR and supervisors. */
export async function queuePosition(db: Executor, conversationId: string) {
  const [mine] = await queuedWork(db, { conversationId });
  return mine ? queuePositionOf(db, mine) : undefined;
}

/** The same for a work item the caller already has (it has just queued it). */
export async function queuePositionOf(db: Executor, mine: WorkItemRow) {
  return (await queuePositionsOf(db, [mine])).get(mine.id)!;
}

type Eta = { position: number; estimatedWaitS: number | null };
type SeatRow = {
  userId: string;
  capacity: Partial<Capacity>;
  idleSince: number;
  skills: Record<string, number> | null;
};

/**
 * Positions and estimated waits of work items the caller has, one workspace's, in one statement
 * whatever their number: who is ahead of each, how long each queue's recent work took, and who could
 * take it. Every caller's announcement asks, every few seconds, and a batch of IVR turns asks for all
 * the callers it queued.
 */
export async function queuePositionsOf(db: Executor, items: WorkItemRow[]): Promise<Map<string, Eta>> {
  const query = positionsQuery(db, items);
  return positionsFrom(items, query && (await query));
}

type PositionsRow = {
  ahead: [string, number | string][] | null;
  handled: Record<string, number[] | null> | null;
  agents: SeatRow[] | null;
};

/**
 * `queuePositionsOf`'s statement, not yet sent (undefined when no item waits): a batch sends it right
 * behind the inserts of the items it asks about, in the same round trip.
 */
export function positionsQuery(db: Executor, items: WorkItemRow[]) {
  const waiting = items.filter((w) => w.state !== "reserved");
  if (!waiting.length) return undefined;
  const ids = JSON.stringify(waiting.map((w) => w.id));
  const queueIds = JSON.stringify([...new Set(waiting.map((w) => w.queueId))]);
  return db.execute(
    sql`${POSITIONS[0]}${ids}${POSITIONS[1]}${queueIds}${POSITIONS[2]}${waiting[0]!.workspaceId}${POSITIONS[3]}`,
  );
}

/**
 * `positionsQuery`'s text around its parameters (the items' ids and their queues' ids as JSON, the
 * workspace): it never changes, so it is built once, not for every announcement and IVR turn.
 */
const POSITIONS: SQL[] = (() => {
  const name = (table: Parameters<typeof getTableName>[0]) => `"${getTableName(table)}"`;
  // Aging adds the same points per minute to everyone, so the ACD's order is fixed by
  // priority·60 s − enqueue time: count who is ahead in SQL instead of loading the whole queue.
  const key = (t: string) =>
    `(${t}.priority * ${MS_PER_PRIORITY_POINT}::bigint - (extract(epoch from ${t}.enqueued_at) * 1000)::bigint)`;
  const text = `
      SELECT
        (SELECT json_agg(json_build_array(m.id, (SELECT count(*) FROM ${name(workItems)} w WHERE w.queue_id = m.queue_id AND w.state = 'waiting'
          AND (${key("w")} > ${key("m")} OR (${key("w")} = ${key("m")} AND w.id < m.id)))))
          FROM ${name(workItems)} m WHERE m.id = ANY (ARRAY(SELECT value::uuid FROM jsonb_array_elements_text($?::jsonb)))) AS ahead,
        (SELECT json_object_agg(q.id, (SELECT json_agg(extract(epoch FROM r.ended_at - r.answered_at)) FROM (
            SELECT d.answered_at, d.ended_at FROM ${name(workItems)} d
            WHERE d.queue_id = q.id AND d.state = 'done' AND d.answered_at IS NOT NULL
            ORDER BY d.ended_at DESC LIMIT 50) r WHERE r.ended_at IS NOT NULL))
          FROM (SELECT value::uuid AS id FROM jsonb_array_elements_text($?::jsonb)) AS q) AS handled,
        (SELECT json_agg(json_build_object(
            'userId', s.user_id, 'capacity', s.capacity, 'idleSince', extract(epoch FROM s.idle_since) * 1000,
            'skills', (SELECT json_object_agg(k.name, a.level) FROM ${name(agentSkills)} a JOIN ${name(skills)} k ON k.id = a.skill_id WHERE a.user_id = s.user_id)))
          FROM ${name(agentStates)} s WHERE s.workspace_id = $?::uuid AND s.presence IN ('available', 'busy')) AS agents`;
  // Each `$?` is where a parameter goes.
  return text.split("$?").map((part) => sql.raw(part));
})();

/** The positions and estimates `positionsQuery`'s result gives `items`. */
export function positionsFrom(items: WorkItemRow[], queried: unknown): Map<string, Eta> {
  const row = queried ? rowsOf<PositionsRow>(queried)[0] : undefined;
  const result = new Map<string, Eta>();
  for (const w of items) if (w.state === "reserved") result.set(w.id, { position: 0, estimatedWaitS: 0 });
  const waiting = items.filter((w) => w.state !== "reserved");
  const ahead = new Map((row?.ahead ?? []).map(([id, n]) => [id, Number(n)]));
  for (const mine of waiting) {
    const item = toWorkItem(mine);
    const cls = channelClass(mine.channel);
    // Seats: capacity for this kind of work among agents who could take it if they were free.
    const seats = (row?.agents ?? [])
      .map(
        (s): Agent => ({
          id: s.userId,
          presence: "available",
          skills: s.skills ?? {},
          capacity: { ...DEFAULT_CAPACITY, ...s.capacity },
          load: { voice: 0, chat: 0, email: 0, messaging: 0 },
          idleSince: Number(s.idleSince),
        }),
      )
      .filter((a) => canTake(a, item))
      .reduce((sum, a) => sum + a.capacity[cls], 0);
    const handled = (row?.handled?.[mine.queueId] ?? []).map(Number);
    const ahtSeconds =
      handled.length >= MIN_HANDLED_FOR_AHT ? handled.reduce((a, b) => a + b, 0) / handled.length : DEFAULT_AHT_S;
    const position = (ahead.get(mine.id) ?? 0) + 1;
    result.set(mine.id, { position, estimatedWaitS: estimateWait({ position, ahtSeconds, seats }) });
  }
  return result;
}
