import { sql } from "drizzle-orm";
import {
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { conversations } from "./conversation.ts";
import { users, workspaces } from "./workspace.ts";

export type SkillRequirement = { skill: string; minLevel: number };
/** Contact attribute equal to a value → a priority (e.g. vip = true → 10). */
export type PriorityRule = { attribute: string; equals: string | number | boolean; priority: number };
/** Opening hours per weekday ("mon".."sun": [["09:00","18:00"]]), in a time zone, minus holidays. */
export type BusinessHours = {
  timeZone: string;
  weekly: Partial<Record<string, [string, string][]>>;
  holidays: string[];
};
export type OverflowStep =
  | { afterSeconds: number; action: "widen_skills"; skills: SkillRequirement[] }
  | { afterSeconds: number; action: "move_queue"; queueId: string }
  | { afterSeconds: number; action: "offer_callback" }
  | { afterSeconds: number; action: "auto_reply"; message: string };

/** A named queue of a workspace: what its work needs, how urgent it is, and what happens when it waits. */
export const queues = pgTable(
  "queues",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    // Channels this queue serves; empty = every channel.
    channels: text("channels").array().notNull().default([]),
    requiredSkills: jsonb("required_skills").$type<SkillRequirement[]>().notNull().default([]),
    priorityRules: jsonb("priority_rules").$type<PriorityRule[]>().notNull().default([]),
    businessHours: jsonb("business_hours").$type<BusinessHours | null>(),
    maxWaitSeconds: integer("max_wait_seconds"),
    // How long an agent has to accept this queue's offers; unset = the channel's default.
    offerTimeoutSeconds: integer("offer_timeout_seconds"),
    // After-work time once a conversation of this queue ends; null takes the channel's default.
    wrapUpSeconds: integer("wrap_up_seconds"),
    // "Answered within T seconds" for this queue's service level.
    serviceLevelSeconds: integer("service_level_seconds").notNull().default(20),
    overflow: jsonb("overflow").$type<OverflowStep[]>().notNull().default([]),
    // Calls of this queue end with the CSAT question (press 1–5) once the agent hangs up.
    csatIvr: boolean("csat_ivr").notNull().default(false),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("queues_workspace_name_key").on(t.workspaceId, t.name)],
);

export type EntryConditions = {
  inboxIds?: string[];
  channels?: string[];
  /** Any of these words in the first message (Chinese or English), e.g. 退款 / refund. */
  keywords?: string[];
  attributes?: Record<string, string | number | boolean>;
  languages?: string[];
};

/** Maps incoming conversations to a queue; the first rule (by position) whose conditions all hold wins. */
export const entryRules = pgTable(
  "entry_rules",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    queueId: uuid("queue_id")
      .notNull()
      .references(() => queues.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    conditions: jsonb("conditions").$type<EntryConditions>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("entry_rules_workspace_idx").on(t.workspaceId, t.position)],
);

export const presences = ["available", "busy", "away", "wrap_up", "offline"] as const;
export const presenceEnum = pgEnum("presence", presences);
export type Presence = (typeof presences)[number];
export type Capacity = { voice: number; chat: number; email: number; messaging: number };

/**
 * Where an agent stands for routing. In the database, not in a node's memory: every node routes
 * and every node must see the same presence.
 */
export const agentStates = pgTable("agent_states", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  workspaceId: uuid("workspace_id")
    .notNull()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  presence: presenceEnum("presence").notNull().default("offline"),
  // Why away ("lunch", "missed offer"); shown to supervisors.
  reason: text("reason"),
  since: timestamp("since", { withTimezone: true }).notNull().defaultNow(),
  wrapUpUntil: timestamp("wrap_up_until", { withTimezone: true }),
  capacity: jsonb("capacity").$type<Capacity>().notNull().default({ voice: 1, chat: 3, email: 5, messaging: 4 }),
  // When the agent last became free: "longest idle" goes first.
  idleSince: timestamp("idle_since", { withTimezone: true }).notNull().defaultNow(),
});

export const workItemStates = ["waiting", "reserved", "assigned", "done", "abandoned"] as const;
export const workItemStateEnum = pgEnum("work_item_state", workItemStates);

/** A conversation waiting for (or held by) an agent: what the ACD routes. */
export const workItems = pgTable(
  "work_items",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => conversations.id, { onDelete: "cascade" }),
    queueId: uuid("queue_id")
      .notNull()
      .references(() => queues.id),
    channel: text("channel").notNull(),
    priority: integer("priority").notNull().default(0),
    requiredSkills: jsonb("required_skills").$type<SkillRequirement[]>().notNull().default([]),
    state: workItemStateEnum("state").notNull().default("waiting"),
    agentId: uuid("agent_id").references(() => users.id, { onDelete: "set null" }),
    // The last agent who served this contact, preferred until sticky_until if they become free.
    stickyAgentId: uuid("sticky_agent_id").references(() => users.id, { onDelete: "set null" }),
    stickyUntil: timestamp("sticky_until", { withTimezone: true }),
    reservationExpiresAt: timestamp("reservation_expires_at", { withTimezone: true }),
    enqueuedAt: timestamp("enqueued_at", { withTimezone: true }).notNull().defaultNow(),
    answeredAt: timestamp("answered_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    // How many of its queue's overflow steps have been applied (they run in order, once each).
    overflowStep: integer("overflow_step").notNull().default(0),
    // The wait announced when it was queued, kept to report how good estimates are.
    estimatedWaitSeconds: integer("estimated_wait_seconds"),
  },
  (t) => [
    index("work_items_waiting_idx").on(t.workspaceId, t.state, t.priority, t.enqueuedAt),
    // Finished work piles up day after day; what reads it per call or chat must not scan it all: a
    // queue's latest handled work gives its handle time (every caller's announcement asks), a
    // contact's last finished work its sticky agent (every enqueue asks).
    index("work_items_handled_idx").on(t.queueId, t.endedAt).where(sql`state = 'done' AND answered_at IS NOT NULL`),
    index("work_items_conversation_idx").on(t.conversationId),
    // One live work item per conversation: enqueueing twice (two nodes, a retry) is a no-op.
    uniqueIndex("work_items_live_key").on(t.conversationId).where(sql`state IN ('waiting', 'reserved', 'assigned')`),
  ],
);

export type Queue = typeof queues.$inferSelect;
export type EntryRule = typeof entryRules.$inferSelect;
export type AgentState = typeof agentStates.$inferSelect;
export type WorkItemRow = typeof workItems.$inferSelect;
