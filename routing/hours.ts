import { z } from "zod";
import type { BusinessHours } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";

const WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const START = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be HH:MM");
// "24:00" ends a day at midnight.
const END = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, "must be HH:MM or 24:00");

/**
 * Business hours as a queue or the workspace calendar takes them. A span that does not end after it
 * starts runs past midnight (["22:00","06:00"]); a span of no length is refused (checkBusinessHours).
 */
export const BusinessHoursInput = z
  .object({
    timeZone: z.string().min(1).max(64),
    weekly: z.partialRecord(z.enum(WEEK), z.array(z.tuple([START, END])).max(6)),
    holidays: z.array(z.iso.date()).max(366).default([]),
  })
  .strict();

/** Checks what zod cannot: the time zone and spans of no length; `prefix` names the fields ("businessHours."). */
export function checkBusinessHours(hours: BusinessHours | null, prefix = "") {
  if (!hours) return;
  try {
    new Intl.DateTimeFormat("en", { timeZone: hours.timeZone });
  } catch {
    throw new Invalid(`Unknown time zone "${hours.timeZone}"`, `${prefix}timeZone`);
  }
  for (const [day, spans] of Object.entries(hours.weekly))
    for (const [from, to] of spans ?? [])
      if (from === to) throw new Invalid(`A span on ${day} has no length`, `${prefix}weekly.${day}`);
}

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
