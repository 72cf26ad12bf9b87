import { and, desc, eq } from "drizzle-orm";
import type { Tx } from "../db/connect.ts";
import { contacts, conversations, inboxes, outbox, timelineItems } from "../db/schema/index.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import type { Actor } from "./actor.ts";
import { appendItem } from "./append-item.ts";
import { MAX_TEXT } from "./channel.ts";
import { conversationView, getConversation, scopeOf, summarize, visibleConversation } from "./conversation.ts";
import type { EventLog } from "./event.ts";
import { assertNotOptedOut, optedOutRecipient } from "./opt-out.ts";
import { OPT_OUT_CHANNELS } from "./recipient.ts";
import { templateReply, templatesOf, type TemplateInput } from "./reply-template.ts";
import { assertReplyWindowOpen } from "./reply-window-of.ts";
import { withEvents, type Core } from "./transaction.ts";

export type ReplyInput = {
  text?: string;
  private?: boolean;
  attachments?: string[];
  inboxId?: string;
  /** Email addressing (recipients, subject, reply-all, forward), kept on the item for the sender. */
  email?: { to?: string[]; cc?: string[]; subject?: string; replyAll?: boolean; forward?: boolean };
  /** WhatsApp: an approved template (by Content SID) and its variables, instead of text. */
  template?: TemplateInput;
};

/**
 * An agent's reply or private note. A reply goes out through the outbox, written in the same
 * transaction, on the conversation's current inbox or another inbox the agent picks.
 */
export async function reply(core: Core, actor: Actor, conversationId: string, input: ReplyInput) {
  const isNote = input.private === true;
  if (input.template && isNote) throw new Invalid("A private note cannot be a template", "template");
  if (input.template && (input.text?.trim() || input.attachments?.length))
    throw new Invalid("A template reply sends the template's own text: leave text and attachments out", "template");
  let text = input.text?.trim() ? input.text : null;
  if (!text && !input.attachments?.length && !input.template)
    throw new Invalid("A message needs text or an attachment", "text");
  if (text && text.length > MAX_TEXT) throw new Invalid(`Text is longer than ${MAX_TEXT} characters`, "text");
  return withEvents(core, async (tx, events) => {
    const conversation = await visibleConversation(tx, actor, conversationId, true);
    let inbox = { id: conversation.inboxId, channel: conversation.channel };
    let template: ReturnType<typeof templateReply>["template"] | undefined;
    if (!isNote) {
      const [chosen] = await tx
        .select({ id: inboxes.id, channel: inboxes.channel, settings: inboxes.settings })
        .from(inboxes)
        .where(and(eq(inboxes.workspaceId, actor.workspaceId), eq(inboxes.id, input.inboxId ?? conversation.inboxId)));
      if (!chosen) throw new NotFound("Inbox", "inboxId");
      inbox = chosen;
      if (input.template) {
        if (chosen.channel !== "whatsapp")
          throw new Invalid("Templates are sent only through WhatsApp inboxes", "template");
        ({ text, template } = templateReply(templatesOf(chosen.settings), input.template));
      }
      // Nothing goes to a customer who wrote STOP (SMS, WhatsApp) until they write START.
      await assertNotOptedOut(tx, conversation, chosen);
      // WeChat (48 h) and WhatsApp (24 h) refuse free-form replies past their window: say so now, not as a
      // failed send. An approved WhatsApp template is what may still go.
      if (!template) await assertReplyWindowOpen(tx, conversation, chosen);
    }
    const appended = (await appendItem(
      tx,
      events,
      conversation,
      {
        type: isNote ? "note" : "message",
        direction: isNote ? null : "out",
        channel: isNote ? null : inbox.channel,
        inboxId: isNote ? null : inbox.id,
        senderType: "agent",
        senderId: actor.userId,
        text,
        data: {
          senderName: actor.name,
          ...(!isNote && inbox.channel === "email" ? input.email : {}),
          // The sender sends ContentSid and ContentVariables from it; `text` is what the customer reads.
          ...(template ? { template } : {}),
        },
        deliveryStatus: isNote ? null : "pending",
      },
      { ids: input.attachments ?? [], owner: { userId: actor.userId } },
    ))!;
    const files = appended.view.attachments;
    if (!isNote) {
      await tx.insert(outbox).values({
        workspaceId: actor.workspaceId,
        timelineItemId: appended.row.id,
        conversationId: conversation.id,
        inboxId: inbox.id,
        channel: inbox.channel,
      });
      await tx
        .update(conversations)
        .set({
          lastMessageText: summarize(text, files.length),
          lastActivityAt: new Date(),
          firstResponseAt: conversation.firstResponseAt ?? new Date(),
          // Answered: a private note is not, nor is an automatic message (sendSystemMessage).
          waitingSince: null,
        })
        .where(eq(conversations.id, conversation.id));
    }
    return appended.view;
  });
}

