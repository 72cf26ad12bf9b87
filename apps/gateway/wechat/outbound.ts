import { and, desc, eq } from "drizzle-orm";
import { wechatKindOf } from "../../../channels/wechat/setup.ts";
import type { AttachmentStore } from "../../../conversations/attachment.ts";
import type { OutboundMessage } from "../../../conversations/channel.ts";
import type { Core } from "../../../conversations/transaction.ts";
import { attachments, timelineItems, type OutboxRow } from "../../../db/schema/index.ts";

/**
 * OutboxOptions.prepare for Official Account replies: the OpenID to send to. An OpenID is per account,
 * and a contact joined by UnionID (union-id.ts) has one per account it wrote through; the reply goes to
 * the one its latest message through this inbox came from (`data.openId` of that item). Without one the
 * adapter takes the contact's first OpenID.
 */
export function prepareWechat(deps: { core: Core }) {
  return async (message: OutboundMessage, _row: OutboxRow): Promise<OutboundMessage> => {
    if (wechatKindOf(message.inbox.settings) !== "official") return message;
    const [last] = await deps.core.db
      .select({ data: timelineItems.data })
      .from(timelineItems)
      .where(
        and(
          eq(timelineItems.conversationId, message.conversationId),
          eq(timelineItems.inboxId, message.inbox.id),
          eq(timelineItems.direction, "in"),
        ),
      )
      .orderBy(desc(timelineItems.seq))
      .limit(1);
    const openId = last?.data.openId;
    if (typeof openId !== "string" || !message.to.some((i) => i.kind === "wechat" && i.value === openId))
      return message;
    return { ...message, channelData: { ...message.channelData, wechatOpenId: openId } };
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
