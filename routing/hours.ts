import type { BusinessHours } from "../db/schema/index.ts";

const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

/** The wall-clock day, date and time at `date` in a time zone, from Intl (no time zone library). */
function localParts(date: Date, timeZone: string) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    weekday: "short",
    hourCycle: "h23",
  }).formatToParts(date);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return {
    weekday: get("weekday").slice(0, 3).toLowerCase() as (typeof WEEKDAYS)[number],
    date: `${get("year")}-${get("month")}-${get("day")}`,
    time: `${get("hour")}:${get("minute")}`,
  };
}

/**
 * Whether a queue with these hours is open at `date`: on a listed span of that weekday, local to the
 * queue's time zone, and not on a holiday. No hours set means always open.
 */
export function isOpen(hours: BusinessHours | null, date: Date) {
  if (!hours) return true;
  const local = localParts(date, hours.timeZone);
  if (hours.holidays.includes(local.date)) return false;
  return (hours.weekly[local.weekday] ?? []).some(([from, to]) => local.time >= from && local.time < to);
}
