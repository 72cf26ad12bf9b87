import { and, desc, eq, sql } from "drizzle-orm";
import { wechatKindOf } from "../../../channels/wechat/setup.ts";
import type { AttachmentStore } from "../../../conversations/attachment.ts";
import type { OutboundMessage } from "../../../conversations/channel.ts";
import type { Core } from "../../../conversations/transaction.ts";
import { attachments, conversations, timelineItems, type OutboxRow } from "../../../db/schema/index.ts";

/**
 * OutboxOptions.prepare for WeChat replies: whom in WeChat the reply goes to. An OpenID is per Official
 * Account and an external_userid per WeCom corp, and a contact joined by UnionID (union-id.ts) has one per
 * account it wrote through: the reply goes to the one its latest message through this inbox came from
 * (`data.openId`, `data.externalUserId` of that item), in this conversation, else in the contact's others.
 * Without one the adapter takes the contact's first identity of the kind.
 */
export function prepareWechat(deps: { core: Core }) {
  return async (message: OutboundMessage, _row: OutboxRow): Promise<OutboundMessage> => {
    const kind = wechatKindOf(message.inbox.settings);
    const pick =
      kind === "official"
        ? ({ field: "openId", identity: "wechat", channelData: "wechatOpenId" } as const)
        : kind === "wecom"
          ? ({ field: "externalUserId", identity: "wecom", channelData: "wecomExternalUserId" } as const)
          : undefined;
    if (!pick) return message;
    const [conversation] = await deps.core.db
      .select({ contactId: conversations.contactId })
      .from(conversations)
      .where(eq(conversations.id, message.conversationId));
    if (!conversation) return message;
    const [last] = await deps.core.db
      .select({ data: timelineItems.data })
      .from(timelineItems)
      .innerJoin(conversations, eq(conversations.id, timelineItems.conversationId))
      .where(
        and(
          eq(conversations.contactId, conversation.contactId),
          eq(timelineItems.inboxId, message.inbox.id),
          eq(timelineItems.direction, "in"),
        ),
      )
      .orderBy(desc(sql`${timelineItems.conversationId} = ${message.conversationId}`), desc(timelineItems.seq))
      .limit(1);
    const value = last?.data[pick.field];
    if (typeof value !== "string" || !message.to.some((i) => i.kind === pick.identity && i.value === value))
      return message;
    return { ...message, channelData: { ...message.channelData, [pick.channelData]: value } };
  };
}

/** The bytes of a reply's attachment from the file store, for image replies (WechatSendOptions.readFile). */
export function readAttachment(deps: { core: Core; files: Pick<AttachmentStore, "localPath"> }) {
  return async (file: OutboundMessage["attachments"][number]) => {
    const [row] = await deps.core.db
      .select({ storageKey: attachments.storageKey })
      .from(attachments)
      .where(eq(attachments.id, file.id));
    if (!row) throw new Error(`The attachment ${file.name} is no longer stored`);
    return new Uint8Array(await Bun.file(deps.files.localPath(row.storageKey)).arrayBuffer());
  };
}
