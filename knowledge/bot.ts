import { and, eq, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { botStates, knowledgeBotSessions, type InboxSettings } from "../db/schema/index.ts";
import { coverage, queryTerms } from "./segment.ts";
import type { SearchHit } from "./search.ts";

/**
 * The self-service bot's decisions, as plain functions: given the customer's message, where the chat
 * stands and what search found, what to do next. The wiring (timeline, routing) is in apps/.
 */

/** Share of the question's key words the best article must contain for the bot to answer. */
export const CONFIDENT_COVERAGE = 0.6;

export type BotState = (typeof botStates)[number];
export type BotAction =
  | { kind: "answer"; article: SearchHit; confidence: number }
  | { kind: "solved" }
  | { kind: "handover"; reason: "asked_for_human" | "low_confidence" | "not_solved"; confidence: number };

const HUMAN = /\b(human|agent|person|operator|someone real|real person|representative)\b|人工|真人|客服|转人工/i;
const YES =
  /^(y|yes|yeah|yep|solved|it did|thanks?|thank you|great|ok|okay|perfect|是|是的|好的?|解决了|可以了|谢谢|有帮助|明白了)[\s!.。！~]*$/i;

export function asksForHuman(text: string) {
  return HUMAN.test(text);
}

export function saidYes(text: string) {
  return YES.test(text.trim());
}

/** Is the bot switched on for this inbox (inbox settings: knowledgeBot)? */
export function botEnabled(settings: InboxSettings | null | undefined) {
  return settings?.knowledgeBot === true;
}

export function decide(state: BotState | undefined, message: string, hits: SearchHit[]): BotAction {
  if (state === "answered") {
    if (saidYes(message)) return { kind: "solved" };
    return { kind: "handover", reason: asksForHuman(message) ? "asked_for_human" : "not_solved", confidence: 0 };
  }
  if (asksForHuman(message)) return { kind: "handover", reason: "asked_for_human", confidence: 0 };
  const best = hits[0];
  const terms = queryTerms(message);
  const confidence = best ? coverage(terms, `${best.title} ${best.summary} ${best.snippet}`) : 0;
  if (best && confidence >= CONFIDENT_COVERAGE) return { kind: "answer", article: best, confidence };
  return { kind: "handover", reason: "low_confidence", confidence };
}

const zh = (locale: string) => locale.startsWith("zh");

/** The bot's answer: the article's summary and link, then the question that decides what happens next. */
export function answerText(article: Pick<SearchHit, "title" | "summary" | "snippet" | "locale">, link: string | null) {
  const gist = article.summary || article.snippet;
  return zh(article.locale)
    ? `${article.title}\n${gist}${link ? `\n${link}` : ""}\n\n这解决了您的问题吗？请回复“是”，或回复“否”转人工客服。`
    : `${article.title}\n${gist}${link ? `\n${link}` : ""}\n\nDid this solve it? Reply "yes", or "no" to talk to an agent.`;
}

export function handoverText(message: string) {
  return /[\u3400-\u9fff]/.test(message)
    ? "好的，正在为您转接人工客服，请稍候。"
    : "Let me connect you with an agent — one moment please.";
}

export function solvedText(message: string) {
  return /[\u3400-\u9fff]/.test(message)
    ? "很高兴能帮到您！如有其他问题，随时留言。"
    : "Glad that helped! Write again any time.";
}

export async function botSession(db: Executor, conversationId: string) {
  const [row] = await db
    .select()
    .from(knowledgeBotSessions)
    .where(eq(knowledgeBotSessions.conversationId, conversationId));
  return row;
}

/**
 * Claims a customer message for the bot: true on exactly one node (the others see the event too).
 * A new conversation's session starts as "deciding", which routing also holds back.
 */
export async function claimMessage(
  db: Executor,
  workspaceId: string,
  conversationId: string,
  itemId: string,
  question: string,
): Promise<boolean> {
  const inserted = await db
    .insert(knowledgeBotSessions)
    .values({ conversationId, workspaceId, state: "deciding", question, handledItemId: itemId })
    .onConflictDoNothing()
    .returning({ id: knowledgeBotSessions.conversationId });
  if (inserted.length) return true;
  const updated = await db
    .update(knowledgeBotSessions)
    .set({ handledItemId: itemId, updatedAt: new Date() })
    .where(
      and(
        eq(knowledgeBotSessions.conversationId, conversationId),
        sql`${knowledgeBotSessions.handledItemId} IS DISTINCT FROM ${itemId}`,
      ),
    )
    .returning({ id: knowledgeBotSessions.conversationId });
  return updated.length > 0;
}

export async function saveBotSession(
  db: Executor,
  row: { conversationId: string; workspaceId: string; state: BotState; question: string; articleId: string | null },
) {
  await db
    .insert(knowledgeBotSessions)
    .values({ ...row, updatedAt: new Date() })
    .onConflictDoUpdate({
      target: knowledgeBotSessions.conversationId,
      set: { state: row.state, question: row.question, articleId: row.articleId, updatedAt: new Date() },
    });
}
