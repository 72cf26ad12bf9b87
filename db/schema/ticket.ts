import { sql } from "drizzle-orm";
import {
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { contacts } from "./contact.ts";
import { conversations } from "./conversation.ts";
import { teams, users, workspaces } from "./workspace.ts";

export const ticketStatuses = ["new", "open", "pending_customer", "pending_third_party", "solved", "closed"] as const;
export type TicketStatus = (typeof ticketStatuses)[number];
export const ticketPriorities = ["low", "normal", "high", "urgent"] as const;
export type TicketPriority = (typeof ticketPriorities)[number];
export const ticketFieldKinds = ["text", "number", "date", "select"] as const;
export type TicketFieldKind = (typeof ticketFieldKinds)[number];
/** A custom field's value: text, a number, a date as `YYYY-MM-DD`, or one of a select's options. */
export type TicketFieldValue = string | number | null;
/** Where a ticket came from: an agent on a conversation, the API, a mail to a ticket address, a rule or a macro. */
export type TicketSource = {
  kind: "conversation" | "api" | "email" | "rule" | "macro";
  ruleId?: string;
  name?: string;
};

/**
 * Work that outlives a conversation (工单): handed to a team, numbered per workspace (#1042), with its
 * own status, SLA and history, linked to one or more conversations and to other tickets.
 */
export const tickets = pgTable(
  "tickets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    // Per workspace, from ticket_counters: what people say on the phone ("ticket 1042").
    number: integer("number").notNull(),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    // A name from the workspace's ticket_types (complaint, refund, …); kept as text so renaming a type
    // later does not rewrite history.
    type: text("type"),
    priority: text("priority").$type<TicketPriority>().notNull().default("normal"),
    status: text("status").$type<TicketStatus>().notNull().default("new"),
    teamId: uuid("team_id").references(() => teams.id, { onDelete: "set null" }),
    assigneeId: uuid("assignee_id").references(() => users.id, { onDelete: "set null" }),
    // The customer it is for: told of its progress on the channel of `conversation_id`.
    contactId: uuid("contact_id").references(() => contacts.id, { onDelete: "set null" }),
    conversationId: uuid("conversation_id").references(() => conversations.id, { onDelete: "set null" }),
    source: jsonb("source").$type<TicketSource>().notNull().default({ kind: "api" }),
    fields: jsonb("fields").$type<Record<string, TicketFieldValue>>().notNull().default({}),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    // The nearest due time of its live SLA clocks (sla_clocks), kept here so lists sort by it.
    dueAt: timestamp("due_at", { withTimezone: true }),
    solvedAt: timestamp("solved_at", { withTimezone: true }),
    closedAt: timestamp("closed_at", { withTimezone: true }),
    // When the status last changed: time-based rules ("3 days pending customer") count from it.
    statusChangedAt: timestamp("status_changed_at", { withTimezone: true }).notNull().defaultNow(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("tickets_number_key").on(t.workspaceId, t.number),
    index("tickets_list_idx").on(t.workspaceId, t.status, t.updatedAt, t.id),
    index("tickets_assignee_idx").on(t.workspaceId, t.assigneeId),
    index("tickets_contact_idx").on(t.contactId),
    index("tickets_status_changed_idx").on(t.workspaceId, t.status, t.statusChangedAt),
  ],
);

/** The last ticket number of each workspace: `UPDATE … RETURNING` hands out the next one. */
export const ticketCounters = pgTable("ticket_counters", {
  workspaceId: uuid("workspace_id")
    .primaryKey()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  lastNumber: integer("last_number").notNull().default(1000),
});

/** The workspace's editable list of ticket types (complaint, refund, repair, inquiry by default). */
export const ticketTypes = pgTable(
  "ticket_types",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // Shown in the interface: { en, "zh-CN" }; the name when a language is missing.
    labels: jsonb("labels").$type<Record<string, string>>().notNull().default({}),
    position: integer("position").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("ticket_types_name_key").on(t.workspaceId, t.name)],
);

/** A typed custom field tickets of the workspace carry in `tickets.fields` under its key. */
export const ticketFields = pgTable(
  "ticket_fields",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    label: text("label").notNull(),
    kind: text("kind").$type<TicketFieldKind>().notNull(),
    // A select's options; empty for the other kinds.
    options: jsonb("options").$type<string[]>().notNull().default([]),
    required: boolean("required").notNull().default(false),
    position: integer("position").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("ticket_fields_key_key").on(t.workspaceId, t.key)],
);

/** The conversations a ticket is about (the one it was made from, and any linked later). */
export const ticketConversations = pgTable(
  "ticket_conversations",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    ticketId: uuid("ticket_id")
      .notNull()
      .references(() => tickets.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.ticketId, t.conversationId] }),
    index("ticket_conversations_conversation_idx").on(t.conversationId),
  ],
);

export const ticketLinkKinds = ["parent", "duplicate", "related"] as const;
export type TicketLinkKind = (typeof ticketLinkKinds)[number];

/**
 * Ticket to ticket: `parent` (ticket_id is a child of other_ticket_id), `duplicate` (ticket_id
 * duplicates other_ticket_id), `related`. One row per link; the other side reads it backwards.
 */
export const ticketLinks = pgTable(
  "ticket_links",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    ticketId: uuid("ticket_id")
      .notNull()
      .references(() => tickets.id, { onDelete: "cascade" }),
    otherTicketId: uuid("other_ticket_id")
      .notNull()
      .references(() => tickets.id, { onDelete: "cascade" }),
    kind: text("kind").$type<TicketLinkKind>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.ticketId, t.otherTicketId, t.kind] }),
    index("ticket_links_other_idx").on(t.otherTicketId),
  ],
);

export const ticketEntryKinds = ["comment", "change", "customer_message", "notification"] as const;
export type TicketEntryKind = (typeof ticketEntryKinds)[number];

/**
 * A ticket's own history: internal comments (with @mentions), changes (status, assignee… — by a
 * person, or "by rule X" with the rule in data), the customer's replies, and the progress messages
 * sent to the customer.
 */
export const ticketEntries = pgTable(
  "ticket_entries",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    ticketId: uuid("ticket_id")
      .notNull()
      .references(() => tickets.id, { onDelete: "cascade" }),
    kind: text("kind").$type<TicketEntryKind>().notNull(),
    authorId: uuid("author_id").references(() => users.id, { onDelete: "set null" }),
    body: text("body").notNull().default(""),
    mentions: uuid("mentions").array().notNull().default(sql`'{}'::uuid[]`),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("ticket_entries_ticket_idx").on(t.ticketId, t.createdAt)],
);

/** Something addressed to one user (an @mention, a ticket assigned to them): the bell in the inbox. */
export const notifications = pgTable(
  "notifications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    kind: text("kind").notNull(),
    text: text("text").notNull(),
    ticketId: uuid("ticket_id").references(() => tickets.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id").references(() => conversations.id, { onDelete: "cascade" }),
    readAt: timestamp("read_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("notifications_user_idx").on(t.userId, t.createdAt)],
);

export type Ticket = typeof tickets.$inferSelect;
export type TicketType = typeof ticketTypes.$inferSelect;
export type TicketField = typeof ticketFields.$inferSelect;
export type TicketEntry = typeof ticketEntries.$inferSelect;
export type TicketLink = typeof ticketLinks.$inferSelect;
export type Notification = typeof notifications.$inferSelect;
