import { sql } from "drizzle-orm";
import {
  boolean,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  smallint,
  text,
  timestamp,
  uuid,
} from "drizzle-orm/pg-core";
import { conversations } from "./conversation.ts";
import { users, workspaces } from "./workspace.ts";

/**
 * The report facts (reports/): one row per interaction offered to the center — a conversation or call
 * entering a queue (a work item; the row's id is the work item's) or assigned to an agent without one.
 * Written as events happen and re-derived from the source rows by a sweep, so a 30-day report reads
 * these narrow rows instead of timelines, calls and events. Durations are seconds; null = not (yet)
 * measured, which reports show as null rather than 0.
 */
export const interactions = pgTable(
  "interactions",
  {
    id: uuid("id").primaryKey(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    contactId: uuid("contact_id").notNull(),
    callId: uuid("call_id"),
    channel: text("channel").notNull(),
    inboxId: uuid("inbox_id"),
    queueId: uuid("queue_id"),
    teamId: uuid("team_id"),
    // The agent who answered it (the last one, after transfers).
    agentId: uuid("agent_id").references(() => users.id, { onDelete: "set null" }),
    offeredAt: timestamp("offered_at", { withTimezone: true }).notNull(),
    answeredAt: timestamp("answered_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    // "waiting" | "answered" | "abandoned" (the customer left or hung up before an agent took it)
    // | "closed" (ended unanswered by the center: resolved by a rule, the bot, or an agent without taking it).
    outcome: text("outcome").notNull().default("waiting"),
    // Offer → answer (answered) or offer → end (abandoned).
    waitS: doublePrecision("wait_s"),
    firstResponseS: doublePrecision("first_response_s"),
    // Each later gap between a customer's message and the next agent reply: sum and count, so an
    // average over any grouping is exact.
    nextResponseSumS: doublePrecision("next_response_sum_s"),
    nextResponseCount: integer("next_response_count").notNull().default(0),
    resolutionS: doublePrecision("resolution_s"),
    // Calls: talk + hold + wrap-up; chats and mail: answer → end.
    handleS: doublePrecision("handle_s"),
    talkS: doublePrecision("talk_s"),
    holdS: doublePrecision("hold_s"),
    wrapS: doublePrecision("wrap_s"),
    transfers: integer("transfers").notNull().default(0),
    // The queue's service-level threshold when it was offered, and whether it was answered within it.
    serviceLevelS: integer("service_level_s"),
    answeredInSl: boolean("answered_in_sl"),
    ewtAnnouncedS: integer("ewt_announced_s"),
    callback: boolean("callback").notNull().default(false),
    callbackKept: boolean("callback_kept"),
    reopened: boolean("reopened").notNull().default(false),
    // Resolved without the customer coming back within the FCR window (docs/reports.md).
    firstContactResolved: boolean("first_contact_resolved"),
    csatScore: smallint("csat_score"),
    csatMax: smallint("csat_max"),
    slaBreached: boolean("sla_breached"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("interactions_offered_idx").on(t.workspaceId, t.offeredAt),
    index("interactions_agent_idx").on(t.workspaceId, t.agentId, t.offeredAt),
    index("interactions_queue_idx").on(t.workspaceId, t.queueId, t.offeredAt),
    index("interactions_conversation_idx").on(t.conversationId),
    index("interactions_open_idx").on(t.workspaceId).where(sql`outcome = 'waiting' OR ended_at IS NULL`),
  ],
);

/** Each span of time an agent spent in one presence (and reason), for state-time, occupancy and utilisation. */
export const agentStateSpans = pgTable(
  "agent_state_spans",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    presence: text("presence").notNull(),
    reason: text("reason"),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    // Null while it lasts.
    endedAt: timestamp("ended_at", { withTimezone: true }),
  },
  (t) => [
    index("agent_state_spans_period_idx").on(t.workspaceId, t.startedAt),
    index("agent_state_spans_open_idx").on(t.userId).where(sql`ended_at IS NULL`),
  ],
);

export type ReportFilters = Record<string, string | string[]>;

/** A report mailed on a schedule through the mail outbox. */
export const reportSchedules = pgTable(
  "report_schedules",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // "daily" | "weekly"
    frequency: text("frequency").notNull(),
    // Weekly: 0 = Sunday … 6; the hour (0–23) is in the workspace's time zone.
    weekday: smallint("weekday"),
    hour: smallint("hour").notNull().default(7),
    groupBy: text("group_by").notNull().default("day"),
    filters: jsonb("filters").$type<ReportFilters>().notNull().default({}),
    recipients: text("recipients").array().notNull(),
    language: text("language").notNull().default("en"),
    nextRunAt: timestamp("next_run_at", { withTimezone: true }).notNull(),
    lastSentAt: timestamp("last_sent_at", { withTimezone: true }),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("report_schedules_due_idx").on(t.nextRunAt)],
);

export type Interaction = typeof interactions.$inferSelect;
export type AgentStateSpan = typeof agentStateSpans.$inferSelect;
export type ReportSchedule = typeof reportSchedules.$inferSelect;
