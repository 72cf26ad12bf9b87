import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { contactIdentities, conversations, inboxes, timelineItems } from "../db/schema/index.ts";
import { replyOptions, type ReplyOption } from "./reply-options.ts";
import {
  replyAlternatives,
  replyWindowAt,
  replyWindowRuleOf,
  ReplyWindowClosed,
  windowClosedMessage,
  type ReplyAlternative,
  type ReplyWindowCode,
} from "./reply-window.ts";

/** What `GET /api/v1/conversations/{id}` shows of the window (null for channels without one). */
export type ReplyWindowView = {
  open: boolean;
  closesAt: string | null;
  code: ReplyWindowCode;
  alternatives: ReplyAlternative[];
};

type Conversation = { id: string; workspaceId: string; contactId: string };

/** A scalar subquery or an aggregate comes back as text from some drivers, not as a Date. */
const toDate = (at: string | Date | null) => (at === null ? null : at instanceof Date ? at : new Date(at));

/**
 * The customer's inbound messages, in any conversation of the contact: a window belongs to the person
 * and the business account (WeChat's OpenID, WhatsApp's number), not to one conversation of ours.
 */
const inboundOf = (c: Conversation) =>
  and(
    eq(conversations.workspaceId, c.workspaceId),
    eq(conversations.contactId, c.contactId),
    eq(timelineItems.type, "message"),
    eq(timelineItems.direction, "in"),
  );

/** When the customer last wrote through `inboxId`, or null. */
async function lastInboundThrough(db: Executor, c: Conversation, inboxId: string) {
  const [row] = await db
    .select({ at: timelineItems.createdAt })
    .from(timelineItems)
    .innerJoin(conversations, eq(conversations.id, timelineItems.conversationId))
    .where(and(inboundOf(c), eq(timelineItems.inboxId, inboxId)))
    .orderBy(desc(timelineItems.seq))
    .limit(1);
  return row?.at ?? null;
}

/** The contact's email addresses and phone numbers the workspace has an inbox to reach. */
async function alternativesOf(db: Executor, c: Conversation) {
  const [identities, channels] = await Promise.all([
    db
      .select({ kind: contactIdentities.kind, value: contactIdentities.value })
      .from(contactIdentities)
      .where(
        and(
          eq(contactIdentities.workspaceId, c.workspaceId),
          eq(contactIdentities.contactId, c.contactId),
          inArray(contactIdentities.kind, ["email", "phone"]),
        ),
      )
      .orderBy(contactIdentities.createdAt, contactIdentities.id),
    db
      .selectDistinct({ channel: inboxes.channel })
      .from(inboxes)
      .where(and(eq(inboxes.workspaceId, c.workspaceId), inArray(inboxes.channel, ["email", "voice", "sms"]))),
  ]);
  return replyAlternatives(identities, new Set(channels.map((r) => r.channel)));
}

/**
 * How an agent can answer a conversation's contact, in two statements: the contact's identities, and
 * the workspace's inboxes each with the contact's last message through it. `replyWindow` is the window of
 * the conversation's own inbox (null when that channel has none); `replyOptions` every inbox that
 * reaches the contact, with its state (reply-options.ts).
 */
export async function replyChoicesOf(
  db: Executor,
  c: Conversation & { inboxId: string },
  now = new Date(),
): Promise<{ replyWindow: ReplyWindowView | null; replyOptions: ReplyOption[] }> {
  // The newest inbound message per inbox: when, and from which address (the sender replies to it).
  const last = db
    .selectDistinctOn([timelineItems.inboxId], {
      inboxId: timelineItems.inboxId,
      at: sql<string | Date | null>`${timelineItems.createdAt}`.as("last_inbound_at"),
      from: sql<string | null>`${timelineItems.data}->>'from'`.as("last_inbound_from"),
    })
    .from(timelineItems)
    .innerJoin(conversations, eq(conversations.id, timelineItems.conversationId))
    .where(inboundOf(c))
    .orderBy(timelineItems.inboxId, desc(timelineItems.seq))
    .as("last_inbound");
  const [identities, rows] = await Promise.all([
    db
      .select({
        kind: contactIdentities.kind,
        value: contactIdentities.value,
        optedOutAt: contactIdentities.optedOutAt,
      })
      .from(contactIdentities)
      .where(and(eq(contactIdentities.workspaceId, c.workspaceId), eq(contactIdentities.contactId, c.contactId)))
      .orderBy(asc(contactIdentities.createdAt), asc(contactIdentities.id)),
    db
      .select({
        id: inboxes.id,
        name: inboxes.name,
        channel: inboxes.channel,
        settings: inboxes.settings,
        lastInboundAt: last.at,
        lastFrom: last.from,
      })
      .from(inboxes)
      .leftJoin(last, eq(last.inboxId, inboxes.id))
      .where(eq(inboxes.workspaceId, c.workspaceId))
      .orderBy(asc(inboxes.createdAt), asc(inboxes.id)),
  ]);
  const withLast = rows.map((r) => ({ ...r, lastInboundAt: toDate(r.lastInboundAt) }));
  const own = withLast.find((i) => i.id === c.inboxId);
  const rule = own && replyWindowRuleOf(own);
  let replyWindow: ReplyWindowView | null = null;
  if (own && rule) {
    const { open, closesAt } = replyWindowAt(rule, own.lastInboundAt, now);
    replyWindow = {
      open,
      closesAt: closesAt?.toISOString() ?? null,
      code: rule.code,
      alternatives: replyAlternatives(identities, new Set(withLast.map((i) => i.channel))),
    };
  }
  return { replyWindow, replyOptions: replyOptions(identities, withLast, c.inboxId, now) };
}

/**
 * Refuses a free-form customer reply through `inbox` when its window is closed (409
 * reply_window_closed, saying why and what to do instead). Notes and WhatsApp templates never come here.
 */
export async function assertReplyWindowOpen(
  db: Executor,
  c: Conversation,
  inbox: { id: string; channel: string; settings: Record<string, unknown> },
  now = new Date(),
) {
  const rule = replyWindowRuleOf(inbox);
  if (!rule) return;
  const { open, closesAt } = replyWindowAt(rule, await lastInboundThrough(db, c, inbox.id), now);
  if (!open) throw new ReplyWindowClosed(windowClosedMessage(rule, closesAt, await alternativesOf(db, c)));
}
