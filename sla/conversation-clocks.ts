import { and, eq, gt, lt } from "drizzle-orm";
import { priorityName, type ConditionSubject } from "../conversations/condition.ts";
import type { TimelineView } from "../conversations/timeline.ts";
import type { Db, Executor } from "../db/connect.ts";
import { contacts, conversations, queues, timelineItems, type SlaMetric } from "../db/schema/index.ts";
import {
  everStarted,
  liveClocks,
  pauseClocks,
  replanClocks,
  resumeClocks,
  startClock,
  stopClocks,
  type ClockSubject,
} from "./clock.ts";
import { activePolicies, choosePolicy } from "./policy.ts";
import { workspaceCalendar } from "./workspace-calendar.ts";

const ALL: SlaMetric[] = ["first_response", "next_response", "resolution"];

/** An agent's public reply: what meets a response target (not a note, not the bot or the system). */
export const isAgentReply = (item: Pick<TimelineView, "type" | "direction" | "sender">) =>
  item.type === "message" && item.direction === "out" && item.sender.type === "agent";
const isCustomerMessage = (item: Pick<TimelineView, "type" | "direction" | "sender">) =>
  item.type === "message" && item.direction === "in" && item.sender.type === "contact";

/** Whether an agent replied publicly before (or after) the timeline position `seq`. */
async function agentReplied(tx: Executor, conversationId: string, seq: number, when: "before" | "after") {
  const [row] = await tx
    .select({ id: timelineItems.id })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.conversationId, conversationId),
        eq(timelineItems.type, "message"),
        eq(timelineItems.direction, "out"),
        eq(timelineItems.senderType, "agent"),
        when === "before" ? lt(timelineItems.seq, seq) : gt(timelineItems.seq, seq),
      ),
    )
    .limit(1);
  return !!row;
}

/**
 * Brings a conversation's clocks in line with what it is now, after any of its events. Reads the
 * conversation's state rather than trusting the event's order, so a repeated or late event (the bus
 * delivers to every node, maybe twice) changes nothing:
 * - the policy is chosen again each time (its queue, priority or labels may have changed since:
 *   routing sets the queue after `conversation.created`), and live clocks are re-planned on it;
 * - resolved stops every clock; pending or snoozed pauses them; open resumes them and keeps a
 *   resolution clock running (from creation, or from now once it was reopened);
 * - a customer message starts first response (no agent reply yet) or next response (after one);
 *   an agent's public reply meets both.
 */
export async function reconcileConversation(db: Db, workspaceId: string, conversationId: string, item?: TimelineView) {
  await db.transaction(async (tx) => {
    const [row] = await tx
      .select({ conversation: conversations, attributes: contacts.attributes, queueHours: queues.businessHours })
      .from(conversations)
      .innerJoin(contacts, eq(contacts.id, conversations.contactId))
      .leftJoin(queues, and(eq(queues.id, conversations.queueId), eq(queues.workspaceId, conversations.workspaceId)))
      .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.id, conversationId)));
    if (!row) return;
    const c = row.conversation;
    const subject: ClockSubject = { workspaceId, conversationId };
    const now = new Date();
    if (c.status === "resolved") return stopClocks(tx, subject, ALL, now);

    const policy = choosePolicy(await activePolicies(tx, workspaceId), conversationSubject(c, row.attributes));
    if (!policy) return;
    const hours = policy.businessHours ? (row.queueHours ?? (await workspaceCalendar(tx, workspaceId))) : null;
    let clocks = await liveClocks(tx, subject);
    await replanClocks(tx, clocks, policy, hours, now);
    const waiting = c.status === "pending" || c.status === "snoozed";
    if (waiting) await pauseClocks(tx, clocks, now);
    else await resumeClocks(tx, clocks, now);

    if (!clocks.some((k) => k.metric === "resolution")) {
      const reopened = await everStarted(tx, subject, "resolution");
      await startClock(tx, subject, policy, "resolution", hours, reopened ? now : c.createdAt, waiting);
    }
    if (!item) return;
    if (isAgentReply(item)) {
      await stopClocks(tx, subject, ["first_response", "next_response"], new Date(item.createdAt));
      return;
    }
    if (!isCustomerMessage(item) || (await agentReplied(tx, conversationId, item.seq, "after"))) return;
    const at = new Date(item.createdAt);
    if (!(await agentReplied(tx, conversationId, item.seq, "before"))) {
      if (!(await everStarted(tx, subject, "first_response")))
        await startClock(tx, subject, policy, "first_response", hours, at, waiting);
    } else {
      clocks = await liveClocks(tx, subject);
      if (!clocks.some((k) => k.metric === "next_response"))
        await startClock(tx, subject, policy, "next_response", hours, at, waiting);
    }
  });
}

/** A conversation as SLA conditions read it. */
export function conversationSubject(
  c: typeof conversations.$inferSelect,
  attributes: Record<string, unknown>,
): ConditionSubject {
  return {
    kind: "conversation",
    channel: c.channel,
    inboxId: c.inboxId,
    status: c.status,
    priority: priorityName(c.priority),
    labels: c.labels,
    queueId: c.queueId,
    teamId: c.teamId,
    assigneeId: c.assigneeId,
    vip: attributes.vip === true,
    contact: attributes,
  };
}
