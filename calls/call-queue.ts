import { and, eq, inArray, sql, type SQLWrapper } from "drizzle-orm";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { assignWithin } from "../conversations/assignment.ts";
import type { EventLog } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { combined, type Tx } from "../db/connect.ts";
import { insertRecords } from "../db/records.ts";
import {
  conversations,
  queues,
  workItems,
  type Conversation,
  type Queue,
  type SkillRequirement,
  type WorkItemRow,
} from "../db/schema/index.ts";
import { NotFound } from "../platform/errors.ts";
import { positionsFrom, positionsQuery } from "../routing/estimate.ts";
import { priorityFor } from "../routing/entry.ts";
import { startWrapUp, WRAP_UP_SECONDS } from "../routing/presence.ts";
import { DEFAULT_ROUTING, freeIfIdle } from "../routing/work.ts";

/**
 * Calls join the same queues as chats, but the IVR (not the entry rules) picks the queue, and a call
 * may arrive while its conversation already has live chat work: the call takes over that work item
 * (the conversation has one live item), so whoever answers the call has the chat too.
 */
export type CallTarget = {
  queueId: string;
  priority?: number;
  skills?: SkillRequirement[];
  attributes?: Record<string, unknown>;
};

const LIVE = ["waiting", "reserved", "assigned"] as const;

export async function enqueueCall(
  core: Core,
  conversationId: string,
  target: CallTarget,
  now = new Date(),
  settings = DEFAULT_ROUTING,
) {
  return (await withEvents(core, (tx, events) => enqueueCallWithin(tx, events, conversationId, target, now, settings)))
    .item;
}

/** The same inside a caller's transaction (the IVR's turn commits with it); returns the item and the estimate given. */
export async function enqueueCallWithin(
  tx: Tx,
  events: EventLog,
  conversationId: string,
  target: CallTarget,
  now = new Date(),
  settings = DEFAULT_ROUTING,
) {
  const [c] = await tx.select().from(conversations).where(eq(conversations.id, conversationId)).for("update");
  if (!c) throw new NotFound("Conversation");
  const { item, eta, queued } = await placeCallWithin(tx, c, target, now, settings);
  // Whoever answers the call takes the chat with it, and it is that assignment which connects the
  // call (apps/voice): the agent who was chatting gets it back through the sticky first chance.
  // After the work item is locked: the unassignment's event takes the counter, the last lock.
  if (c.assigneeId) await assignWithin(tx, events, "system", conversationId, null);
  await appendSystemEvent(tx, events, conversationId, "queued", queued);
  return { item, eta };
}

type Place = { conversation: Conversation; target: CallTarget; at: Date };

/**
 * The queue entry of a call whose conversation the caller has locked, without its timeline event:
 * the `queued` event's data comes back for the caller to append with its own events. (A batch of IVR
 * turns places its calls with the same pieces, set-based, sharing their round trips.)
 */
async function placeCallWithin(
  tx: Tx,
  c: Conversation,
  target: CallTarget,
  now = new Date(),
  settings = DEFAULT_ROUTING,
) {
  const [found, lives] = await Promise.all(placementReads(tx, c.workspaceId, [{ conversationId: c.id, target }]));
  const placing = placeCalls(tx, [{ conversation: c, target, at: now }], found, lives, settings);
  // The writes as one statement, and the positions right behind it: they must see its rows.
  const [, positioned] = await Promise.all([tx.execute(combined(placing.writes)), placing.positions]);
  const { placed, estimated } = placing.finish(positioned);
  if (estimated) await estimated;
  return placed[0]!;
}

/**
 * What placing calls reads, as statements not yet sent: the target queues, and the live work of the
 * conversations (locked). A batch of IVR turns sends them in the round trip that locks its
 * conversations, right behind that lock.
 */
export function placementReads(tx: Tx, workspaceId: string, places: { conversationId: string; target: CallTarget }[]) {
  return [
    tx
      .select()
      .from(queues)
      .where(
        and(eq(queues.workspaceId, workspaceId), inArray(queues.id, [...new Set(places.map((p) => p.target.queueId))])),
      ),
    tx
      .select()
      .from(workItems)
      .where(
        and(
          inArray(
            workItems.conversationId,
            places.map((p) => p.conversationId),
          ),
          inArray(workItems.state, [...LIVE]),
        ),
      )
      .orderBy(workItems.id)
      .for("update"),
  ] as const;
}

/**
 * The queue entries of `places` (one workspace's, one per conversation, the conversations locked by
 * the caller; `at` orders them in the queue) from what `placementReads` found, as statements not yet
 * sent: the writes (never empty; sent as one statement, `combined`), then the positions query that
 * reads them back, as a statement of its own right behind them (the entries' rows are made here,
 * ids and all). `finish` takes the positions query's result and gives each place its entry,
 * estimate and `queued` event data, plus the statement that keeps the estimates given (not yet
 * sent; undefined when nobody could give one).
 */
