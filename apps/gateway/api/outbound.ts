import { eq } from "drizzle-orm";
import type { ApiCallbackData } from "../../../channels/api/index.ts";
import type { OutboundMessage } from "../../../conversations/channel.ts";
import type { Core } from "../../../conversations/transaction.ts";
import { contacts, conversations, timelineItems, type OutboxRow } from "../../../db/schema/index.ts";

/**
 * OutboxOptions.prepare for API-channel replies: what only the database knows (the reply's item and
 * time, the contact and the integration's identifier for it), the hosts the outbound-URL policy allows,
 * and absolute file links.
 */
export function prepareApi(deps: { core: Core; config: { outboundAllowHosts: string[]; publicUrl?: string } }) {
  return async (message: OutboundMessage, row: OutboxRow): Promise<OutboundMessage> => {
    const db = deps.core.db;
    const [item] = await db
      .select({ createdAt: timelineItems.createdAt })
      .from(timelineItems)
      .where(eq(timelineItems.id, row.timelineItemId));
    const [contact] = await db
      .select({ id: contacts.id, name: contacts.name })
      .from(conversations)
      .innerJoin(contacts, eq(contacts.id, conversations.contactId))
      .where(eq(conversations.id, message.conversationId));
    const api: ApiCallbackData = {
      itemId: row.timelineItemId,
      createdAt: (item?.createdAt ?? new Date()).toISOString(),
      contact: {
        id: contact?.id ?? "",
        identifier: message.to.find((i) => i.kind === "api")?.value ?? null,
        name: contact?.name ?? null,
      },
      allowHosts: deps.config.outboundAllowHosts,
    };
    const base = deps.config.publicUrl;
    const attachments = base ? message.attachments.map((a) => ({ ...a, url: `${base}${a.url}` })) : message.attachments;
    return { ...message, attachments, channelData: { ...message.channelData, api } };
  };
}
