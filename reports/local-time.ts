import { DAY_MS, isTimeZone, localInstant, wallClock } from "../platform/wall-clock.ts";

export { isTimeZone, wallClock };
import { SLOT_MS } from "./forecast.ts";

/**
 * Half-hour intervals on the workspace's wall clock. Forecasts and replays count in "wall time": a
 * local date and time written as if it were UTC, so a weekday × half-hour slot is the same slot every
 * week whatever the zone's offset or daylight saving does; instants come back through sla/calendar.ts.
 */

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
