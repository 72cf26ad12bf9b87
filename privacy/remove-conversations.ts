import { rm } from "node:fs/promises";
import { and, eq, inArray, isNotNull, or, sql } from "drizzle-orm";
import type { Db } from "../db/connect.ts";
import {
  attachments,
  automationRuns,
  calls,
  conversations,
  events,
  knowledgeBotSessions,
  knowledgeEvents,
  timelineItems,
} from "../db/schema/index.ts";

/** Where stored files live on disk (conversations/attachment.ts AttachmentStore). */
export type FileStore = { localPath(storageKey: string): string };

export type Removed = { conversations: number; items: number; files: number; recordings: number; events: number };

/**
 * Deletes conversations for good (an erasure, the retention sweep): their files and call recordings on
 * disk first, then the rows, so a crash in between leaves rows whose files are gone — which a second run
 * deletes — never files nobody can find. The timeline, calls and their transcripts, outbox, reads, work
 * items, CSAT, QA and report facts go with each conversation by foreign key; the replay log's events,
 * the knowledge bot's sessions and gap queries and automation runs that name one are deleted here, as no
 * foreign key reaches them.
 */
export async function removeConversations(
  db: Db,
  files: FileStore,
  workspaceId: string,
  ids: string[],
): Promise<Removed> {
  const none = { conversations: 0, items: 0, files: 0, recordings: 0, events: 0 };
  if (!ids.length) return none;
  const inWorkspace = (rows: { storageKey: string }[]) => rows.map((r) => r.storageKey);
  const itemFiles = await db
    .select({ id: attachments.id, storageKey: attachments.storageKey })
    .from(attachments)
    .innerJoin(timelineItems, eq(timelineItems.id, attachments.timelineItemId))
    .where(and(eq(attachments.workspaceId, workspaceId), inArray(timelineItems.conversationId, ids)));
  const recordings = await db
    .select({ id: attachments.id, storageKey: attachments.storageKey })
    .from(calls)
    .innerJoin(attachments, eq(attachments.id, calls.recordingId))
    .where(and(eq(calls.workspaceId, workspaceId), inArray(calls.conversationId, ids), isNotNull(calls.recordingId)));
  for (const key of [...inWorkspace(itemFiles), ...inWorkspace(recordings)])
    await rm(files.localPath(key), { force: true });
  return db.transaction(async (tx) => {
    const fileIds = [...itemFiles, ...recordings].map((f) => f.id);
    if (fileIds.length)
      await tx
        .delete(attachments)
        .where(and(eq(attachments.workspaceId, workspaceId), inArray(attachments.id, fileIds)));
    const [{ items } = { items: 0 }] = await tx
      .select({ items: sql<number>`count(*)::int` })
      .from(timelineItems)
      .where(inArray(timelineItems.conversationId, ids));
    // Rows that name a conversation without a foreign key: the bot's copy of the customer's question, the
    // knowledge gaps' queries (customers' words), automation runs.
    await tx
      .delete(knowledgeBotSessions)
      .where(and(eq(knowledgeBotSessions.workspaceId, workspaceId), inArray(knowledgeBotSessions.conversationId, ids)));
    await tx
      .delete(knowledgeEvents)
      .where(and(eq(knowledgeEvents.workspaceId, workspaceId), inArray(knowledgeEvents.conversationId, ids)));
    await tx
      .delete(automationRuns)
      .where(and(eq(automationRuns.workspaceId, workspaceId), inArray(automationRuns.conversationId, ids)));
    const gone = await tx
      .delete(conversations)
      .where(and(eq(conversations.workspaceId, workspaceId), inArray(conversations.id, ids)))
      .returning({ id: conversations.id });
    const logged = await tx
      .delete(events)
      .where(
        and(
          eq(events.workspaceId, workspaceId),
          or(
            inArray(events.conversationId, ids),
            // Ticket events carry the conversation in their payload, not their column.
            sql`${events.payload}->>'conversationId' IN (${sql.join(
              ids.map((id) => sql`${id}`),
              sql`, `,
            )})`,
          ),
        ),
      )
      .returning({ seq: events.seq });
    return {
      conversations: gone.length,
      items,
      files: itemFiles.length,
      recordings: recordings.length,
      events: logged.length,
    };
  });
}
