import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { conversations } from "./conversation.ts";
import { inboxes } from "./inbox.ts";
import { users, workspaces } from "./workspace.ts";

/**
 * Where a call stands. `ivr` while the flow talks to the caller, `queued` while waiting for an agent
 * (or `callback` when the caller chose to be called back), `connected`/`on_hold` with an agent; the
 * rest are final.
 */
export const callStatuses = [
  "ringing",
  "ivr",
  "queued",
  "callback",
  "connecting",
  "connected",
  "on_hold",
  "completed",
  "abandoned",
  "voicemail",
  "no_answer",
  "busy",
  "failed",
  "transferred_out",
] as const;
export type CallStatus = (typeof callStatuses)[number];
export const FINAL_CALL_STATUSES: CallStatus[] = [
  "completed",
  "abandoned",
  "voicemail",
  "no_answer",
  "busy",
  "failed",
  "transferred_out",
];

/** The IVR's place in its flow for one call: what Twilio's next webhook continues from. */
export type IvrState = {
  node: string | null;
  /** Bumped with every answer we give; a retried webhook for an older step gets `reply` again. */
  step: number;
  reply: string;
  attempts: number;
  attributes: Record<string, unknown>;
  priority: number;
  skills: { skill: string; minLevel: number }[];
  language: "en" | "zh-CN";
  path: { node: string; input?: string }[];
};

/**
 * One phone or browser call, beside its timeline item (the item is what agents see; this row is the
 * call's working state: provider ids, legs, timings).
 */
export const calls = pgTable(
  "calls",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    inboxId: uuid("inbox_id")
      .notNull()
      .references(() => inboxes.id),
    timelineItemId: uuid("timeline_item_id").notNull(),
    // "twilio" (also the simulator, which speaks Twilio's protocol) or "webrtc" (browser to browser).
    provider: text("provider").notNull(),
    // The provider's call id (Twilio CallSid): with inbox_id, what makes webhooks idempotent.
    externalId: text("external_id").notNull(),
    direction: text("direction").$type<"in" | "out">().notNull(),
    fromAddress: text("from_address"),
    toAddress: text("to_address"),
    status: text("status").$type<CallStatus>().notNull(),
    agentId: uuid("agent_id").references(() => users.id, { onDelete: "set null" }),
    // The agent's own leg (Twilio call to their softphone), for hold, transfer and hang-up.
    agentLegId: text("agent_leg_id"),
    // The customer's leg when it is not the call that came in (a callback dials them anew).
    customerLegId: text("customer_leg_id"),
    // A second agent dialled in for a warm transfer, until they take over.
    consult: jsonb("consult").$type<{ agentId: string; legId: string } | null>(),
    // Supervisors listening, whispering or barged in, with their legs.
    monitors: jsonb("monitors")
      .$type<{ userId: string; legId: string; mode: "listen" | "whisper" | "barge" }[]>()
      .notNull()
      .default([]),
    queueId: uuid("queue_id"),
    conferenceSid: text("conference_sid"),
    ivr: jsonb("ivr").$type<IvrState>(),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    enqueuedAt: timestamp("enqueued_at", { withTimezone: true }),
    answeredAt: timestamp("answered_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    holdStartedAt: timestamp("hold_started_at", { withTimezone: true }),
    holdSeconds: integer("hold_seconds").notNull().default(0),
    recordingId: uuid("recording_id"),
    recordingSid: text("recording_sid"),
    transcript: text("transcript"),
    // The phone number to call back (callback offer, chat → PSTN escalation).
    callbackNumber: text("callback_number"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("calls_external_key").on(t.inboxId, t.externalId),
    index("calls_conversation_idx").on(t.conversationId),
    index("calls_agent_leg_idx").on(t.agentLegId),
    index("calls_live_idx").on(t.workspaceId, t.status),
    // Housekeeping every 30 s (recordings to fetch again, recordings past retention) must not read
    // every call ever taken: on PGlite such a scan stalls the node's event loop.
    index("calls_recording_due_idx").on(t.inboxId).where(sql`recording_sid IS NOT NULL AND recording_id IS NULL`),
    index("calls_recorded_idx").on(t.inboxId, t.startedAt).where(sql`recording_id IS NOT NULL`),
  ],
);

/** The IVR flow of a voice inbox (channels/voice/flow.ts validates it), edited by admins. */
export const ivrFlows = pgTable("ivr_flows", {
  inboxId: uuid("inbox_id")
    .primaryKey()
    .references(() => inboxes.id, { onDelete: "cascade" }),
  workspaceId: uuid("workspace_id")
    .notNull()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  flow: jsonb("flow").$type<Record<string, unknown>>().notNull(),
  updatedBy: uuid("updated_by").references(() => users.id, { onDelete: "set null" }),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

export type Call = typeof calls.$inferSelect;
export type IvrFlowRow = typeof ivrFlows.$inferSelect;
