import { and, eq, inArray } from "drizzle-orm";
import { isRule, type ChangeBy } from "../conversations/actor.ts";
import { appendItem, recordChange } from "../conversations/append-item.ts";
import { assignWithin } from "../conversations/assignment.ts";
import { renderTemplate } from "../conversations/canned-template.ts";
import { PRIORITY_VALUE } from "../conversations/condition.ts";
import { contactOf } from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { sendSystemMessage } from "../conversations/reply.ts";
import type { Tx } from "../db/connect.ts";
import {
  cannedResponses,
  conversations,
  queues,
  teams,
  webhookDeliveries,
  workItems,
  type Conversation,
} from "../db/schema/index.ts";
import { priorityFor } from "../routing/entry.ts";
import { LIVE } from "../routing/work.ts";
import { NotFound } from "../platform/errors.ts";
import { changeTicket } from "../tickets/change-ticket.ts";
import { insertTicket } from "../tickets/create-ticket.ts";
import type { Action } from "./action.ts";

/** What the actions act on: a conversation, a ticket, or both (a ticket event of a ticket with a conversation). */
export type Target = { workspaceId: string; conversationId: string | null; ticketId: string | null };

/**
 * Who acts and how the timeline names it: a rule (`by: {rule}`; recordChange adds data.rule), or an
 * agent applying a macro (`by: actor`, `via: {macro: {id, name}}` on every item).
 */
export type ApplyContext = {
  by: ChangeBy;
  via?: Record<string, unknown>;
  /** The run's unique key: one webhook delivery per run. */
  runKey: string;
  /** What a webhook action sends about the event. */
  event?: { type: string; seq?: number };
};

export type ActionResult = { type: Action["type"]; done: boolean; detail?: Record<string, unknown> };

const lockConversation = async (tx: Tx, id: string) => {
  const [c] = await tx.select().from(conversations).where(eq(conversations.id, id)).for("update");
  if (!c) throw new NotFound("Conversation");
  return c;
};

/** A conversation change with its timeline item, in the caller's transaction. */
async function change(
  tx: Tx,
  events: EventLog,
  ctx: ApplyContext,
  id: string,
  set: Partial<Conversation>,
  eventType: string,
  data: Record<string, unknown>,
) {
  const before = await lockConversation(tx, id);
  const [after] = await tx.update(conversations).set(set).where(eq(conversations.id, id)).returning();
  await recordChange(tx, events, ctx.by, before, after!, eventType, { ...data, ...ctx.via });
  return after!;
}

/** Ends the conversation's live work item (a move to another queue or team starts anew). */
const endLiveWork = (tx: Tx, conversationId: string, now: Date) =>
  tx
    .update(workItems)
    .set({ state: "done", endedAt: now, reservationExpiresAt: null })
    .where(and(eq(workItems.conversationId, conversationId), inArray(workItems.state, [...LIVE])))
    .returning();

const ruleData = (ctx: ApplyContext) => (isRule(ctx.by) ? { rule: ctx.by.rule } : {});
const agentOf = (by: ChangeBy) => (by !== "system" && !isRule(by) ? by : undefined);