/**
 * A conversation an agent starts (a new outbound email to a contact): created assigned to the agent,
 * so routing leaves it with them, then the first message goes out as any reply does.
 */
export async function startConversation(
  core: Core,
  actor: Actor,
  input: { contactId: string; inboxId: string } & ReplyInput,
) {
  if (!input.text?.trim() && !input.attachments?.length)
    throw new Invalid("A message needs text or an attachment", "text");
  const conversation = await withEvents(core, async (tx, events) => {
    const [inbox] = await tx
      .select({ id: inboxes.id, channel: inboxes.channel })
      .from(inboxes)
      .where(and(eq(inboxes.workspaceId, actor.workspaceId), eq(inboxes.id, input.inboxId)));
    if (!inbox) throw new NotFound("Inbox", "inboxId");
    const [contact] = await tx
      .select({ id: contacts.id, name: contacts.name })
      .from(contacts)
      .where(and(eq(contacts.workspaceId, actor.workspaceId), eq(contacts.id, input.contactId)));
    if (!contact) throw new NotFound("Contact", "contactId");
    const [created] = await tx
      .insert(conversations)
      .values({
        workspaceId: actor.workspaceId,
        contactId: contact.id,
        inboxId: inbox.id,
        channel: inbox.channel,
        assigneeId: actor.userId,
      })
      .returning();
    await events.append(actor.workspaceId, {
      type: "conversation.created",
      conversationId: created!.id,
      payload: { conversation: conversationView(created!, contact), scope: scopeOf(created!) },
    });
    return created!;
  });
  const item = await reply(core, actor, conversation.id, { ...input, private: false, inboxId: undefined });
  return { conversation: await getConversation(core.db, actor, conversation.id), item };
}

/**
 * An automatic message to the customer (a queue's "we are busy" reply), sent like an agent's reply
 * through the outbox, inside a caller's transaction. It is not a first response: no agent wrote it.
 */
export async function sendSystemMessage(
  tx: Tx,
  events: EventLog,
  conversationId: string,
  text: string,
  // The knowledge bot's answers are "bot" messages, with the article they quote in data.
  from: { senderType: "system" | "bot"; data?: Record<string, unknown> } = { senderType: "system" },
) {
  const [conversation] = await tx
    .select()
    .from(conversations)
    .where(eq(conversations.id, conversationId))
    .for("update");
  if (!conversation) throw new NotFound("Conversation");
  // Mail-loop protection: an automatic message never answers one (an auto-reply, a bounce, a list).
  const [last] = await tx
    .select({ data: timelineItems.data })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.conversationId, conversationId),
        eq(timelineItems.type, "message"),
        eq(timelineItems.direction, "in"),
      ),
    )
    .orderBy(desc(timelineItems.seq))
    .limit(1);
  if (last?.data.automated) return undefined;
  // Nothing automatic (a queue's auto-reply, the bot, a greeting) goes to a customer who wrote STOP on
  // SMS or WhatsApp: it could only fail at the outbox.
  if (OPT_OUT_CHANNELS.has(conversation.channel)) {
    const [inbox] = await tx
      .select({ id: inboxes.id, channel: inboxes.channel, settings: inboxes.settings })
      .from(inboxes)
      .where(eq(inboxes.id, conversation.inboxId));
    if (inbox && (await optedOutRecipient(tx, conversation, inbox))) return undefined;
  }
  const appended = (await appendItem(tx, events, conversation, {
    type: "message",
    direction: "out",
    channel: conversation.channel,
    inboxId: conversation.inboxId,
    senderType: from.senderType,
    text,
    data: from.data ?? {},
    deliveryStatus: "pending",
  }))!;
  await tx.insert(outbox).values({
    workspaceId: conversation.workspaceId,
    timelineItemId: appended.row.id,
    conversationId: conversation.id,
    inboxId: conversation.inboxId,
    channel: conversation.channel,
  });
  return appended.view;
}
