import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  check,
  doublePrecision,
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
import { conversations } from "./conversation.ts";
import { inboxes } from "./inbox.ts";
import type { BusinessHours } from "./routing.ts";
import { tickets } from "./ticket.ts";
import { users, workspaces } from "./workspace.ts";

/**
 * One condition of an SLA policy, an automation rule or a dry-run, in the one condition language
 * (conversations/condition.ts): `{field: "text", op: "contains", value: "发票"}`.
 */
export type RuleCondition = { field: string; op: string; value?: unknown };
/** One action of a rule or a macro: `{type: "label", value: "invoice"}` (automation/action.ts). */
export type RuleAction = { type: string } & Record<string, unknown>;

/** Workspace-wide settings: its time zone and its business calendar (SLA clocks in business hours). */
export const workspaceSettings = pgTable("workspace_settings", {
  workspaceId: uuid("workspace_id")
    .primaryKey()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  timeZone: text("time_zone").notNull().default("UTC"),
  // Null: every hour is a business hour.
  calendar: jsonb("calendar").$type<BusinessHours | null>(),
  // What the customer is told when a ticket's status changes, per status and language
  // ({ solved: { en: "…", "zh-CN": "…" } }); a status missing here uses the built-in text.
  ticketNotices: jsonb("ticket_notices").$type<Record<string, Record<string, string>>>().notNull().default({}),
  // Conversations resolved longer ago than this are deleted with their items, files and recordings
  // (privacy/retention.ts); null keeps everything.
  retentionDays: integer("retention_days"),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * Targets for first response, next response and resolution, chosen by conditions: the first policy
 * (by position) whose conditions hold applies; one without conditions catches the rest.
 */
export const slaPolicies = pgTable(
  "sla_policies",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    position: integer("position").notNull().default(0),
    // Minutes may be fractional (0.5 = 30 s); null = no target for that measure.
    firstResponseMinutes: doublePrecision("first_response_minutes"),
    nextResponseMinutes: doublePrecision("next_response_minutes"),
    resolutionMinutes: doublePrecision("resolution_minutes"),
    // True: the clock runs only in business hours (the conversation's queue hours, else the workspace calendar).
    businessHours: boolean("business_hours").notNull().default(false),
    conditions: jsonb("conditions").$type<RuleCondition[]>().notNull().default([]),
    // `sla.warning` when this share of a target has passed.
    warnPercent: integer("warn_percent").notNull().default(80),
    active: boolean("active").notNull().default(true),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("sla_policies_name_key").on(t.workspaceId, t.name),
    index("sla_policies_workspace_idx").on(t.workspaceId, t.position),
  ],
);

export const slaMetrics = ["first_response", "next_response", "resolution"] as const;
export type SlaMetric = (typeof slaMetrics)[number];

/**
 * One running target of one conversation or ticket. `due_at` is null while paused (waiting on the
 * customer), when `remaining_ms` holds what was left; the sweep finds due and warning clocks through
 * partial indexes, so it never scans finished ones.
 */
export const slaClocks = pgTable(
  "sla_clocks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id").references(() => conversations.id, { onDelete: "cascade" }),
    ticketId: uuid("ticket_id").references(() => tickets.id, { onDelete: "cascade" }),
    policyId: uuid("policy_id").references(() => slaPolicies.id, { onDelete: "set null" }),
    metric: text("metric").$type<SlaMetric>().notNull(),
    // The calendar the clock runs on, frozen when it starts; null = calendar time.
    hours: jsonb("hours").$type<BusinessHours | null>(),
    targetMs: bigint("target_ms", { mode: "number" }).notNull(),
    warnPercent: integer("warn_percent").notNull().default(80),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull(),
    dueAt: timestamp("due_at", { withTimezone: true }),
    warnAt: timestamp("warn_at", { withTimezone: true }),
    pausedAt: timestamp("paused_at", { withTimezone: true }),
    remainingMs: bigint("remaining_ms", { mode: "number" }),
    warnedAt: timestamp("warned_at", { withTimezone: true }),
    breachedAt: timestamp("breached_at", { withTimezone: true }),
    // Met (a reply, a resolution) or cancelled; a stopped clock is history.
    stoppedAt: timestamp("stopped_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    check("sla_clocks_subject", sql`(${t.conversationId} IS NULL) <> (${t.ticketId} IS NULL)`),
    index("sla_clocks_due_idx").on(t.dueAt).where(sql`stopped_at IS NULL AND breached_at IS NULL`),
    index("sla_clocks_warn_idx")
      .on(t.warnAt)
      .where(sql`stopped_at IS NULL AND warned_at IS NULL AND breached_at IS NULL`),
    index("sla_clocks_conversation_idx").on(t.conversationId),
    index("sla_clocks_ticket_idx").on(t.ticketId),
    // One live clock per measure and subject: starting one twice (two nodes, a retry) is a no-op.
    uniqueIndex("sla_clocks_live_conversation_key")
      .on(t.conversationId, t.metric)
      .where(sql`stopped_at IS NULL AND conversation_id IS NOT NULL`),
    uniqueIndex("sla_clocks_live_ticket_key")
      .on(t.ticketId, t.metric)
      .where(sql`stopped_at IS NULL AND ticket_id IS NOT NULL`),
  ],
);

