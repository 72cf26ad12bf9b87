import { and, eq, gt, inArray, lte, sql } from "drizzle-orm";
import { sendSystemMessage } from "../conversations/reply.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { recipientKindOf, OPT_OUT_CHANNELS } from "../conversations/recipient.ts";
import {
  contactIdentities,
  conversations,
  inboxes,
  timelineItems,
  workItems,
  type WorkItemRow,
} from "../db/schema/index.ts";
import { queuePositionsOf } from "./estimate.ts";

type Eta = { position: number; estimatedWaitS: number | null };

/**
 * The customer's place in the queue, sent as a message on channels with no live view of it: the web
 * chat widget shows it and refreshes it (GET /widget/v1/queue), a caller hears it from the IVR, but a
 * WeChat, SMS, WhatsApp or Telegram customer only sees messages. An inbox turns it off with
 * settings.waitNotice = false. (Slack's shared channels are business customers talking to a team, not
 * a queue, and an API channel's app shows what it likes: neither gets one.)
 */
export const WAIT_NOTICE_CHANNELS = ["wechat", "sms", "whatsapp", "telegram"];

/**
 * Sent once per queueing, to work still waiting `afterMs` after it was queued (an agent free at once
 * has been offered it by then: no notice). Work queued longer ago than `withinMs` (a node that was
 * down) is not told any more: the place would come too late to help. A pass sends at most `perPass`.
 */
export const WAIT_NOTICE = { afterMs: 2_000, withinMs: 10 * 60_000, perPass: 100 };

/** What the customer reads, in the inbox's language: Chinese unless the inbox is English. */
export function waitNoticeText(locale: unknown, eta: { position: number; estimatedWaitS: number | null }) {
  const english = typeof locale === "string" && /^en\b/i.test(locale);
  const ahead = Math.max(0, eta.position - 1);
  const minutes = eta.estimatedWaitS === null ? null : Math.max(1, Math.round(eta.estimatedWaitS / 60));
  if (english) {
    const place =
      ahead === 0
        ? "You are next in line"
        : `There ${ahead === 1 ? "is 1 person" : `are ${ahead} people`} ahead of you`;
    return minutes === null
      ? `${place}. We'll be with you as soon as we can.`
      : `${place}; the estimated wait is about ${minutes} min.`;
  }
  const place = ahead === 0 ? "您是下一位" : `您前面还有 ${ahead} 位`;
  return minutes === null ? `${place}，我们会尽快为您服务。` : `${place}，预计等待约 ${minutes} 分钟。`;
}

/**
 * The customer opted out of the channel (wrote STOP on SMS or WhatsApp) from the number they last wrote
 * from in the conversation: no notice is written, as none could be sent (the sender refuses it) and a
 * skipped candidate must not hold a place in every pass.
 */
const optedOut = sql`EXISTS (
  SELECT 1 FROM ${contactIdentities} ci WHERE ci.workspace_id = ${workItems.workspaceId}
    AND ci.contact_id = ${conversations.contactId} AND ci.opted_out_at IS NOT NULL
    AND (${sql.join(
      [...OPT_OUT_CHANNELS].map(
        (channel) =>
          sql`(${workItems.channel} = ${channel} AND ci.kind = ${recipientKindOf({ channel, settings: {} })})`,
      ),
      sql` OR `,
    )})
    AND ci.value = COALESCE((SELECT t.data->>'from' FROM ${timelineItems} t
      WHERE t.conversation_id = ${workItems.conversationId} AND t.direction = 'in' AND t.type = 'message'
      ORDER BY t.seq DESC LIMIT 1), ci.value))`;

/** The notice already sent for a work item carries its id in the message's data. */
const notified = (workItemId: unknown) => sql`EXISTS (
  SELECT 1 FROM ${timelineItems} t WHERE t.conversation_id = ${workItems.conversationId}
    AND t.data->>'waitNoticeFor' = ${workItemId}::text)`;

/**
 * Tells customers who were queued a moment ago, and are still waiting, where they stand. Run by the
 * router's tick on every node: each notice is written with the conversation and the work item locked
 * (the lock order of routing/work.ts) and checked again inside, so two nodes send it once.
 * The places of all the pass's customers come from one statement per workspace, not one per notice, and
 * a pass takes at most `timing.perPass` (the oldest first): after a burst of new conversations the
 * backlog is worked off over a few ticks instead of holding one tick (and the offers it expires) for
 * seconds.
 */
export async function announceWaits(core: Core, now = new Date(), timing = WAIT_NOTICE) {
  const candidates = await core.db
    .select({ item: workItems, settings: inboxes.settings })
    .from(workItems)
    .innerJoin(conversations, eq(conversations.id, workItems.conversationId))
    .innerJoin(inboxes, eq(inboxes.id, conversations.inboxId))
    .where(
      and(
        eq(workItems.state, "waiting"),
        inArray(workItems.channel, WAIT_NOTICE_CHANNELS),
        lte(workItems.enqueuedAt, new Date(now.getTime() - timing.afterMs)),
        gt(workItems.enqueuedAt, new Date(now.getTime() - timing.withinMs)),
        sql`(${inboxes.settings}->>'waitNotice') IS DISTINCT FROM 'false'`,
        sql`NOT ${notified(workItems.id)}`,
        sql`NOT ${optedOut}`,
      ),
    )
    .orderBy(workItems.enqueuedAt, workItems.id)
    .limit(timing.perPass);
  if (!candidates.length) return 0;
  const byWorkspace = new Map<string, WorkItemRow[]>();
  for (const { item } of candidates)
    byWorkspace.set(item.workspaceId, [...(byWorkspace.get(item.workspaceId) ?? []), item]);
  const etas = new Map<string, Eta>();
  for (const items of byWorkspace.values())
    for (const [id, eta] of await queuePositionsOf(core.db, items)) etas.set(id, eta);
  let sent = 0;
  for (const { item, settings } of candidates) {
    const eta = etas.get(item.id);
    if (!eta) continue;
    const done = await withEvents(core, async (tx, events) => {
      const [c] = await tx
        .select({ id: conversations.id })
        .from(conversations)
        .where(eq(conversations.id, item.conversationId))
        .for("update", { skipLocked: true });
      if (!c) return false;
      const [w] = await tx
        .select({ id: workItems.id })
        .from(workItems)
        .where(and(eq(workItems.id, item.id), eq(workItems.state, "waiting"), sql`NOT ${notified(item.id)}`))
        .for("update", { skipLocked: true });
      if (!w) return false;
      const message = await sendSystemMessage(tx, events, c.id, waitNoticeText(settings.locale, eta), {
        senderType: "system",
        data: { waitNoticeFor: w.id, position: eta.position, estimatedWaitS: eta.estimatedWaitS },
      });
      return !!message;
    });
    if (done) sent++;
  }
  return sent;
}
