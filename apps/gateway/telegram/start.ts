import { and, desc, eq, inArray } from "drizzle-orm";
import { greetingFor } from "../../../channels/telegram/greeting.ts";
import type { ParsedUpdate } from "../../../channels/telegram/parse.ts";
import { appendItem } from "../../../conversations/append-item.ts";
import { lockContact, resolveContact } from "../../../conversations/contact.ts";
import { conversationView, OPEN_STATUSES, scopeOf } from "../../../conversations/conversation.ts";
import { findDelivered } from "../../../conversations/ingest.ts";
import { sendSystemMessage } from "../../../conversations/reply.ts";
import { withEvents, type Core } from "../../../conversations/transaction.ts";
import { conversations, type Inbox } from "../../../db/schema/index.ts";

type Start = Extract<ParsedUpdate, { kind: "start" }>;

/** The duplicate of a retried `/start` rolls its transaction back. */
class AlreadyStarted extends Error {}

/**
 * A customer pressed Start (or sent `/start`): an event on the timeline, not a message, so no agent
 * is offered a question nobody asked, and the inbox's greeting sent back through the outbox as a bot
 * message. The event goes into the customer's open conversation; without one, a new conversation is
 * opened as `pending` (waiting for the customer), which routing leaves alone. The customer's first
 * real message makes it `open`, and that queues it. Idempotent on `<chat_id>:<message_id>`: Telegram's
 * retry greets once.
 */
export async function recordStart(core: Core, inbox: Inbox, start: Start): Promise<{ duplicate: boolean }> {
  const workspaceId = inbox.workspaceId;
  if (await findDelivered(core.db, workspaceId, inbox.id, start.externalId)) return { duplicate: true };
  try {
    await withEvents(core, async (tx, events) => {
      const { contactId } = await resolveContact(tx, workspaceId, start.from);
      const contact = await lockContact(tx, workspaceId, contactId);
      // The lock order of ingest: contact, then its conversation.
      let [conversation] = await tx
        .select()
        .from(conversations)
        .where(and(eq(conversations.contactId, contactId), inArray(conversations.status, OPEN_STATUSES)))
        .orderBy(desc(conversations.lastActivityAt))
        .limit(1)
        .for("update");
      if (conversation && conversation.inboxId !== inbox.id)
        // The customer is here now (a contact also known from another channel): replies, the greeting
        // first, go back through this bot, as after any message (ingest does the same).
        [conversation] = await tx
          .update(conversations)
          .set({ inboxId: inbox.id, channel: "telegram" })
          .where(eq(conversations.id, conversation.id))
          .returning();
      if (!conversation) {
        [conversation] = await tx
          .insert(conversations)
          .values({ workspaceId, contactId, inboxId: inbox.id, channel: "telegram", status: "pending" })
          .returning();
        await events.append(workspaceId, {
          type: "conversation.created",
          conversationId: conversation!.id,
          payload: {
            conversation: conversationView(conversation!, contact),
            scope: scopeOf(conversation!),
          },
        });
      }
      const appended = await appendItem(tx, events, conversation!, {
        type: "event",
        eventType: "telegram.start",
        direction: "in",
        channel: "telegram",
        inboxId: inbox.id,
        externalId: start.externalId,
        senderType: "contact",
        senderId: contactId,
        data: { ...start.data, senderName: contact.name ?? start.from.displayName ?? null },
        createdAt: start.sentAt,
      });
      if (!appended) throw new AlreadyStarted();
      await sendSystemMessage(tx, events, conversation!.id, greetingFor(inbox.settings, start.languageCode), {
        senderType: "bot",
        data: { greetingFor: appended.row.id },
      });
    });
  } catch (err) {
    if (err instanceof AlreadyStarted) return { duplicate: true };
    throw err;
  }
  return { duplicate: false };
}
