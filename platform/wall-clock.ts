/**
 * Local wall-clock time in an IANA time zone, without a time zone library: instants become local times
 * through Intl, and local times become instants by correcting for the offset in force. "Wall time" is a
 * local date and time written as if it were UTC (its difference to the instant is the zone's offset), so
 * day and weekday arithmetic on it is plain UTC arithmetic. Pure: the SLA calendar, the reports, the
 * forecast and the browser's report periods all count local days with it.
 */

export const DAY_MS = 86_400_000;

const formats = new Map<string, Intl.DateTimeFormat>();
function formatOf(timeZone: string) {
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
  return f;
}

export function isTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** The local wall clock at `ms` as if it were UTC: its difference to `ms` is the zone's offset. */
export function wallClock(ms: number, timeZone: string): number {
  const parts = formatOf(timeZone).formatToParts(new Date(ms));
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(n("year"), n("month") - 1, n("day"), n("hour") % 24, n("minute"), n("second"));
}

/** The local date of an instant as a day number (UTC midnight ms of that date). */
export function localDay(ms: number, timeZone: string): number {
  const wall = wallClock(ms, timeZone);
  return wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS);
}

const offsetAt = (ms: number, timeZone: string) => {
  const whole = Math.floor(ms / 1000) * 1000;
  return wallClock(whole, timeZone) - whole;
};

/**
 * The instant of a local date and time. In the spring-forward gap (02:30 that never happens) it is
 * the instant after the jump; in the fall-back hour that happens twice, the first of the two.
 */
export function localInstant(day: number, time: string, timeZone: string): number {
  const [h, m] = time.split(":").map(Number) as [number, number];
  const wall = day + h * 3_600_000 + m * 60_000;
  // The zone's offsets half a day either side: at most one change lies between them.
  const early = wall - offsetAt(wall - 43_200_000, timeZone);
  const late = wall - offsetAt(wall + 43_200_000, timeZone);
  const shows = [early, late].filter((t) => wallClock(t, timeZone) === wall);
  return shows.length ? Math.min(...shows) : early;
}
