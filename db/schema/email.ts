import { bigint, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { conversations, timelineItems } from "./conversation.ts";
import { directionEnum } from "./conversation.ts";
import { inboxes } from "./inbox.ts";
import { workspaces } from "./workspace.ts";

/**
 * Every Message-ID an email inbox received or sent, with the conversation it belongs to: what
 * In-Reply-To / References are matched against, so replies thread, and what a bounce (DSN) points at.
 */
export const emailMessages = pgTable(
  "email_messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id").notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    inboxId: uuid("inbox_id").notNull().references(() => inboxes.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id").notNull().references(() => conversations.id, { onDelete: "cascade" }),
    timelineItemId: uuid("timeline_item_id").references(() => timelineItems.id, { onDelete: "cascade" }),
    // Without angle brackets, lower-cased: clients differ in both when they quote it back.
    messageId: text("message_id").notNull(),
    direction: directionEnum("direction").notNull(),
    // Normalized (no Re:/Fwd:/回复: prefixes, folded case), for same-contact subject threading.
    subjectKey: text("subject_key").notNull().default(""),
    subject: text("subject").notNull().default(""),
    // Who wrote it (inbound) or to whom it went (outbound), lower-cased.
    address: text("address").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("email_messages_inbox_message_key").on(t.inboxId, t.messageId),
    index("email_messages_conversation_idx").on(t.conversationId, t.createdAt),
    index("email_messages_subject_idx").on(t.inboxId, t.address, t.subjectKey),
  ],
);

/** People on a conversation besides its contact (Cc'd, or other To addresses): reply-all goes to them. */
export const emailParticipants = pgTable(
  "email_participants",
  {
    workspaceId: uuid("workspace_id").notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id").notNull().references(() => conversations.id, { onDelete: "cascade" }),
    address: text("address").notNull(),
    name: text("name"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.conversationId, t.address] })],
);

/**
 * Where IMAP import of a mailbox stands: the UIDVALIDITY seen and the highest UID imported. A restart
 * resumes after `lastUid`; a changed UIDVALIDITY starts over, and Message-ID idempotency keeps that
 * from importing anything twice.
 */
export const emailMailboxState = pgTable(
  "email_mailbox_state",
  {
    inboxId: uuid("inbox_id").notNull().references(() => inboxes.id, { onDelete: "cascade" }),
    mailbox: text("mailbox").notNull(),
    workspaceId: uuid("workspace_id").notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    uidValidity: bigint("uid_validity", { mode: "number" }).notNull(),
    lastUid: bigint("last_uid", { mode: "number" }).notNull().default(0),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.inboxId, t.mailbox] })],
);

/**
 * Mail kept out of the inbox: flagged as spam, from a sender over the flood limit, or unusable (no
 * sender). Nothing is lost: IMAP leaves the mail in the mailbox, and admins list it in the spam view.
 */
export const emailQuarantine = pgTable(
  "email_quarantine",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id").notNull().references(() => workspaces.id, { onDelete: "cascade" }),
    inboxId: uuid("inbox_id").notNull().references(() => inboxes.id, { onDelete: "cascade" }),
    messageId: text("message_id").notNull(),
    address: text("address").notNull(),
    subject: text("subject").notNull().default(""),
    reason: text("reason").notNull(),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("email_quarantine_inbox_message_key").on(t.inboxId, t.messageId), index("email_quarantine_inbox_idx").on(t.inboxId, t.createdAt)],
);

export type EmailMessage = typeof emailMessages.$inferSelect;
export type EmailQuarantine = typeof emailQuarantine.$inferSelect;
