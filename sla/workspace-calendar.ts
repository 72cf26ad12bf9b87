import { eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { workspaceSettings, type BusinessHours } from "../db/schema/index.ts";
import { checkBusinessHours } from "../routing/hours.ts";

/** The workspace's calendar: what business-hours SLA clocks run on when the subject has no queue hours. */
export async function workspaceCalendar(db: Executor, workspaceId: string): Promise<BusinessHours | null> {
  const [row] = await db
    .select({ calendar: workspaceSettings.calendar })
    .from(workspaceSettings)
    .where(eq(workspaceSettings.workspaceId, workspaceId));
  return row?.calendar ?? null;
}

export async function setWorkspaceCalendar(db: Executor, workspaceId: string, calendar: BusinessHours | null) {
  checkBusinessHours(calendar);
  await db
    .insert(workspaceSettings)
    .values({ workspaceId, calendar, ...(calendar ? { timeZone: calendar.timeZone } : {}) })
    .onConflictDoUpdate({
      target: workspaceSettings.workspaceId,
      set: { calendar, ...(calendar ? { timeZone: calendar.timeZone } : {}), updatedAt: new Date() },
    });
  return calendar;
}
