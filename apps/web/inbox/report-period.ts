/**
 * The reports screen's periods in the workspace's time zone (not the browser's): local midnights as
 * instants through Intl, the way the server counts days (reports/period.ts takes `from` inclusive,
 * `to` exclusive).
 */
import { DAY_MS, wallClock } from "../../../platform/wall-clock.ts";

export type Preset = "today" | "yesterday" | "7d" | "30d" | "custom";

/** The local date (YYYY-MM-DD) of an instant. */
export function localDateOf(ms: number, timeZone: string) {
  return new Date(wallClock(ms, timeZone)).toISOString().slice(0, 10);
}

/** The instant a local date begins (its midnight, or the first instant after a midnight that DST skips). */
export function startOfDate(date: string, timeZone: string) {
  const wall = Date.parse(`${date}T00:00:00Z`);
  let t = wall;
  // Two corrections reach the offset in force at that midnight, also across a change that day.
  for (let i = 0; i < 2; i++) t = wall - (wallClock(t, timeZone) - t);
  return t;
}

const addDays = (date: string, days: number) =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

/** A preset (or custom dates, both inclusive) as the API's period, and its first and last local dates. */
export function periodOf(
  preset: Preset,
  timeZone: string,
  custom: { from: string; to: string },
  now = Date.now(),
): { from: Date; to: Date; firstDay: string; lastDay: string } | null {
  const today = localDateOf(now, timeZone);
  const [first, last] =
    preset === "today"
      ? [today, today]
      : preset === "yesterday"
        ? [addDays(today, -1), addDays(today, -1)]
        : preset === "7d"
          ? [addDays(today, -6), today]
          : preset === "30d"
            ? [addDays(today, -29), today]
            : [custom.from, custom.to];
  if (!/^\d{4}-\d{2}-\d{2}$/.test(first) || !/^\d{4}-\d{2}-\d{2}$/.test(last) || last < first) return null;
  if (Date.parse(last) - Date.parse(first) >= 366 * DAY_MS) return null;
  return {
    from: new Date(startOfDate(first, timeZone)),
    to: new Date(startOfDate(addDays(last, 1), timeZone)),
    firstDay: first,
    lastDay: last,
  };
}

/** An hour key (the ISO start of the hour) as the workspace's local "MM-DD HH:00". */
export function hourLabel(iso: string, timeZone: string) {
  const wall = new Date(wallClock(Date.parse(iso), timeZone)).toISOString();
  return `${wall.slice(5, 10)} ${wall.slice(11, 13)}:00`;
}
