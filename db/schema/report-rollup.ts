import { doublePrecision, index, integer, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { workspaces } from "./workspace.ts";

/**
 * The additive parts of the report figures (reports/summary.ts), summed per workspace, 30-minute UTC
 * interval and one dimension at a time: per interval one 'all' row and one row per queue, agent,
 * channel, inbox and team seen in it (not their cross product). A 30-day report by day or by agent
 * sums these instead of a month of facts. Kept equal to the facts by the triggers of migration 0022
 * (interaction_rollups_refresh): whatever writes or deletes facts recomputes their intervals.
 * Averages are sum / count pairs so any grouping of intervals divides exactly; percentiles are not
 * additive and are read from the facts.
 */
export const interactionRollups = pgTable(
  "interaction_rollups",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    // The interval's start, a multiple of 30 minutes since the epoch.
    bucket: timestamp("bucket", { withTimezone: true }).notNull(),
    // "all" | "queue" | "agent" | "channel" | "inbox" | "team"
    dim: text("dim").notNull(),
    // The queue's, agent's, inbox's or team's id, or the channel; '' for 'all' and for none (unanswered).
    dimKey: text("dim_key").notNull(),
    offered: integer("offered").notNull(),
    answered: integer("answered").notNull(),
    abandoned: integer("abandoned").notNull(),
    waiting: integer("waiting").notNull(),
    abandonSum: doublePrecision("abandon_sum"),
    abandonN: integer("abandon_n").notNull(),
    frSum: doublePrecision("fr_sum"),
    frN: integer("fr_n").notNull(),
    nextSum: doublePrecision("next_sum"),
    nextN: integer("next_n").notNull(),
    resolutionSum: doublePrecision("resolution_sum"),
    resolutionN: integer("resolution_n").notNull(),
    asaSum: doublePrecision("asa_sum"),
    asaN: integer("asa_n").notNull(),
    handleSum: doublePrecision("handle_sum"),
    handleN: integer("handle_n").notNull(),
    withinSl: integer("within_sl").notNull(),
    // Answered or abandoned with a service level; the waiting ones past it depend on "now" and are
    // counted from the facts when read.
    judgedSl: integer("judged_sl").notNull(),
    transfers: integer("transfers").notNull(),
    transferred: integer("transferred").notNull(),
    fcrYes: integer("fcr_yes").notNull(),
    fcrJudged: integer("fcr_judged").notNull(),
    callbacks: integer("callbacks").notNull(),
    callbacksKept: integer("callbacks_kept").notNull(),
    ewtN: integer("ewt_n").notNull(),
    ewtSum: integer("ewt_sum"),
    ewtErrorSum: doublePrecision("ewt_error_sum"),
    ewtErrorN: integer("ewt_error_n").notNull(),
    slaBreaches: integer("sla_breaches").notNull(),
    reopened: integer("reopened").notNull(),
    csatSum: integer("csat_sum"),
    csatN: integer("csat_n").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // Recomputing an interval deletes its rows by (workspace, bucket).
    primaryKey({ columns: [t.workspaceId, t.bucket, t.dim, t.dimKey] }),
    // A report reads one dimension's rows over a range of intervals.
    index("interaction_rollups_read_idx").on(t.workspaceId, t.dim, t.bucket),
  ],
);

export type InteractionRollup = typeof interactionRollups.$inferSelect;
