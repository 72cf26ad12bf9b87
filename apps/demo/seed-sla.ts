import { and, eq } from "drizzle-orm";
import { timelineView } from "../../conversations/timeline.ts";
import { conversations, slaPolicies, timelineItems } from "../../db/schema/index.ts";
import { reconcileConversation } from "../../sla/conversation-clocks.ts";
import { createPolicy } from "../../sla/policy.ts";
import { setWorkspaceCalendar } from "../../sla/workspace-calendar.ts";
import type { Runtime } from "../server/runtime.ts";

/**
 * The demo's SLA: a Shanghai business calendar, a VIP policy first and a business-hours catch-all
 * after it, and clocks on the chats already waiting, so the inbox shows live SLA clocks at once.
 */
export async function seedDemoSla(rt: Runtime, workspaceId: string) {
  const db = rt.core.db;
  const [existing] = await db
    .select({ id: slaPolicies.id })
    .from(slaPolicies)
    .where(eq(slaPolicies.workspaceId, workspaceId));
  if (existing) return;
  const weekday: [string, string][] = [["09:00", "18:00"]];
  await setWorkspaceCalendar(db, workspaceId, {
    timeZone: "Asia/Shanghai",
    weekly: { mon: weekday, tue: weekday, wed: weekday, thu: weekday, fri: weekday, sat: [["10:00", "16:00"]] },
    holidays: ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"],
  });
  await createPolicy(db, workspaceId, {
    name: "VIP 贵宾",
    firstResponseMinutes: 2,
    nextResponseMinutes: 5,
    resolutionMinutes: 240,
    conditions: [{ field: "vip", op: "equals", value: true }],
  });
  await createPolicy(db, workspaceId, {
    name: "Standard 标准",
    firstResponseMinutes: 10,
    nextResponseMinutes: 30,
    resolutionMinutes: 1440,
    businessHours: true,
  });
  const open = await db
    .select({ id: conversations.id })
    .from(conversations)
    .where(and(eq(conversations.workspaceId, workspaceId), eq(conversations.status, "open")));
  // Each waiting chat's first customer message starts its first-response clock, as if it came now.
  for (const c of open) {
    const [first] = await db
      .select()
      .from(timelineItems)
      .where(
        and(
          eq(timelineItems.conversationId, c.id),
          eq(timelineItems.type, "message"),
          eq(timelineItems.direction, "in"),
        ),
      )
      .orderBy(timelineItems.seq)
      .limit(1);
    await reconcileConversation(db, workspaceId, c.id, first ? timelineView(first) : undefined);
  }
}
