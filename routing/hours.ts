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
 * Whether a queue with these hours is open at `date`, local to the queue's time zone. The span rules
 * are SLA calendars' (sla/calendar.ts): a span belongs to the weekday it starts on, one that does not
 * end after its start runs past midnight (["22:00","06:00"]), "24:00" is midnight, and a holiday drops
 * the spans starting on it. No hours set means always open.
 */
export function isOpen(hours: BusinessHours | null, date: Date) {
  if (!hours) return true;
  const local = localParts(date, hours.timeZone);
  const today = WEEKDAYS.indexOf(local.weekday);
  const yesterday = new Date(Date.parse(`${local.date}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  const openToday =
    !hours.holidays.includes(local.date) &&
    (hours.weekly[local.weekday] ?? []).some(([from, to]) =>
      to > from ? local.time >= from && local.time < to : local.time >= from,
    );
  const openSinceYesterday =
    !hours.holidays.includes(yesterday) &&
    (hours.weekly[WEEKDAYS[(today + 6) % 7]!] ?? []).some(([from, to]) => to <= from && local.time < to);
  return openToday || openSinceYesterday;
}
