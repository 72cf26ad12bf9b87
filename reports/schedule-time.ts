import { localDay, localInstant } from "../platform/wall-clock.ts";

/**
 * When a scheduled report goes out and which period it covers, in the workspace's time zone. Pure:
 * local dates become instants through Intl (platform/wall-clock.ts `localInstant`), so a run at 07:00 stays
 * at 07:00 local across daylight-saving changes.
 */

const DAY_MS = 86_400_000;

export type Frequency = "daily" | "weekly";
export type Timing = { frequency: Frequency; weekday: number | null; hour: number };

/** The local date of an instant as a day number (UTC midnight ms of that date). */
export const localDate = localDay;

const at = (day: number, hour: number, timeZone: string) =>
  localInstant(day, `${String(hour).padStart(2, "0")}:00`, timeZone);

/** The first run strictly after `after`: the next local `hour` (on `weekday`, 0 = Sunday, when weekly). */
export function nextRunAt(timing: Timing, timeZone: string, after: Date): Date {
  const today = localDate(after.getTime(), timeZone);
  // Starting the day before covers a zone whose local date is still yesterday's at `after`.
  for (let d = -1; d <= 8; d++) {
    const day = today + d * DAY_MS;
    if (timing.frequency === "weekly" && new Date(day).getUTCDay() !== timing.weekday) continue;
    const run = at(day, timing.hour, timeZone);
    if (run > after.getTime()) return new Date(run);
  }
  throw new Error("no run time within a week");
}

/**
 * The period a run reports on: the whole local day before the run's date (daily), or the seven whole
 * local days before it (weekly). `from` inclusive, `to` exclusive, as the summary API takes them.
 */
export function reportPeriod(frequency: Frequency, runAt: Date, timeZone: string) {
  const runDay = localDate(runAt.getTime(), timeZone);
  const days = frequency === "weekly" ? 7 : 1;
  return {
    from: new Date(at(runDay - days * DAY_MS, 0, timeZone)),
    to: new Date(at(runDay, 0, timeZone)),
  };
}