export function placeCalls(tx: Tx, places: Place[], found: Queue[], lives: WorkItemRow[], settings = DEFAULT_ROUTING) {
  if (new Set(places.map((p) => p.conversation.id)).size !== places.length)
    throw new Error("one queue entry per conversation at a time");
  const workspaceId = places[0]!.conversation.workspaceId;
  const queueOf = new Map(found.map((q) => [q.id, q]));
  const liveOf = new Map(lives.map((w) => [w.conversationId, w]));
  const planned = places.map((p) => {
    const queue = queueOf.get(p.target.queueId);
    if (!queue) throw new NotFound("Queue", "queueId");
    // Skills the IVR set add to the queue's own; for a skill named twice the higher level counts.
    const skills = new Map(queue.requiredSkills.map((s) => [s.skill, s.minLevel]));
    for (const s of p.target.skills ?? []) skills.set(s.skill, Math.max(skills.get(s.skill) ?? 0, s.minLevel));
    const requiredSkills = [...skills].map(([skill, minLevel]) => ({ skill, minLevel }));
    const priority = Math.max(p.target.priority ?? 0, priorityFor(queue.priorityRules, p.target.attributes ?? {}));
    const fields = {
      queueId: queue.id,
      channel: "voice",
      priority,
      requiredSkills,
      state: "waiting" as const,
      agentId: null,
      reservationExpiresAt: null,
      enqueuedAt: p.at,
      overflowStep: 0,
    };
    const live = liveOf.get(p.conversation.id);
    // The agent already chatting with this customer gets the first chance at their call.
    const chatting = live?.agentId ?? p.conversation.assigneeId;
    return { conversationId: p.conversation.id, at: p.at, queue, priority, fields, live, chatting };
  });
  const items = new Map<string, WorkItemRow>();
  const writes: SQLWrapper[] = [];
  for (const x of planned) {
    if (!x.live) continue;
    if (x.live.state !== "assigned") {
      // A conversation whose chat was waiting: its entry becomes the call's (rare on a phone line).
      items.set(x.conversationId, { ...x.live, ...x.fields });
      writes.push(tx.update(workItems).set(x.fields).where(eq(workItems.id, x.live.id)));
    } else {
      // Held by an agent (a chat in progress): that work is done, and the call waits anew.
      writes.push(tx.update(workItems).set({ state: "done", endedAt: x.at }).where(eq(workItems.id, x.live.id)));
    }
  }
  const fresh = planned
    .filter((x) => !x.live || x.live.state === "assigned")
    .map(
      (x): WorkItemRow => ({
        id: crypto.randomUUID(),
        workspaceId,
        conversationId: x.conversationId,
        ...x.fields,
        stickyAgentId: x.chatting,
        stickyUntil: x.chatting ? new Date(x.at.getTime() + settings.stickyMs) : null,
        answeredAt: null,
        endedAt: null,
        estimatedWaitSeconds: null,
      }),
    );
  for (const w of fresh) items.set(w.conversationId, w);
  if (fresh.length) writes.push(insertRecords(workItems, fresh));
  // A waiting call's conversation belongs to nobody until someone answers (enqueueCallWithin says why;
  // a batch's IVR turns clear it here, the timeline shows the queued event).
  writes.push(
    tx.execute(sql`
      UPDATE ${conversations} AS c SET queue_id = v.queue_id, priority = v.priority, assignee_id = NULL
      FROM (VALUES ${sql.join(
        planned.map((x) => sql`(${x.conversationId}::uuid, ${x.queue.id}::uuid, ${x.priority}::int)`),
        sql`, `,
      )}) AS v(id, queue_id, priority)
      WHERE c.id = v.id`),
  );
  const entries = [...items.values()];
  return {
    writes,
    positions: positionsQuery(tx, entries)!,
    finish(positionsResult: unknown) {
      const etas = positionsFrom(entries, positionsResult);
      const estimated = entries.filter((w) => etas.get(w.id)!.estimatedWaitS != null);
      const placed = planned.map((x) => {
        const item = items.get(x.conversationId)!;
        const eta = etas.get(item.id)!;
        const queued = {
          queueId: x.queue.id,
          queueName: x.queue.name,
          priority: x.priority,
          channel: "voice",
          position: eta.position,
          estimatedWaitS: eta.estimatedWaitS,
        };
        return { item, eta, queued };
      });
      return {
        placed,
        estimated: estimated.length
          ? tx.execute(sql`
              UPDATE ${workItems} AS w SET estimated_wait_seconds = v.s
              FROM (VALUES ${sql.join(
                estimated.map((w) => sql`(${w.id}::uuid, ${etas.get(w.id)!.estimatedWaitS}::int)`),
                sql`, `,
              )}) AS v(id, s)
              WHERE w.id = v.id`)
          : undefined,
      };
    },
  };
}

/** The caller hung up before anyone answered: the call's work is abandoned, with how long they waited. */
export async function abandonCallWork(core: Core, conversationId: string, now = new Date()) {
  const [w] = await core.db
    .update(workItems)
    .set({ state: "abandoned", endedAt: now, agentId: null, reservationExpiresAt: null })
    .where(
      and(
        eq(workItems.conversationId, conversationId),
        eq(workItems.channel, "voice"),
        inArray(workItems.state, ["waiting", "reserved"]),
      ),
    )
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
    .where(
      and(
        eq(workItems.conversationId, conversationId),
        eq(workItems.channel, "voice"),
        eq(workItems.state, "assigned"),
      ),
    )
    .returning();
  if (!w?.agentId) return w;
  const [queue] = await core.db
    .select({ wrapUpSeconds: queues.wrapUpSeconds })
    .from(queues)
    .where(eq(queues.id, w.queueId));
  const wrapUp = queue?.wrapUpSeconds ?? WRAP_UP_SECONDS.voice;
  if (wrapUp > 0) await startWrapUp(core, w.workspaceId, w.agentId, wrapUp, now);
  else await freeIfIdle(core, w.workspaceId, w.agentId);
  return w;
}
