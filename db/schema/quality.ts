import { sql } from "drizzle-orm";
import {
  bigint,
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
import { calls } from "./call.ts";
import { conversations } from "./conversation.ts";
import { users, workspaces } from "./workspace.ts";

export const qaSeverities = ["info", "warning", "critical"] as const;
export type QaSeverity = (typeof qaSeverities)[number];

/**
 * One rule of the workspace's QA scorecard (quality/): a kind (greeting, closing, forbidden phrase,
 * promise needing approval, response gap, silence, hold, sentiment, complaint keyword…) with its
 * settings; a finding costs the score `weight` points.
 */
export const qaRules = pgTable(
  "qa_rules",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    kind: text("kind").notNull(),
    config: jsonb("config").$type<Record<string, unknown>>().notNull().default({}),
    severity: text("severity").$type<QaSeverity>().notNull().default("warning"),
    weight: integer("weight").notNull().default(10),
    // "all" | "chat" (every written channel) | "call"
    appliesTo: text("applies_to").notNull().default("all"),
    // Critical findings of an alerting rule are pushed to supervisors at once.
    alert: boolean("alert").notNull().default(false),
    enabled: boolean("enabled").notNull().default(true),
    position: integer("position").notNull().default(0),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("qa_rules_name_key").on(t.workspaceId, t.name),
    index("qa_rules_workspace_idx").on(t.workspaceId, t.position),
  ],
);

/** A conversation's latest QA score (0–100), re-scored as it grows. */
export const qaScores = pgTable(
  "qa_scores",
  {
    conversationId: uuid("conversation_id")
      .primaryKey()
      .references(() => conversations.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    agentId: uuid("agent_id").references(() => users.id, { onDelete: "set null" }),
    queueId: uuid("queue_id"),
    score: integer("score").notNull(),
    // The customer's sentiment over the conversation, -1 … 1, first and last third.
    sentiment: jsonb("sentiment").$type<{ start: number; end: number; trend: number } | null>(),
    // The highest timeline seq scored: re-scoring starts after it is stale.
    scoredSeq: bigint("scored_seq", { mode: "number" }).notNull().default(0),
    scoredAt: timestamp("scored_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("qa_scores_period_idx").on(t.workspaceId, t.scoredAt),
    index("qa_scores_agent_idx").on(t.workspaceId, t.agentId),
  ],
);

export const qaFindingStatuses = ["open", "confirmed", "dismissed"] as const;
export type QaFindingStatus = (typeof qaFindingStatuses)[number];

/** What a rule found in a conversation; supervisors confirm or dismiss it and leave coaching notes. */
export const qaFindings = pgTable(
  "qa_findings",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    ruleId: uuid("rule_id").references(() => qaRules.id, { onDelete: "set null" }),
    // The rule's name when found: a finding outlives a renamed or deleted rule.
    rule: text("rule").notNull(),
    severity: text("severity").$type<QaSeverity>().notNull(),
    // The timeline item it points at, when one (a message, a call); "" when the whole conversation.
    itemKey: text("item_key").notNull().default(""),
    itemId: uuid("item_id"),
    excerpt: text("excerpt").notNull().default(""),
    agentId: uuid("agent_id").references(() => users.id, { onDelete: "set null" }),
    status: text("status").$type<QaFindingStatus>().notNull().default("open"),
    reviewedBy: uuid("reviewed_by").references(() => users.id, { onDelete: "set null" }),
    reviewedAt: timestamp("reviewed_at", { withTimezone: true }),
    coachingNote: text("coaching_note"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Re-scoring finds the same thing once.
    uniqueIndex("qa_findings_key").on(t.conversationId, t.rule, t.itemKey),
    index("qa_findings_review_idx").on(t.workspaceId, t.status, t.createdAt),
  ],
);

export type TranscriptSegment = { speaker: "agent" | "customer"; startS: number; endS: number; text: string };

/**
 * A call's transcript with who spoke when: from Twilio's transcription when enabled, else from the
 * workspace's transcription provider over the recording (quality/transcription.ts).
 */
export const callTranscripts = pgTable(
  "call_transcripts",
  {
    callId: uuid("call_id")
      .primaryKey()
      .references(() => calls.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    // "twilio" | a provider's name
    source: text("source").notNull(),
    language: text("language"),
    segments: jsonb("segments").$type<TranscriptSegment[]>().notNull().default([]),
    text: text("text").notNull().default(""),
    // "pending" (asked of a provider) | "done" | "failed"
    status: text("status").notNull().default("done"),
    error: text("error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("call_transcripts_pending_idx").on(t.workspaceId).where(sql`status = 'pending'`)],
);

/** Which supervisor got which critical alert, so a reload shows the unacknowledged ones. */
export const qaAlertReads = pgTable(
  "qa_alert_reads",
  {
    findingId: uuid("finding_id")
      .notNull()
      .references(() => qaFindings.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    readAt: timestamp("read_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.findingId, t.userId] })],
);

export type QaRule = typeof qaRules.$inferSelect;
export type QaFinding = typeof qaFindings.$inferSelect;
export type CallTranscript = typeof callTranscripts.$inferSelect;
