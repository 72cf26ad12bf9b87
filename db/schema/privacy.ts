import { index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { users, workspaces } from "./workspace.ts";

/**
 * Who did what to personal data and settings (privacy/audit.ts): a revealed ID number, an export, an
 * erasure, a role or settings change. Append-only; the API never changes or deletes a row.
 */
export const auditLog = pgTable(
  "audit_log",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    // Null for the system (retention sweep); kept when the user is deleted (no foreign key).
    actorId: uuid("actor_id"),
    actorName: text("actor_name"),
    // "pii.reveal", "contact.export", "contact.erase", "settings.update", "user.role", "report.export"…
    action: text("action").notNull(),
    subjectType: text("subject_type"),
    subjectId: text("subject_id"),
    detail: jsonb("detail").$type<Record<string, unknown>>().notNull().default({}),
    ip: text("ip"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("audit_log_period_idx").on(t.workspaceId, t.createdAt),
    index("audit_log_subject_idx").on(t.workspaceId, t.subjectType, t.subjectId),
  ],
);

/**
 * A data subject's erasure, done in the background (202 at once): the row survives a crash, and the
 * sweep finishes what was started. Holds no personal data of the contact beyond its id.
 */
export const erasures = pgTable(
  "erasures",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    contactId: uuid("contact_id").notNull(),
    requestedBy: uuid("requested_by").references(() => users.id, { onDelete: "set null" }),
    // "pending" | "done" | "failed"
    status: text("status").notNull().default("pending"),
    // What was removed: {conversations, items, files, recordings, searchEntries}.
    counts: jsonb("counts").$type<Record<string, number>>().notNull().default({}),
    error: text("error"),
    requestedAt: timestamp("requested_at", { withTimezone: true }).notNull().defaultNow(),
    doneAt: timestamp("done_at", { withTimezone: true }),
  },
  (t) => [index("erasures_pending_idx").on(t.status, t.requestedAt)],
);

export type AuditEntry = typeof auditLog.$inferSelect;
export type Erasure = typeof erasures.$inferSelect;
