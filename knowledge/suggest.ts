import { and, desc, eq } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { timelineItems } from "../db/schema/index.ts";
import type { KnowledgeSearch, SearchHit } from "./search.ts";

/** How many of the customer's latest messages make the question, and how much of them. */
const LATEST_MESSAGES = 3;
const MAX_QUESTION_CHARS = 500;

/** The customer's latest messages, newest last: what they are asking about now. */
export async function latestCustomerText(db: Executor, workspaceId: string, conversationId: string) {
  const rows = await db
    .select({ text: timelineItems.text })
    .from(timelineItems)
    .where(
      and(
        eq(timelineItems.workspaceId, workspaceId),
        eq(timelineItems.conversationId, conversationId),
        eq(timelineItems.type, "message"),
        eq(timelineItems.senderType, "contact"),
      ),
    )
    .orderBy(desc(timelineItems.seq))
    .limit(LATEST_MESSAGES);
  return rows
    .map((r) => r.text ?? "")
    .reverse()
    .join(" ")
    .slice(-MAX_QUESTION_CHARS);
}

/** Top articles for a conversation's latest customer messages (agents: every visibility). */
export async function suggestForConversation(
  db: Executor,
  search: KnowledgeSearch,
  workspaceId: string,
  conversationId: string,
  limit = 5,
): Promise<{ question: string; items: SearchHit[] }> {
  const question = await latestCustomerText(db, workspaceId, conversationId);
  if (!question.trim()) return { question, items: [] };
  // A customer's chat text is not a search an editor should see as a gap: not recorded.
  const items = await search.search({ workspaceId, q: question, publicOnly: false, limit }, { recordGap: false });
  return { question, items };
}