async function conversationAction(tx: Tx, events: EventLog, ctx: ApplyContext, id: string, a: Action, now: Date) {
  switch (a.type) {
    case "label":
    case "remove_label": {
      const c = await lockConversation(tx, id);
      const labels = a.type === "label" ? [...new Set([...c.labels, a.value])] : c.labels.filter((l) => l !== a.value);
      if (labels.length === c.labels.length) return { labels };
      await change(tx, events, ctx, id, { labels }, "labels_changed", { labels });
      return { labels };
    }
    case "set_priority":
      await change(tx, events, ctx, id, { priority: PRIORITY_VALUE[a.value] }, "priority_changed", {
        priority: a.value,
      });
      return { priority: a.value };
    case "close": {
      const c = await lockConversation(tx, id);
      if (c.status === "resolved") return { status: "resolved" };
      await change(
        tx,
        events,
        ctx,
        id,
        { status: "resolved", resolvedAt: now, snoozedUntil: null, waitingSince: null },
        "status_changed",
        { from: c.status, to: "resolved" },
      );
      return { status: "resolved" };
    }
    case "assign_agent":
      await lockConversation(tx, id);
      await assignWithin(tx, events, ctx.by, id, a.userId);
      return { assigneeId: a.userId };
    case "assign_team": {
      const [team] = await tx.select({ name: teams.name }).from(teams).where(eq(teams.id, a.teamId));
      if (!team) throw new NotFound("Team", "teamId");
      await lockConversation(tx, id);
      await endLiveWork(tx, id, now);
      await change(tx, events, ctx, id, { teamId: a.teamId, assigneeId: null }, "transferred", {
        teamId: a.teamId,
        teamName: team.name,
        note: null,
      });
      return { teamId: a.teamId };
    }
    case "assign_queue": {
      const [queue] = await tx.select().from(queues).where(eq(queues.id, a.queueId));
      if (!queue) throw new NotFound("Queue", "queueId");
      const c = await lockConversation(tx, id);
      const [previous] = await endLiveWork(tx, id, now);
      await change(tx, events, ctx, id, { queueId: queue.id, assigneeId: null }, "transferred", {
        queueId: queue.id,
        queueName: queue.name,
        note: null,
      });
      // Waits in the queue like any transfer; the router's pass (or its safety tick) offers it.
      if (c.status === "open")
        await tx
          .insert(workItems)
          .values({
            workspaceId: c.workspaceId,
            conversationId: id,
            queueId: queue.id,
            channel: c.channel,
            priority: previous?.priority ?? priorityFor(queue.priorityRules, {}),
            requiredSkills: queue.requiredSkills,
            enqueuedAt: now,
          })
          .onConflictDoNothing();
      return { queueId: queue.id };
    }
    case "reply": {
      let body = a.body;
      if (a.cannedId) {
        const [canned] = await tx
          .select({ body: cannedResponses.body })
          .from(cannedResponses)
          .where(eq(cannedResponses.id, a.cannedId));
        if (!canned) throw new NotFound("Canned response", "cannedId");
        body = canned.body;
      }
      const c = await lockConversation(tx, id);
      const contact = await contactOf(tx, c.contactId);
      const text = renderTemplate(body!, {
        "contact.name": contact.name ?? "",
        "agent.name": agentOf(ctx.by)?.name ?? "",
        "conversation.id": c.id,
      });
      const sent = await sendSystemMessage(tx, events, id, text, {
        senderType: "system",
        data: { ...ruleData(ctx), ...ctx.via, ...(agentOf(ctx.by) ? { senderName: agentOf(ctx.by)!.name } : {}) },
      });
      return sent ? { itemId: sent.id } : { skipped: "automatic messages do not go to this customer" };
    }
    case "note": {
      const c = await lockConversation(tx, id);
      const agent = agentOf(ctx.by);
      const note = await appendItem(tx, events, c, {
        type: "note",
        senderType: agent ? "agent" : "system",
        senderId: agent?.userId ?? null,
        text: a.body,
        data: { senderName: agent?.name ?? null, ...ruleData(ctx), ...ctx.via },
      });
      return { itemId: note!.view.id };
    }
    default:
      return undefined;
  }
}

/**
 * Applies actions in order inside the caller's transaction: the first failure throws and the caller's
 * transaction takes everything back (all or nothing). An action that needs a conversation on a ticket
 * without one (or a ticket status without a ticket) is skipped and says so in the results.
 */
export async function applyActions(
  tx: Tx,
  events: EventLog,
  target: Target,
  actions: Action[],
  ctx: ApplyContext,
  now = new Date(),
): Promise<ActionResult[]> {
  const results: ActionResult[] = [];
  for (const a of actions) {
    if (a.type === "webhook") {
      await tx
        .insert(webhookDeliveries)
        .values({
          workspaceId: target.workspaceId,
          webhookId: a.webhookId,
          eventId: `automation:${ctx.runKey}`,
          type: "automation.rule",
          payload: {
            rule: isRule(ctx.by) ? ctx.by.rule : null,
            event: ctx.event ?? null,
            conversationId: target.conversationId,
            ticketId: target.ticketId,
          },
        })
        .onConflictDoNothing();
      results.push({ type: a.type, done: true });
      continue;
    }
    if (a.type === "set_ticket_status") {
      if (!target.ticketId) {
        results.push({ type: a.type, done: false, detail: { skipped: "no ticket" } });
        continue;
      }
      await changeTicket(tx, events, target.workspaceId, target.ticketId, { status: a.value }, ctx.by);
      results.push({ type: a.type, done: true, detail: { status: a.value } });
      continue;
    }
    if (a.type === "create_ticket") {
      const c = target.conversationId ? await lockConversation(tx, target.conversationId) : undefined;
      const ticket = await insertTicket(
        tx,
        events,
        target.workspaceId,
        {
          title: a.title,
          type: a.ticketType ?? null,
          priority: a.priority,
          teamId: a.teamId ?? null,
          contactId: c?.contactId ?? null,
          conversationId: c?.id ?? null,
          source: isRule(ctx.by)
            ? { kind: "rule", ruleId: ctx.by.rule.id, name: ctx.by.rule.name }
            : { kind: "macro", name: String((ctx.via?.macro as { name?: string } | undefined)?.name ?? "") },
        },
        ctx.by,
      );
      results.push({ type: a.type, done: true, detail: { ticketId: ticket.id, number: ticket.number } });
      continue;
    }
    if (!target.conversationId) {
      results.push({ type: a.type, done: false, detail: { skipped: "no conversation" } });
      continue;
    }
    const detail = await conversationAction(tx, events, ctx, target.conversationId, a, now);
    results.push({ type: a.type, done: true, detail });
  }
  return results;
}
