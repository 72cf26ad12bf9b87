import { and, asc, eq, lte } from "drizzle-orm";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Executor } from "../db/connect.ts";
import { reportSchedules, type ReportSchedule } from "../db/schema/index.ts";
import { log } from "../platform/log.ts";
import { PollLoop } from "../platform/poll-loop.ts";
import { csvLine, flatten } from "./csv.ts";
import type { Filters, GroupBy, ReportPeriod } from "./period.ts";
import { queueReportMail, senderInbox, type ReportFiles } from "./schedule-mail.ts";
import { renderReportMail, type MailInput } from "./schedule-render.ts";
import { localDate, nextRunAt, reportPeriod, type Timing } from "./schedule-time.ts";
import { summary, totals, workspaceTimeZone } from "./summary.ts";

/** Schedules one pass handles; a full pass is followed by another at once. */
const BATCH = 20;
const DAY_MS = 86_400_000;

export type ScheduleSweepDeps = { core: Core; files: ReportFiles };

const NAMED: GroupBy[] = ["inbox", "queue", "team", "agent"];

/**
 * The summary a mail reports: its rows, the period's total, and the CSV `GET /reports/summary?format=csv`
 * answers for the same query (the same flattened columns, a name column for named groups).
 */
async function report(db: Executor, workspaceId: string, p: ReportPeriod, groupBy: GroupBy, filters: Filters) {
  const rows = await summary(db, workspaceId, p, groupBy, filters);
  const total = await totals(db, workspaceId, p, filters);
  const header = Object.keys(flatten(total));
  if (NAMED.includes(groupBy)) header.splice(1, 0, "name");
  const csv = [header, ...rows.map((r) => flatten(r)).map((r) => header.map((h) => r[h]))].map(csvLine).join("");
  return { rows, total, csv };
}

const timingOf = (s: ReportSchedule): Timing => ({
  frequency: s.frequency as Timing["frequency"],
  weekday: s.weekday,
  hour: s.hour,
});
const dateOf = (day: number) => new Date(day).toISOString().slice(0, 10);

/**
 * After a run the schedule moves to its next time after now: a node that was down for days sends one
 * report, not one per missed day.
 */
const following = (s: ReportSchedule, timeZone: string, now: Date) =>
  nextRunAt(timingOf(s), timeZone, new Date(Math.max(now.getTime(), s.nextRunAt.getTime())));

/**
 * One due schedule, in one transaction: claimed with SKIP LOCKED (so of all the nodes sweeping at
 * once only one takes it), its report computed and written as a mail to the outbox, and its next run
 * set. Returns false when nothing was due.
 */
async function runOne(deps: ScheduleSweepDeps, now: Date, claimed: { schedule?: ReportSchedule }) {
  return withEvents(deps.core, async (tx, events) => {
    const [schedule] = await tx
      .select()
      .from(reportSchedules)
      .where(lte(reportSchedules.nextRunAt, now))
      .orderBy(asc(reportSchedules.nextRunAt))
      .limit(1)
      .for("update", { skipLocked: true });
    if (!schedule) return false;
    claimed.schedule = schedule;
    const timeZone = await workspaceTimeZone(tx, schedule.workspaceId);
    const next = following(schedule, timeZone, now);
    const inbox = await senderInbox(tx, schedule.workspaceId);
    if (!inbox) {
      log.warn("report schedule: no email inbox with an outgoing server, nothing mailed", {
        scheduleId: schedule.id,
        workspaceId: schedule.workspaceId,
      });
    } else {
      const period = reportPeriod(timingOf(schedule).frequency, schedule.nextRunAt, timeZone);
      const groupBy = schedule.groupBy as MailInput["groupBy"];
      const figures = await report(
        tx,
        schedule.workspaceId,
        { ...period, tz: timeZone },
        groupBy,
        schedule.filters as Filters,
      );
      const firstDay = dateOf(localDate(period.from.getTime(), timeZone));
      const lastDay = dateOf(localDate(period.to.getTime(), timeZone) - DAY_MS);
      const mail = renderReportMail({
        name: schedule.name,
        frequency: timingOf(schedule).frequency,
        groupBy,
        language: schedule.language,
        timeZone,
        firstDay,
        lastDay,
        rows: figures.rows,
        total: figures.total,
      });
      await queueReportMail(tx, events, deps.files, schedule, inbox.id, {
        ...mail,
        csv: figures.csv,
        csvName: `report-${firstDay}${lastDay === firstDay ? "" : `-${lastDay}`}-by-${groupBy}.csv`,
      });
    }
    await tx
      .update(reportSchedules)
      .set({ nextRunAt: next, ...(inbox ? { lastSentAt: now } : {}) })
      .where(eq(reportSchedules.id, schedule.id));
    return true;
  });
}

/**
 * A schedule whose report could not be made (its query failed) still moves on to its next run, so
 * one broken schedule is not retried on every pass; the failure is logged. A mail that was written but
 * fails to send is the outbox's to retry.
 */
async function skipFailed(deps: ScheduleSweepDeps, now: Date, stuck: ReportSchedule | undefined, err: unknown) {
  if (!stuck) throw err;
  log.error("report schedule: the report could not be made; trying again at the next run", {
    scheduleId: stuck.id,
    err,
  });
  const next = following(stuck, await workspaceTimeZone(deps.core.db, stuck.workspaceId), now);
  await deps.core.db
    .update(reportSchedules)
    .set({ nextRunAt: next })
    .where(and(eq(reportSchedules.id, stuck.id), eq(reportSchedules.nextRunAt, stuck.nextRunAt)));
}

/** One pass: every schedule due at `now` (up to a batch); returns how many were handled. */
export async function sweepSchedules(deps: ScheduleSweepDeps, now = new Date(), batch = BATCH) {
  let handled = 0;
  while (handled < batch) {
    const claimed: { schedule?: ReportSchedule } = {};
    try {
      if (!(await runOne(deps, now, claimed))) break;
    } catch (err) {
      await skipFailed(deps, now, claimed.schedule, err);
    }
    handled++;
  }
  return handled;
}

/**
 * The report-mail sweep of a node (REPORT_SCHEDULE_SWEEP_MS). Every node runs it; the claim makes
 * each due report go out once. `onQueued` wakes the outbox so the mail leaves now.
 */
export function reportScheduleSweep(deps: ScheduleSweepDeps, pollMs: number, onQueued: () => void) {
  return new PollLoop(
    "report-schedule-sweep",
    async () => {
      const handled = await sweepSchedules(deps);
      if (handled) onQueued();
      return handled;
    },
    { batch: BATCH, pollMs, idleUntilStarted: true },
  );
}
