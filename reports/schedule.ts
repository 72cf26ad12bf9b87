import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "../db/connect.ts";
import { reportSchedules, type ReportSchedule } from "../db/schema/index.ts";
import { Invalid, NotFound } from "../platform/errors.ts";
import { nextRunAt, type Timing } from "./schedule-time.ts";
import { workspaceTimeZone } from "./summary.ts";

/** The groupings a scheduled report may use: the summary's, but the heat map's weekday × hour. */
export const SCHEDULE_GROUPS = ["day", "hour", "channel", "inbox", "queue", "team", "agent"] as const;
export const SCHEDULE_LANGUAGES = ["en", "zh-CN"] as const;
/** Each recipient gets the mail with the others on its To line: a short list, not a mailing list. */
export const MAX_RECIPIENTS = 20;

const ids = z.array(z.uuid()).min(1).max(50).optional();
/** The summary's filters a schedule keeps (reports/period.ts FILTERS): lists of queues, agents… */
export const ScheduleFilters = z
  .object({
    queueId: ids,
    agentId: ids,
    inboxId: ids,
    teamId: ids,
    channel: z.array(z.string().min(1).max(40)).min(1).max(20).optional(),
  })
  .strict();

const fields = {
  name: z.string().trim().min(1).max(200),
  frequency: z.enum(["daily", "weekly"]),
  // 0 = Sunday … 6 = Saturday; weekly reports only.
  weekday: z.number().int().min(0).max(6).nullable(),
  hour: z.number().int().min(0).max(23),
  groupBy: z.enum(SCHEDULE_GROUPS),
  filters: ScheduleFilters,
  recipients: z.array(z.email()).min(1).max(MAX_RECIPIENTS),
  language: z.enum(SCHEDULE_LANGUAGES),
};

export const ScheduleInput = z.object({
  ...fields,
  weekday: fields.weekday.optional(),
  hour: fields.hour.default(7),
  groupBy: fields.groupBy.default("day"),
  filters: fields.filters.default({}),
  language: fields.language.default("en"),
});
export const SchedulePatch = z.object(fields).partial();
export type ScheduleInput = z.input<typeof ScheduleInput>;
export type SchedulePatch = z.infer<typeof SchedulePatch>;

export const scheduleView = (s: ReportSchedule) => ({
  id: s.id,
  name: s.name,
  frequency: s.frequency,
  weekday: s.weekday,
  hour: s.hour,
  groupBy: s.groupBy,
  filters: s.filters,
  recipients: s.recipients,
  language: s.language,
  nextRunAt: s.nextRunAt.toISOString(),
  lastSentAt: s.lastSentAt?.toISOString() ?? null,
  createdAt: s.createdAt.toISOString(),
});

/** A weekly report needs its weekday; a daily one keeps none. */
function checkTiming(t: { frequency: string; weekday?: number | null; hour: number }): Timing {
  if (t.frequency === "weekly" && (t.weekday === undefined || t.weekday === null))
    throw new Invalid("weekday: a weekly report needs its weekday (0 = Sunday … 6 = Saturday)", "weekday");
  return {
    frequency: t.frequency as Timing["frequency"],
    weekday: t.frequency === "weekly" ? t.weekday! : null,
    hour: t.hour,
  };
}

const lowerUnique = (emails: string[]) => [...new Set(emails.map((e) => e.trim().toLowerCase()))];

export async function listSchedules(db: Executor, workspaceId: string) {
  const rows = await db
    .select()
    .from(reportSchedules)
    .where(eq(reportSchedules.workspaceId, workspaceId))
    .orderBy(asc(reportSchedules.createdAt), asc(reportSchedules.id));
  return rows.map(scheduleView);
}

export async function createSchedule(
  db: Executor,
  workspaceId: string,
  userId: string,
  raw: ScheduleInput,
  now = new Date(),
) {
  const input = ScheduleInput.parse(raw);
  const timing = checkTiming(input);
  const [row] = await db
    .insert(reportSchedules)
    .values({
      workspaceId,
      name: input.name,
      ...timing,
      groupBy: input.groupBy,
      filters: input.filters,
      recipients: lowerUnique(input.recipients),
      language: input.language,
      nextRunAt: nextRunAt(timing, await workspaceTimeZone(db, workspaceId), now),
      createdBy: userId,
    })
    .returning();
  return scheduleView(row!);
}

async function scheduleOf(db: Executor, workspaceId: string, id: string) {
  const [row] = await db
    .select()
    .from(reportSchedules)
    .where(and(eq(reportSchedules.workspaceId, workspaceId), eq(reportSchedules.id, id)));
  if (!row) throw new NotFound("Report schedule", "id");
  return row;
}

/** A change of frequency, weekday or hour moves the next run to the new timing's next occurrence. */
export async function updateSchedule(
  db: Executor,
  workspaceId: string,
  id: string,
  patch: SchedulePatch,
  now = new Date(),
) {
  const before = await scheduleOf(db, workspaceId, id);
  const timingChanged = patch.frequency !== undefined || patch.weekday !== undefined || patch.hour !== undefined;
  const timing = checkTiming({
    frequency: patch.frequency ?? before.frequency,
    weekday: patch.weekday !== undefined ? patch.weekday : before.weekday,
    hour: patch.hour ?? before.hour,
  });
  const [row] = await db
    .update(reportSchedules)
    .set({
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.groupBy !== undefined ? { groupBy: patch.groupBy } : {}),
      ...(patch.filters !== undefined ? { filters: patch.filters } : {}),
      ...(patch.recipients !== undefined ? { recipients: lowerUnique(patch.recipients) } : {}),
      ...(patch.language !== undefined ? { language: patch.language } : {}),
      ...(timingChanged
        ? { ...timing, nextRunAt: nextRunAt(timing, await workspaceTimeZone(db, workspaceId), now) }
        : {}),
    })
    .where(and(eq(reportSchedules.workspaceId, workspaceId), eq(reportSchedules.id, id)))
    .returning();
  return scheduleView(row!);
}

export async function deleteSchedule(db: Executor, workspaceId: string, id: string) {
  const deleted = await db
    .delete(reportSchedules)
    .where(and(eq(reportSchedules.workspaceId, workspaceId), eq(reportSchedules.id, id)))
    .returning({ id: reportSchedules.id });
  if (!deleted.length) throw new NotFound("Report schedule", "id");
}
