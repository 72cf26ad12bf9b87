import { and, desc, eq, sql } from "drizzle-orm";
import type { Executor, Tx } from "../db/connect.ts";
import {
  contacts,
  conversations,
  inboxes,
  ticketEntries,
  timelineItems,
  workspaceSettings,
  type Ticket,
  type TicketStatus,
} from "../db/schema/index.ts";
import type { EventLog } from "../conversations/event.ts";
import { sendSystemMessage } from "../conversations/reply.ts";
import { assertReplyWindowOpen } from "../conversations/reply-window-of.ts";
import { DomainError } from "../platform/errors.ts";

export const NOTICE_LANGUAGES = ["en", "zh-CN"] as const;
type NoticeTexts = Partial<Record<TicketStatus, Record<string, string>>>;

/**
 * What the customer is told when their ticket moves, unless the workspace wrote its own
 * (workspace_settings.ticket_notices). `{number}` and `{title}` are filled in. Nothing is sent for `new`.
 */
export const DEFAULT_NOTICES: Record<
  Exclude<TicketStatus, "new">,
  Record<(typeof NOTICE_LANGUAGES)[number], string>
> = {
  open: {
    en: "Your ticket #{number} is now being worked on.",
    "zh-CN": "您的工单 #{number} 正在处理中。",
  },
  pending_customer: {
    en: "We need a little more information for your ticket #{number}: please reply to this message.",
    "zh-CN": "您的工单 #{number} 需要您补充一些信息，请直接回复本消息。",
  },
  pending_third_party: {
    en: "Your ticket #{number} is waiting on a partner of ours; we will tell you as soon as it moves.",
    "zh-CN": "您的工单 #{number} 正在等待合作方处理，有进展我们会第一时间通知您。",
  },
  solved: {
    en: "Your ticket #{number} has been solved. If anything is still wrong, just reply.",
    "zh-CN": "您的工单 #{number} 已解决。如仍有问题，请直接回复。",
  },
  closed: {
    en: "Your ticket #{number} is now closed. Thank you.",
    "zh-CN": "您的工单 #{number} 已关闭，感谢您的耐心。",
  },
};

/** A language tag as the notices know it: any Chinese is zh-CN, anything else its own tag. */
export function noticeLanguage(tag: unknown): string | undefined {
  if (typeof tag !== "string" || !tag.trim()) return undefined;
  return /^zh\b/i.test(tag) ? "zh-CN" : tag.trim();
}

/** The text for a status in a language: the workspace's own, else the built-in one, else English. */
export function noticeText(
  custom: NoticeTexts,
  status: Exclude<TicketStatus, "new">,
  lang: string,
  t: Pick<Ticket, "number" | "title">,
) {
  const own = custom[status] ?? {};
  const builtIn = DEFAULT_NOTICES[status] as Record<string, string>;
  const base = lang.split("-")[0]!;
  const template = own[lang] ?? own[base] ?? builtIn[lang] ?? builtIn[base] ?? own.en ?? builtIn.en!;
  return template.replaceAll("{number}", String(t.number)).replaceAll("{title}", t.title);
}

export async function ticketNoticesOf(db: Executor, workspaceId: string): Promise<NoticeTexts> {
  const [row] = await db
    .select({ notices: workspaceSettings.ticketNotices })
    .from(workspaceSettings)
    .where(eq(workspaceSettings.workspaceId, workspaceId));
  return row?.notices ?? {};
}

/**
 * Tells the customer of a status change on the conversation the ticket came from, through the outbox
 * like any automatic message (which leaves the conversation's status alone, skips an opted-out number
 * and never answers an auto-reply). A send the channel would refuse (WhatsApp past its 24-hour window)
 * is recorded on the ticket instead; the status change itself never fails for it.
 */
export async function sendTicketNotice(tx: Tx, events: EventLog, ticket: Ticket, status: TicketStatus) {
  if (status === "new" || !ticket.conversationId) return;
  const [conversation] = await tx.select().from(conversations).where(eq(conversations.id, ticket.conversationId));
  if (!conversation) return;
  const [inbox] = await tx.select().from(inboxes).where(eq(inboxes.id, conversation.inboxId));
  const [contact] = await tx
    .select({ attributes: contacts.attributes })
    .from(contacts)
    .where(eq(contacts.id, conversation.contactId));
  const lang =
    noticeLanguage(contact?.attributes.language) ??
    noticeLanguage(contact?.attributes.locale) ??
    noticeLanguage(inbox?.settings.locale) ??
    "en";
  const text = noticeText(await ticketNoticesOf(tx, ticket.workspaceId), status, lang, ticket);
  const record = (data: Record<string, unknown>) =>
    tx.insert(ticketEntries).values({
      workspaceId: ticket.workspaceId,
      ticketId: ticket.id,
      kind: "notification",
      body: text,
      data: { status, conversationId: conversation.id, channel: conversation.channel, language: lang, ...data },
    });
  if (inbox) {
    try {
      await assertReplyWindowOpen(tx, conversation, inbox);
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      await record({ sent: false, reason: err.message });
      return;
    }
  }
  const email = conversation.channel === "email" ? { subject: await noticeSubject(tx, conversation.id, ticket) } : {};
  const item = await sendSystemMessage(tx, events, conversation.id, text, {
    senderType: "system",
    data: { ticketId: ticket.id, ticketNumber: ticket.number, ...email },
  });
  await record(item ? { sent: true, itemId: item.id } : { sent: false, reason: "opted out or automated sender" });
}

/**
 * A notice by mail keeps the thread's subject and carries the ticket's number (`Re: Broken kettle
 * [#1042]`), so the customer's reply names the ticket even if their mail program breaks the thread.
 */
async function noticeSubject(tx: Tx, conversationId: string, ticket: Pick<Ticket, "number" | "title">) {
  const [last] = await tx
    .select({ subject: sql<string>`${timelineItems.data}->>'subject'` })
    .from(timelineItems)
    .where(and(eq(timelineItems.conversationId, conversationId), sql`${timelineItems.data} ? 'subject'`))
    .orderBy(desc(timelineItems.seq))
    .limit(1);
  const tag = `[#${ticket.number}]`;
  const thread = last?.subject?.trim().replace(/^\s*(re|aw|回复|答复)\s*[:：]\s*/i, "") || ticket.title;
  return thread.includes(tag) ? `Re: ${thread}` : `Re: ${thread} ${tag}`;
}

/** The workspace's own notice texts and the built-in ones they replace, for the settings screen. */
export async function ticketNoticeSettings(db: Executor, workspaceId: string) {
  return { notices: await ticketNoticesOf(db, workspaceId), defaults: DEFAULT_NOTICES };
}

/** Replaces the workspace's notice texts; a status or language left out uses the built-in text. */
export async function saveTicketNotices(db: Executor, workspaceId: string, notices: NoticeTexts) {
  const cleaned: NoticeTexts = {};
  for (const [status, texts] of Object.entries(notices) as [TicketStatus, Record<string, string>][]) {
    const kept = Object.fromEntries(Object.entries(texts ?? {}).filter(([, t]) => typeof t === "string" && t.trim()));
    if (Object.keys(kept).length) cleaned[status] = kept;
  }
  await db
    .insert(workspaceSettings)
    .values({ workspaceId, ticketNotices: cleaned })
    .onConflictDoUpdate({
      target: workspaceSettings.workspaceId,
      set: { ticketNotices: cleaned, updatedAt: new Date() },
    });
  return ticketNoticeSettings(db, workspaceId);
}
