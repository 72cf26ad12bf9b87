import { Invalid } from "../platform/errors.ts";
import { isTimeZone } from "../platform/wall-clock.ts";

/** How a report's rows are grouped; `weekday_hour` keys are `1-09` (ISO weekday, Monday = 1, and hour). */
export const GROUPS = ["day", "hour", "weekday_hour", "channel", "inbox", "queue", "team", "agent"] as const;
export type GroupBy = (typeof GROUPS)[number];

/** The filters every report takes, each a comma list; the id lists are checked as uuids. */
export const FILTERS = ["queueId", "agentId", "inboxId", "teamId", "channel"] as const;
export type Filter = (typeof FILTERS)[number];
export type Filters = Partial<Record<Filter, string[]>>;

/** A report spans at most this many days: longer ones would be a year of facts in one answer. */
export const MAX_DAYS = 366;

export type ReportPeriod = { from: Date; to: Date; tz: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function instant(value: string | undefined, field: "from" | "to") {
  if (!value) throw new Invalid(`${field} is required (an ISO date-time)`, field);
  const d = new Date(value);
  // Only full ISO date-times (or dates): "yesterday" or "3" would parse to something unintended.
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(d.getTime()))
    throw new Invalid(`${field} must be an ISO date-time`, field);
  return d;
}

/**
 * The period of a report from its query: `from` inclusive, `to` exclusive, at most a year (366 days),
 * in `tz` (an IANA zone; the workspace's when absent). Errors name the field.
 */
export function parsePeriod(q: { from?: string; to?: string; tz?: string }, workspaceTz: string): ReportPeriod {
  const from = instant(q.from, "from");
  const to = instant(q.to, "to");
  if (to <= from) throw new Invalid("to must be after from", "to");
  if (to.getTime() - from.getTime() > MAX_DAYS * 86_400_000)
    throw new Invalid(`A report covers at most ${MAX_DAYS} days`, "to");
  const tz = q.tz ?? workspaceTz;
  if (!isTimeZone(tz)) throw new Invalid(`Unknown time zone ${tz}`, "tz");
  return { from, to, tz };
}

export function parseGroupBy(value: string | undefined, fallback: GroupBy = "day"): GroupBy {
  const v = value ?? fallback;
  if (!(GROUPS as readonly string[]).includes(v))
    throw new Invalid(`groupBy must be one of ${GROUPS.join(", ")}`, "groupBy");
  return v as GroupBy;
}

export function parseFilters(q: Partial<Record<Filter, string>>): Filters {
  const filters: Filters = {};
  for (const name of FILTERS) {
    const raw = q[name];
    if (raw === undefined) continue;
    const list = raw
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (!list.length) throw new Invalid(`${name} is empty`, name);
    if (name !== "channel" && list.some((id) => !UUID.test(id))) throw new Invalid(`${name} must list ids`, name);
    filters[name] = list;
  }
  return filters;
}
