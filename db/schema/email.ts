import { bigint, index, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { contacts } from "./contact.ts";
import { attachments, conversations, directionEnum, timelineItems } from "./conversation.ts";
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
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    inboxId: uuid("inbox_id")
      .notNull()
      .references(() => inboxes.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
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

/**
 * People on a conversation besides its contact (Cc'd, or other To addresses): reply-all goes to the
 * address they were written at, and each is a contact of their own (found or created by that email
 * identity), so agents see who they are.
 */
export const emailParticipants = pgTable(
  "email_participants",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    address: text("address").notNull(),
    name: text("name"),
    // Null only for rows stored before participants became contacts.
    contactId: uuid("contact_id").references(() => contacts.id, { onDelete: "cascade" }),
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
    inboxId: uuid("inbox_id")
      .notNull()
      .references(() => inboxes.id, { onDelete: "cascade" }),
    mailbox: text("mailbox").notNull(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    uidValidity: bigint("uid_validity", { mode: "number" }).notNull(),
    lastUid: bigint("last_uid", { mode: "number" }).notNull().default(0),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.inboxId, t.mailbox] })],
);

/**
 * Mail kept out of the inbox: flagged as spam, from a sender over the flood limit, or unusable (no
 * sender). Nothing is lost: the raw mail is kept sealed in the attachment store (`rawId`), so the spam
 * view can release it ("not spam") into the inbox as if it had just arrived, or delete it.
 */
export const emailQuarantine = pgTable(
  "email_quarantine",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    inboxId: uuid("inbox_id")
      .notNull()
      .references(() => inboxes.id, { onDelete: "cascade" }),
    messageId: text("message_id").notNull(),
    address: text("address").notNull(),
    subject: text("subject").notNull().default(""),
    reason: text("reason").notNull(),
    details: jsonb("details").$type<Record<string, unknown>>().notNull().default({}),
    // The raw RFC 5322 message, sealed; null for mail that could not be read (an import that failed).
    rawId: uuid("raw_id").references(() => attachments.id, { onDelete: "set null" }),
    // Set once released: a second release answers with the same message instead of storing it again.
    releasedAt: timestamp("released_at", { withTimezone: true }),
    releasedItemId: uuid("released_item_id").references(() => timelineItems.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("email_quarantine_inbox_message_key").on(t.inboxId, t.messageId),
    index("email_quarantine_inbox_idx").on(t.inboxId, t.createdAt),
  ],
);

export type EmailMessage = typeof emailMessages.$inferSelect;
export type EmailQuarantine = typeof emailQuarantine.$inferSelect;
