import { eq, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import { insertRecords } from "../db/records.ts";
import { events, workspaceCounters } from "../db/schema/index.ts";

type SeededEvent = Partial<Pick<typeof events.$inferInsert, "type" | "conversationId" | "public" | "payload">>;

/**
 * Stores `count` events after the workspace's head, as a busy workspace's log holds them (the counter
 * moves with them), without the cost of ingesting as many messages. Returns their seqs.
 */
export async function seedEvents(db: Db, workspaceId: string, count: number, event: SeededEvent = {}) {
  const [row] = await db
    .update(workspaceCounters)
    .set({ seq: sql`${workspaceCounters.seq} + ${count}` })
    .where(eq(workspaceCounters.workspaceId, workspaceId))
    .returning({ seq: workspaceCounters.seq });
  const seqs = Array.from({ length: count }, (_, i) => Number(row!.seq) - count + 1 + i);
  for (let i = 0; i < count; i += 1000) {
    const page = seqs.slice(i, i + 1000).map((seq) => ({
      workspaceId,
      seq,
      type: event.type ?? "contact.updated",
      conversationId: event.conversationId ?? null,
      public: event.public ?? false,
      payload: event.payload ?? {},
    }));
    await db.execute(insertRecords(events, page));
  }
  return seqs;
}
