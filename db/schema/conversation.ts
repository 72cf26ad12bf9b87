import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { contacts } from "./contact.ts";
import { channelEnum, inboxes } from "./inbox.ts";
import { teams, users, workspaces } from "./workspace.ts";

export const conversationStatuses = ["open", "pending", "snoozed", "resolved"] as const;
export const conversationStatusEnum = pgEnum("conversation_status", conversationStatuses);

export const conversations = pgTable(
  "conversations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    contactId: uuid("contact_id")
      .notNull()
      .references(() => contacts.id),
    // The inbox (and so channel) the customer last wrote through: where a reply goes by default.
    inboxId: uuid("inbox_id")
      .notNull()
      .references(() => inboxes.id),
    channel: channelEnum("channel").notNull(),
    status: conversationStatusEnum("status").notNull().default("open"),
    priority: integer("priority").notNull().default(0),
    assigneeId: uuid("assignee_id").references(() => users.id, { onDelete: "set null" }),
    teamId: uuid("team_id").references(() => teams.id, { onDelete: "set null" }),
    // Routing queue (queues in routing.ts); no foreign key, so the two schema files need not import
    // each other.
    queueId: uuid("queue_id"),
    labels: text("labels").array().notNull().default(sql`'{}'::text[]`),
    snoozedUntil: timestamp("snoozed_until", { withTimezone: true }),
    firstResponseAt: timestamp("first_response_at", { withTimezone: true }),
    resolvedAt: timestamp("resolved_at", { withTimezone: true }),
    lastMessageText: text("last_message_text"),
    lastActivityAt: timestamp("last_activity_at", { withTimezone: true }).notNull().defaultNow(),
    // When the customer's oldest unanswered message arrived; cleared by a public reply or resolving.
    // The inbox sorts and times its service level by it.
    waitingSince: timestamp("waiting_since", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("conversations_list_idx").on(t.workspaceId, t.status, t.lastActivityAt, t.id),
    index("conversations_contact_idx").on(t.contactId, t.status),
    index("conversations_assignee_idx").on(t.workspaceId, t.assigneeId),
  ],
);

/** How far each agent has read each conversation: items with a higher seq are unread for them. */
export const conversationReads = pgTable(
  "conversation_reads",
  {
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    lastReadSeq: bigint("last_read_seq", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.conversationId] })],
);

export const timelineItemTypes = ["message", "note", "call", "event"] as const;
export const timelineItemTypeEnum = pgEnum("timeline_item_type", timelineItemTypes);
export const directionEnum = pgEnum("direction", ["in", "out"]);
export const senderTypes = ["contact", "agent", "system", "bot"] as const;
export const senderTypeEnum = pgEnum("sender_type", senderTypes);
export const deliveryStatuses = ["pending", "sent", "delivered", "read", "failed"] as const;
export const deliveryStatusEnum = pgEnum("delivery_status", deliveryStatuses);

/** Messages in and out, private notes, calls and events: one ordered thread per conversation. */
export const timelineItems = pgTable(
  "timeline_items",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    type: timelineItemTypeEnum("type").notNull(),
    direction: directionEnum("direction"),
    channel: channelEnum("channel"),
    inboxId: uuid("inbox_id").references(() => inboxes.id),
    // The provider's id: with inbox_id, the idempotency key of an ingest (providers retry).
    externalId: text("external_id"),
    senderType: senderTypeEnum("sender_type").notNull(),
    senderId: uuid("sender_id"),
    text: text("text"),
    html: text("html"),
    // Event items: "assigned", "status_changed", "transferred"…; calls and events put details in data.
    eventType: text("event_type"),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    deliveryStatus: deliveryStatusEnum("delivery_status"),
    deliveryError: text("delivery_error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("timeline_items_external_key").on(t.inboxId, t.externalId),
    uniqueIndex("timeline_items_seq_key").on(t.workspaceId, t.seq),
    index("timeline_items_conversation_idx").on(t.conversationId, t.seq),
  ],
);

export const attachments = pgTable(
  "attachments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    timelineItemId: uuid("timeline_item_id").references(() => timelineItems.id, { onDelete: "cascade" }),
    // Who uploaded it before it was sent: a widget visitor's contact, or an agent.
    contactId: uuid("contact_id").references(() => contacts.id),
    userId: uuid("user_id").references(() => users.id),
    name: text("name").notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    storageKey: text("storage_key").notNull(),
    sha256: text("sha256").notNull(),
    // Set on files uploaded over HTTP (widget, agent API), which are what quotas count and what the
    // orphan sweep deletes when no message took them; mail attachments, recordings and held-back raw
    // mail never carry it.
    uploaderIp: text("uploader_ip"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("attachments_item_idx").on(t.timelineItemId),
    index("attachments_upload_ip_idx").on(t.uploaderIp, t.createdAt).where(sql`${t.uploaderIp} IS NOT NULL`),
    index("attachments_upload_contact_idx").on(t.contactId, t.createdAt).where(sql`${t.uploaderIp} IS NOT NULL`),
    index("attachments_upload_workspace_idx").on(t.workspaceId, t.createdAt).where(sql`${t.uploaderIp} IS NOT NULL`),
  ],
);

export const outboxStatuses = ["pending", "sent", "failed"] as const;
export const outboxStatusEnum = pgEnum("outbox_status", outboxStatuses);

/**
 * Outbound sends, written in the same transaction as the message. Workers lease rows (locked_until)
 * instead of holding a transaction open over the network: PGlite has one connection, and a crash
 * between send and commit can then only cause a resend, which the adapter dedupes by the row id.
 * Each claim draws a fresh lease_id, and a result is written only while the row still carries it, so
 * a worker whose lease ran out cannot overwrite the result of the one that claimed the row after it.
 */
export const outbox = pgTable(
  "outbox",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    timelineItemId: uuid("timeline_item_id")
      .notNull()
      .references(() => timelineItems.id, { onDelete: "cascade" }),
    // Copied from the message: a row waits while an earlier one of its conversation is unsent.
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    inboxId: uuid("inbox_id")
      .notNull()
      .references(() => inboxes.id),
    channel: channelEnum("channel").notNull(),
    status: outboxStatusEnum("status").notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(6),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    leaseId: uuid("lease_id"),
    lastError: text("last_error"),
    externalId: text("external_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("outbox_due_idx").on(t.status, t.nextAttemptAt),
    index("outbox_conversation_idx").on(t.conversationId, t.status),
    index("outbox_item_idx").on(t.timelineItemId),
  ],
);

/**
 * The event log behind realtime: every domain event with its workspace seq. A client that reconnects
 * with `after=N` is served from here, then live.
 */
export const events = pgTable(
  "events",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    type: text("type").notNull(),
    conversationId: uuid("conversation_id"),
    // Visible to the customer's widget (public replies), not only to agents.
    public: boolean("public").notNull().default(false),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.workspaceId, t.seq] }),
    index("events_conversation_idx").on(t.conversationId, t.seq),
    // Pruning by age every 30 s: a BRIN index (rows arrive in time order) is a few pages and costs
    // inserts next to nothing, where a scan of the whole log would stall PGlite's event loop.
    index("events_created_brin").using("brin", t.createdAt),
  ],
);

export type Conversation = typeof conversations.$inferSelect;
export type ConversationStatus = (typeof conversationStatuses)[number];
export type TimelineItem = typeof timelineItems.$inferSelect;
export type Attachment = typeof attachments.$inferSelect;
export type OutboxRow = typeof outbox.$inferSelect;
export type ConversationRead = typeof conversationReads.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type DeliveryStatus = (typeof deliveryStatuses)[number];
