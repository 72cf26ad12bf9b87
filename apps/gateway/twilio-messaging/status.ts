import { and, eq } from "drizzle-orm";
import { advances, type StatusReport } from "../../../channels/twilio-messaging/index.ts";
import { scopeOf } from "../../../conversations/conversation.ts";
import { isPublicItem, loadTimelineItem } from "../../../conversations/timeline.ts";
import { withEvents, type Core } from "../../../conversations/transaction.ts";
import { conversations, outbox, timelineItems } from "../../../db/schema/index.ts";
import { announceContact, setConsent } from "./contact-link.ts";

/** How long a status callback for a message still being recorded as sent waits for that record. */
const SETTLE_WAIT_MS = 5000;

/**
 * A status callback onto the reply it is about, found by (inbox, Message SID) — the SID the outbox
 * stored when Twilio accepted the message. Twilio may call back before that is recorded (the
 * callback races the answer to our POST): the callback URL names the reply's item, and such a
 * callback waits briefly for the record, so the outbox's "sent" cannot land after it and move the
 * message back. A status only moves forward (parse.ts `advances`); "item.updated" tells open inboxes.
 * Error 21610 (the recipient replied STOP at the carrier) also marks their identity opted out.
 */
export async function applyStatus(
  core: Core,
  inbox: { id: string; workspaceId: string; channel: "sms" | "whatsapp" },
  report: StatusReport,
  hint: { itemId?: string; to?: string },
) {
  const found = await itemOfSid(core, inbox, report.messageSid, hint.itemId);
  if (!found) return false;
  const changed = await withEvents(core, async (tx, events) => {
    const [item] = await tx
      .select()
      .from(timelineItems)
      .where(and(eq(timelineItems.id, found), eq(timelineItems.workspaceId, inbox.workspaceId)))
      .for("update");
    if (!item || !advances(item.deliveryStatus, report.status)) return false;
    const failed = report.status === "failed";
    await tx
      .update(timelineItems)
      .set({
        deliveryStatus: report.status,
        deliveryError: failed ? (report.error ?? "Not delivered") : null,
        data: {
          ...item.data,
          twilioStatus: report.twilioStatus,
          ...(report.errorCode ? { errorCode: report.errorCode } : {}),
        },
      })
      .where(eq(timelineItems.id, item.id));
    if (failed)
      await tx
        .update(outbox)
        .set({ status: "failed", lastError: report.error ?? "Not delivered", updatedAt: new Date() })
        .where(and(eq(outbox.timelineItemId, item.id), eq(outbox.status, "sent")));
    const [conversation] = await tx.select().from(conversations).where(eq(conversations.id, item.conversationId));
    await events.append(inbox.workspaceId, {
      type: "item.updated",
      conversationId: item.conversationId,
      public: isPublicItem(item),
      payload: { item: (await loadTimelineItem(tx, item.id))!, scope: scopeOf(conversation!) },
    });
    if (report.errorCode === "21610" && hint.to) {
      const kind = inbox.channel === "whatsapp" ? "whatsapp" : "phone";
      return (await setConsent(tx, inbox.workspaceId, { kind, value: hint.to }, "opted_out")) ?? true;
    }
    return true;
  });
  if (typeof changed === "string") await announceContact(core, inbox.workspaceId, changed);
  return changed !== false;
}

async function itemOfSid(core: Core, inbox: { id: string; workspaceId: string }, sid: string, itemId?: string) {
  const bySid = () =>
    core.db
      .select({ id: timelineItems.id })
      .from(timelineItems)
      .where(
        and(
          eq(timelineItems.workspaceId, inbox.workspaceId),
          eq(timelineItems.inboxId, inbox.id),
          eq(timelineItems.externalId, sid),
          eq(timelineItems.direction, "out"),
        ),
      );
  const [known] = await bySid();
  if (known || !itemId) return known?.id;
  // Only a reply of this inbox still being sent (no SID recorded yet) is waited for.
  const [sending] = await core.db
    .select({ id: timelineItems.id })
    .from(timelineItems)
    .innerJoin(outbox, eq(outbox.timelineItemId, timelineItems.id))
    .where(
      and(
        eq(timelineItems.workspaceId, inbox.workspaceId),
        eq(timelineItems.inboxId, inbox.id),
        eq(timelineItems.id, itemId),
        eq(outbox.status, "pending"),
      ),
    );
  if (!sending) return undefined;
  const deadline = Date.now() + SETTLE_WAIT_MS;
  while (Date.now() < deadline) {
    await Bun.sleep(100);
    const [now] = await bySid();
    if (now) return now.id;
  }
  return undefined;
}
