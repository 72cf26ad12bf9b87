import type { BusinessHours } from "../db/schema/index.ts";
import { DAY_MS, localDay, localInstant } from "../platform/wall-clock.ts";

/**
 * Business-time arithmetic over a calendar (the queues' hours model: a time zone, spans per weekday,
 * holiday dates), pure and without a time zone library: local times become instants through Intl.
 *
 * The span rules, shared with routing/hours.ts `isOpen`: a span belongs to the weekday it starts on;
 * one whose end is not after its start runs past midnight (["22:00","06:00"] on Monday is Monday 22:00
 * to Tuesday 06:00); "24:00" ends at midnight; a holiday (a local date) drops the spans that start on it.
 * A calendar with no open hour at all within a year falls back to calendar time rather than never
 * coming due. Null hours = calendar time.
 */

/** Longest stretch without any open hour before a calendar counts as having none. */
const EMPTY_HORIZON_DAYS = 400;
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;

/** A day number (UTC midnight ms of a local date) as its date ("2026-03-08"), and the local day of an instant. */
const dateOf = (day: number) => new Date(day).toISOString().slice(0, 10);

/** The open intervals [from, to) (ms) of one local day's spans, in order. */
function dayIntervals(hours: BusinessHours, day: number): [number, number][] {
  if (hours.holidays.includes(dateOf(day))) return [];
  const spans = hours.weekly[WEEKDAYS[new Date(day).getUTCDay()]!] ?? [];
  return spans
    .map(([from, to]): [number, number] => {
      const start = localInstant(day, from, hours.timeZone);
      const end = to > from ? localInstant(day, to, hours.timeZone) : localInstant(day + DAY_MS, to, hours.timeZone);
      return [start, end];
    })
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
}

/**
 * Open intervals from the day before `from`'s local date on (a span of yesterday may still run),
 * without overlaps; stops after EMPTY_HORIZON_DAYS days without any.
 */
function* openIntervals(hours: BusinessHours, from: number): Generator<[number, number]> {
  let day = localDay(from, hours.timeZone) - DAY_MS;
  let pending: [number, number] | null = null;
  let emptyDays = 0;
  while (emptyDays <= EMPTY_HORIZON_DAYS) {
    const spans = dayIntervals(hours, day);
    emptyDays = spans.length ? 0 : emptyDays + 1;
    for (const span of spans) {
      // An overlap (last night's span running into this morning's) counts once; touching spans are
      // yielded one by one, or an always-open calendar would never yield.
      const from: number = pending ? Math.max(span[0], pending[1]) : span[0];
      if (span[1] <= from) continue;
      if (pending) yield pending;
      pending = [from, span[1]];
    }
    day += DAY_MS;
  }
  if (pending) yield pending;
}

/** Whether any span of a calendar is ever open (an empty week or a year of holidays is not). */
function hasOpenTime(hours: BusinessHours, from: number) {
  return !openIntervals(hours, from).next().done;
}

/** The instant `ms` of business time after `start` (calendar time when hours are null). */
export function addBusinessTime(hours: BusinessHours | null, start: Date, ms: number): Date {
  const t0 = start.getTime();
  if (!hours || ms <= 0 || !hasOpenTime(hours, t0)) return new Date(t0 + Math.max(0, ms));
  let left = ms;
  for (const [a, b] of openIntervals(hours, t0)) {
    if (b <= t0) continue;
    const from = Math.max(a, t0);
    if (left <= b - from) return new Date(from + left);
    left -= b - from;
  }
  // The calendar ran out of open hours (a long stretch of holidays): what is left runs as calendar time.
  return new Date(t0 + ms);
}

/** The business time (ms) between two instants; 0 when `b` is not after `a`. */
export function businessTimeBetween(hours: BusinessHours | null, a: Date, b: Date): number {
  const from = a.getTime();
  const to = b.getTime();
  if (to <= from) return 0;
  if (!hours || !hasOpenTime(hours, from)) return to - from;
  let total = 0;
  for (const [x, y] of openIntervals(hours, from)) {
    if (x >= to) break;
    if (y <= from) continue;
    total += Math.min(y, to) - Math.max(x, from);
  }
  return total;
}

/** Whether `at` falls in a calendar's open hours (null = always): the rule routing/hours.ts follows. */
export function isBusinessTime(hours: BusinessHours | null, at: Date) {
  if (!hours) return true;
  const t = at.getTime();
  const day = localDay(t, hours.timeZone);
  return [...dayIntervals(hours, day - DAY_MS), ...dayIntervals(hours, day)].some(([a, b]) => a <= t && t < b);
}
