import { localInstant } from "../sla/calendar.ts";
import { SLOT_MS } from "./forecast.ts";

/**
 * Half-hour intervals on the workspace's wall clock. Forecasts and replays count in "wall time": a
 * local date and time written as if it were UTC, so a weekday × half-hour slot is the same slot every
 * week whatever the zone's offset or daylight saving does; instants come back through sla/calendar.ts.
 */

const DAY_MS = 86_400_000;
const formats = new Map<string, Intl.DateTimeFormat>();

/** The local wall clock at `ms`, as a UTC timestamp. */
export function wallClock(ms: number, timeZone: string): number {
  let f = formats.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
    formats.set(timeZone, f);
  }
  const parts = f.formatToParts(new Date(ms));
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour") % 24, n("minute"), n("second"));
}

/** The wall-clock half-hour that `ms` falls in (its start, in wall time). */
export function wallSlot(ms: number, timeZone: string): number {
  const wall = wallClock(ms, timeZone);
  return wall - (((wall % SLOT_MS) + SLOT_MS) % SLOT_MS);
}

/** The instant a wall-clock time happens (in a daylight-saving gap: just after the jump). */
export function instantOf(wall: number, timeZone: string): number {
  const day = wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS);
  const d = new Date(wall);
  const hhmm = `${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
  return localInstant(day, hhmm, timeZone) + d.getUTCSeconds() * 1000;
}

export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone });
    return true;
  } catch {
    return false;
  }
}
