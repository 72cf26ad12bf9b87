import {
  bigint,
  index,
  integer,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { roles } from "../../platform/permission.ts";

export const workspaces = pgTable(
  "workspaces",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    // URL name of the public help center (/help/<slug>/); set by createWorkspace.
    slug: text("slug"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("workspaces_slug_key").on(t.slug)],
);

/**
 * One row per workspace, bumped in the same transaction as every event it numbers. The row lock
 * serializes appends within a workspace, so seqs are handed out in commit order and a client that
 * resumes "after N" can never miss an earlier seq that committed late (see ARCHITECTURE.md).
 */
export const workspaceCounters = pgTable("workspace_counters", {
  workspaceId: uuid("workspace_id")
    .primaryKey()
    .references(() => workspaces.id, { onDelete: "cascade" }),
  seq: bigint("seq", { mode: "number" }).notNull().default(0),
});

// The role list lives with the permission matrix, so a new role cannot exist without its row there.
export { roles };
export const roleEnum = pgEnum("role", roles);

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    // Stored lower-cased; unique across workspaces because login takes only email and password.
    email: text("email").notNull(),
    name: text("name").notNull(),
    role: roleEnum("role").notNull().default("agent"),
    passwordHash: text("password_hash").notNull(),
    locale: text("locale").notNull().default("en"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    disabledAt: timestamp("disabled_at", { withTimezone: true }),
    // Refreshed by the agent's open realtime socket (any node); "online" = seen within a minute.
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    // "person", or "service": the user an API key acts as (no password, never routed to, not listed as an agent).
    kind: text("kind").$type<"person" | "service">().notNull().default("person"),
  },
  (t) => [uniqueIndex("users_email_key").on(t.email), index("users_workspace_idx").on(t.workspaceId)],
);

export const sessions = pgTable(
  "sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // Only a SHA-256 of the bearer token is stored: a leaked database does not leak sessions.
    tokenHash: text("token_hash").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [uniqueIndex("sessions_token_hash_key").on(t.tokenHash)],
);

export const teams = pgTable(
  "teams",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("teams_workspace_name_key").on(t.workspaceId, t.name)],
);

export const teamMembers = pgTable(
  "team_members",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    teamId: uuid("team_id")
      .notNull()
      .references(() => teams.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.teamId, t.userId] }), index("team_members_user_idx").on(t.userId)],
);

export const skills = pgTable(
  "skills",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
  },
  (t) => [uniqueIndex("skills_workspace_name_key").on(t.workspaceId, t.name)],
);

export const agentSkills = pgTable(
  "agent_skills",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    skillId: uuid("skill_id")
      .notNull()
      .references(() => skills.id, { onDelete: "cascade" }),
    // 1 (novice) … 5 (expert); routing matches it against a queue's minimum level for the skill.
    level: integer("level").notNull().default(1),
  },
  (t) => [primaryKey({ columns: [t.userId, t.skillId] })],
);

export type Workspace = typeof workspaces.$inferSelect;
export type User = typeof users.$inferSelect;
export type Role = (typeof roles)[number];
export type Team = typeof teams.$inferSelect;