/**
 * "When <event>, if <conditions>, then <actions>": run once per event, in position order. A rule
 * with `after_minutes` is time-based: it fires that long after its event (e.g. 3 days in
 * pending_customer) if its conditions still hold.
 */
export const automationRules = pgTable(
  "automation_rules",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    event: text("event").notNull(),
    conditions: jsonb("conditions").$type<RuleCondition[]>().notNull().default([]),
    actions: jsonb("actions").$type<RuleAction[]>().notNull(),
    afterMinutes: doublePrecision("after_minutes"),
    position: integer("position").notNull().default(0),
    active: boolean("active").notNull().default(true),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("automation_rules_workspace_idx").on(t.workspaceId, t.event, t.position)],
);

/**
 * A rule's run for one event (its workspace seq, or the time-based subject and moment): the primary
 * key makes each rule run once per event whichever node sees it first; `depth` is the loop guard.
 */
export const automationRuns = pgTable(
  "automation_runs",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    ruleId: uuid("rule_id")
      .notNull()
      .references(() => automationRules.id, { onDelete: "cascade" }),
    eventKey: text("event_key").notNull(),
    conversationId: uuid("conversation_id"),
    ticketId: uuid("ticket_id"),
    depth: integer("depth").notNull().default(0),
    outcome: jsonb("outcome").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.ruleId, t.eventKey] }), index("automation_runs_rule_idx").on(t.ruleId, t.createdAt)],
);

/** Named actions an agent applies in one click or with `/name` in the composer; personal when owned. */
export const macros = pgTable(
  "macros",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    actions: jsonb("actions").$type<RuleAction[]>().notNull(),
    // Null: shared with the workspace; else only its owner sees and applies it.
    ownerId: uuid("owner_id").references(() => users.id, { onDelete: "cascade" }),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("macros_workspace_idx").on(t.workspaceId, t.ownerId)],
);

export const csatSurveyStatuses = ["scheduled", "sent", "answered", "expired"] as const;
export type CsatSurveyStatus = (typeof csatSurveyStatuses)[number];
export type CsatScale = "stars" | "thumbs";

/**
 * The one survey of a conversation, asked after it is resolved (after the inbox's delay): inline in
 * the widget, as a signed single-use link elsewhere (only the token's SHA-256 is stored), or by the
 * post-call IVR question.
 */
export const csatSurveys = pgTable(
  "csat_surveys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    inboxId: uuid("inbox_id").references(() => inboxes.id, { onDelete: "set null" }),
    channel: text("channel").notNull(),
    agentId: uuid("agent_id").references(() => users.id, { onDelete: "set null" }),
    queueId: uuid("queue_id"),
    scale: text("scale").$type<CsatScale>().notNull().default("stars"),
    status: text("status").$type<CsatSurveyStatus>().notNull().default("scheduled"),
    tokenHash: text("token_hash"),
    sendAt: timestamp("send_at", { withTimezone: true }).notNull(),
    sentAt: timestamp("sent_at", { withTimezone: true }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("csat_surveys_conversation_key").on(t.conversationId),
    uniqueIndex("csat_surveys_token_key").on(t.tokenHash),
    index("csat_surveys_due_idx").on(t.sendAt).where(sql`status = 'scheduled'`),
  ],
);

/** A customer's answer: one per conversation, with who served them and in which queue. */
export const csatResponses = pgTable(
  "csat_responses",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    surveyId: uuid("survey_id").references(() => csatSurveys.id, { onDelete: "set null" }),
    rating: integer("rating").notNull(),
    comment: text("comment"),
    channel: text("channel").notNull(),
    agentId: uuid("agent_id").references(() => users.id, { onDelete: "set null" }),
    queueId: uuid("queue_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("csat_responses_conversation_key").on(t.conversationId),
    index("csat_responses_workspace_idx").on(t.workspaceId, t.createdAt),
    index("csat_responses_agent_idx").on(t.agentId, t.createdAt),
    check("csat_responses_rating", sql`${t.rating} BETWEEN 1 AND 5`),
  ],
);

export type WorkspaceSettings = typeof workspaceSettings.$inferSelect;
export type SlaPolicy = typeof slaPolicies.$inferSelect;
export type SlaClock = typeof slaClocks.$inferSelect;
export type AutomationRule = typeof automationRules.$inferSelect;
export type AutomationRun = typeof automationRuns.$inferSelect;
export type Macro = typeof macros.$inferSelect;
export type CsatSurvey = typeof csatSurveys.$inferSelect;
export type CsatResponse = typeof csatResponses.$inferSelect;
