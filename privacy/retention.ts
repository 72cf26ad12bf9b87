import { and, asc, eq, isNotNull, lt } from "drizzle-orm";
import type { Db, Executor } from "../db/connect.ts";
import { conversations, workspaceSettings } from "../db/schema/index.ts";
import { recordAudit } from "./audit.ts";
import { removeConversations, type FileStore } from "./remove-conversations.ts";

/** A workspace keeps resolved conversations this many days at most (null: for ever). */
export async function retentionOf(db: Executor, workspaceId: string) {
  const [row] = await db
    .select({ days: workspaceSettings.retentionDays })
    .from(workspaceSettings)
    .where(eq(workspaceSettings.workspaceId, workspaceId));
  return { days: row?.days ?? null };
}

export async function setRetention(db: Executor, workspaceId: string, days: number | null) {
  await db
    .insert(workspaceSettings)
    .values({ workspaceId, retentionDays: days })
    .onConflictDoUpdate({ target: workspaceSettings.workspaceId, set: { retentionDays: days, updatedAt: new Date() } });
  return { days };
}

/** How many conversations one pass deletes per workspace: a long backlog is worked off pass by pass. */
export const RETENTION_BATCH = 200;

/**
 * Deletes, in every workspace with a retention period, conversations resolved more than that many days
 * ago (still resolved: one reopened since is kept) with their files and recordings; one audit row per
 * workspace and pass, with the count.
 */
export async function sweepRetention(db: Db, files: FileStore, now = new Date(), batch = RETENTION_BATCH) {
  const policies = await db
    .select({ workspaceId: workspaceSettings.workspaceId, days: workspaceSettings.retentionDays })
    .from(workspaceSettings)
    .where(isNotNull(workspaceSettings.retentionDays));
  let total = 0;
  for (const { workspaceId, days } of policies) {
    const before = new Date(now.getTime() - days! * 86_400_000);
    const due = await db
      .select({ id: conversations.id })
      .from(conversations)
      .where(
        and(
          eq(conversations.workspaceId, workspaceId),
          eq(conversations.status, "resolved"),
          lt(conversations.resolvedAt, before),
        ),
      )
      .orderBy(asc(conversations.resolvedAt))
      .limit(batch);
    if (!due.length) continue;
    const removed = await removeConversations(
      db,
      files,
      workspaceId,
      due.map((c) => c.id),
    );
    await recordAudit(db, {
      workspaceId,
      actor: null,
      action: "retention.delete",
      subjectType: "workspace",
      subjectId: workspaceId,
      detail: { days, resolvedBefore: before.toISOString(), ...removed },
    });
    total += removed.conversations;
  }
  return total;
}
