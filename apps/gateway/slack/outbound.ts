import { and, desc, eq, isNotNull, sql } from "drizzle-orm";
import type { OutboundMessage } from "../../../conversations/channel.ts";
import type { Core } from "../../../conversations/transaction.ts";
import { timelineItems, type OutboxRow } from "../../../db/schema/index.ts";

/**
 * OutboxOptions.prepare for Slack replies: the thread to answer in, which only the database knows —
 * the thread (`<channel>:<root ts>`) of the customer's latest Slack message in the conversation.
 */
export function prepareSlack(deps: { core: Core }) {
  return async (message: OutboundMessage, row: OutboxRow): Promise<OutboundMessage> => {
    if (message.threadKey) return message;
    const [latest] = await deps.core.db
      .select({ threadKey: sql<string>`${timelineItems.data}->>'threadKey'` })
      .from(timelineItems)
      .where(
        and(
          eq(timelineItems.conversationId, message.conversationId),
          eq(timelineItems.inboxId, row.inboxId),
          eq(timelineItems.direction, "in"),
          isNotNull(sql`${timelineItems.data}->>'threadKey'`),
        ),
      )
      .orderBy(desc(timelineItems.seq))
      .limit(1);
    return latest?.threadKey ? { ...message, threadKey: latest.threadKey } : message;
  };
}
