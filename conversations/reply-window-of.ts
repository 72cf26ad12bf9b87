import { and, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { contactIdentities, inboxes, timelineItems } from "../db/schema/index.ts";
import {
  replyAlternatives,
  replyWindowAt,
  replyWindowRuleOf,
  ReplyWindowClosed,
  windowClosedMessage,
  type ReplyAlternative,
} from "./reply-window.ts";

/** What `GET /api/v1/conversations/{id}` shows of the window (null for channels without one). */
export type ReplyWindowView = {
  open: boolean;
  closesAt: string | null;
  code: "wechat_48h";
  alternatives: ReplyAlternative[];
};

type Conversation = { id: string; workspaceId: string; contactId: string };

/**
 * The inbox and when the customer last wrote through it in this conversation, in one statement: the
 * last inbound message comes from the conversation's timeline index, read backwards from the newest.
 */
async function inboxAndLastInbound(db: Executor, conversationId: string, inboxId: string) {
  const [row] = await db
    .select({
      channel: inboxes.channel,
      settings: inboxes.settings,
      lastInboundAt: sql<string | Date | null>`(
        SELECT ${timelineItems.createdAt} FROM ${timelineItems}
        WHERE ${timelineItems.conversationId} = ${conversationId} AND ${timelineItems.inboxId} = ${inboxId}
          AND ${timelineItems.type} = 'message' AND ${timelineItems.direction} = 'in'
        ORDER BY ${timelineItems.seq} DESC LIMIT 1)`,
    })
    .from(inboxes)
    .where(eq(inboxes.id, inboxId));
  if (!row) return undefined;
  // A scalar subquery comes back as text from some drivers, not as a Date.
  const at = row.lastInboundAt;
  return { ...row, lastInboundAt: at === null ? null : at instanceof Date ? at : new Date(at) };
}

/** The contact's email addresses and phone numbers the workspace has an inbox to reach. */
async function alternativesOf(db: Executor, c: Conversation) {
  const [identities, channels] = await Promise.all([
    db
      .select({ kind: contactIdentities.kind, value: contactIdentities.value })
      .from(contactIdentities)
      .where(and(eq(contactIdentities.contactId, c.contactId), inArray(contactIdentities.kind, ["email", "phone"])))
      .orderBy(contactIdentities.createdAt, contactIdentities.id),
    db
      .selectDistinct({ channel: inboxes.channel })
      .from(inboxes)
      .where(and(eq(inboxes.workspaceId, c.workspaceId), inArray(inboxes.channel, ["email", "voice", "sms"]))),
  ]);
  return replyAlternatives(identities, new Set(channels.map((r) => r.channel)));
}

/** The reply window of a conversation on its current inbox, or null when that channel has none. */
export async function replyWindowOf(
  db: Executor,
  c: Conversation & { inboxId: string },
  now = new Date(),
): Promise<ReplyWindowView | null> {
  const found = await inboxAndLastInbound(db, c.id, c.inboxId);
  const rule = found && replyWindowRuleOf(found);
  if (!found || !rule) return null;
  const { open, closesAt } = replyWindowAt(rule, found.lastInboundAt, now);
  return {
    open,
    closesAt: closesAt?.toISOString() ?? null,
    code: rule.code,
    alternatives: await alternativesOf(db, c),
  };
}

/**
 * Refuses a customer reply through `inboxId` when its window is closed (409 reply_window_closed,
 * saying why and what to do instead). Notes never come here.
 */
export async function assertReplyWindowOpen(db: Executor, c: Conversation, inboxId: string, now = new Date()) {
  const found = await inboxAndLastInbound(db, c.id, inboxId);
  const rule = found && replyWindowRuleOf(found);
  if (!found || !rule) return;
  const { open, closesAt } = replyWindowAt(rule, found.lastInboundAt, now);
  if (!open) throw new ReplyWindowClosed(windowClosedMessage(closesAt, await alternativesOf(db, c)));
}
