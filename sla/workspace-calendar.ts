import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Executor } from "../db/connect.ts";
import { workspaceSettings, type BusinessHours } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";

const weekdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const START = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be HH:MM");
// "24:00" ends a day at midnight.
const END = z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/, "must be HH:MM or 24:00");

/**
 * A business calendar (the queues' hours model). A span that does not end after it starts runs past
 * midnight (["22:00","06:00"]); a span of no length is refused.
 */
export const CalendarInput = z
  .object({
    timeZone: z.string().min(1).max(64),
    weekly: z.partialRecord(z.enum(weekdays), z.array(z.tuple([START, END])).max(6)),
    holidays: z.array(z.iso.date()).max(366).default([]),
  })
  .strict()
  .nullable();

/** Checks what zod cannot: the time zone and spans of no length; `prefix` names the fields ("businessHours."). */
export function checkCalendar(hours: BusinessHours | null, prefix = "") {
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

/** The workspace's calendar: what business-hours SLA clocks run on when the subject has no queue hours. */
export async function workspaceCalendar(db: Executor, workspaceId: string): Promise<BusinessHours | null> {
  const [row] = await db
    .select({ calendar: workspaceSettings.calendar })
    .from(workspaceSettings)
    .where(eq(workspaceSettings.workspaceId, workspaceId));
  return row?.calendar ?? null;
}

export async function setWorkspaceCalendar(db: Executor, workspaceId: string, calendar: BusinessHours | null) {
  checkCalendar(calendar);
  await db
    .insert(workspaceSettings)
    .values({ workspaceId, calendar, ...(calendar ? { timeZone: calendar.timeZone } : {}) })
    .onConflictDoUpdate({
      target: workspaceSettings.workspaceId,
      set: { calendar, ...(calendar ? { timeZone: calendar.timeZone } : {}), updatedAt: new Date() },
    });
  return calendar;
}
