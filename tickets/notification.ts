import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Executor, Tx } from "../db/connect.ts";
import { notifications, type Notification } from "../db/schema/index.ts";
import type { Actor } from "../conversations/actor.ts";
import type { EventLog } from "../conversations/event.ts";

export const notificationView = (n: Notification) => ({
  id: n.id,
  kind: n.kind,
  text: n.text,
  ticketId: n.ticketId,
  conversationId: n.conversationId,
  readAt: n.readAt?.toISOString() ?? null,
  createdAt: n.createdAt.toISOString(),
});

/** Something for one user's bell: stored, and pushed to that user's sockets only. */
export async function notify(
  tx: Tx,
  events: EventLog,
  n: { workspaceId: string; userId: string; kind: string; text: string; ticketId?: string; conversationId?: string },
) {
  const [row] = await tx
    .insert(notifications)
    .values({ ...n, ticketId: n.ticketId ?? null, conversationId: n.conversationId ?? null })
    .returning();
  await events.append(n.workspaceId, {
    type: "notification.created",
    conversationId: null,
    payload: { notification: notificationView(row!), onlyFor: { userId: n.userId } },
  });
}

/** The user's latest notifications (newest first) and how many are unread. */
export async function listNotifications(db: Executor, actor: Actor, limit = 50) {
  const mine = and(eq(notifications.workspaceId, actor.workspaceId), eq(notifications.userId, actor.userId));
  const [rows, [unread]] = await Promise.all([
    db.select().from(notifications).where(mine).orderBy(desc(notifications.createdAt)).limit(limit),
    db
      .select({ n: sql<number>`count(*)::int` })
      .from(notifications)
      .where(and(mine, isNull(notifications.readAt))),
  ]);
  return { items: rows.map(notificationView), unread: Number(unread?.n ?? 0) };
}

/** Marks the user's notifications read: the ones named, or all. */
export async function markNotificationsRead(db: Executor, actor: Actor, ids?: string[]) {
  if (ids && !ids.length) return;
  await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(
      and(
        eq(notifications.workspaceId, actor.workspaceId),
        eq(notifications.userId, actor.userId),
        isNull(notifications.readAt),
        ids ? inArray(notifications.id, ids) : undefined,
      ),
    );
}
