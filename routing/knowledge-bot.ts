import { and, eq } from "drizzle-orm";
import { appendSystemEvent } from "../conversations/append-item.ts";
import { sendSystemMessage } from "../conversations/reply.ts";
import type { TimelineView } from "../conversations/timeline.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import { conversations, inboxes } from "../db/schema/index.ts";
import {
  answerText,
  botEnabled,
  botSession,
  claimMessage,
  decide,
  handoverText,
  saveBotSession,
  solvedText,
} from "../knowledge/bot.ts";
import { articleUrl } from "../knowledge/article-url.ts";
import { recordEvent } from "../knowledge/events.ts";
import type { KnowledgeSearch } from "../knowledge/search.ts";
import { log } from "../platform/log.ts";
import type { Router } from "./router.ts";
import { DEFAULT_ROUTING, enqueueConversation } from "./work.ts";

/** What the bot needs of the node: the core, public-article search, routing, and where links point. */
export type KnowledgeBotDeps = {
  core: Core;
  search: Pick<KnowledgeSearch, "search">;
  /** Offers a workspace's queued work to agents once the bot hands a chat over. */
  router: Pick<Router, "schedule">;
  /** The public base URL of the help center the bot's article links point to. */
  publicUrl: string;
};

/**
 * The self-service bot, per inbox (settings.knowledgeBot): answers a customer's message with the
 * best public article when confident, asks "did this solve it?", and hands the chat to the routing
 * queue — with the question and the article on the timeline for the agent — when the customer asks
 * for a human, says no, or no article fits. Routing holds bot chats back until then (routing/work.ts).
 */
export function startKnowledgeBot(bot: KnowledgeBotDeps): () => void {
  return bot.core.bus.subscribe((m) => {
    if (!("type" in m) || m.type !== "item.created" || !m.conversationId) return;
    const item = m.payload.item as TimelineView;
    if (item.type !== "message" || item.sender.type !== "contact" || !item.text?.trim()) return;
    // STOP or START (SMS, WhatsApp) changes what may be sent, and asks nothing: Twilio confirms it itself.
    if (item.data.consent) return;
    handleMessage(bot, m.workspaceId, m.conversationId, item).catch(async (err: unknown) => {
      log.error("knowledge bot failed; handing the chat to routing", { err, conversationId: m.conversationId });
      // Fail open: a chat the bot cannot answer must still reach an agent.
      await saveBotSession(bot.core.db, {
        conversationId: m.conversationId!,
        workspaceId: m.workspaceId,
        state: "handed_over",
        question: item.text ?? "",
        articleId: null,
      }).catch(() => {});
      const queued = await enqueueConversation(bot.core, m.conversationId!).catch(() => undefined);
      if (queued) bot.router.schedule(queued.workspaceId);
    });
  });
}

export async function handleMessage(
  bot: KnowledgeBotDeps,
  workspaceId: string,
  conversationId: string,
  item: TimelineView,
) {
  const db = bot.core.db;
  const [conv] = await db
    .select({
      id: conversations.id,
      settings: inboxes.settings,
      status: conversations.status,
      assigneeId: conversations.assigneeId,
    })
    .from(conversations)
    .innerJoin(inboxes, eq(inboxes.id, conversations.inboxId))
    .where(and(eq(conversations.id, conversationId), eq(conversations.workspaceId, workspaceId)));
  if (!conv || !botEnabled(conv.settings) || conv.assigneeId) return;
  const text = item.text!.slice(0, 2000);
  const before = await botSession(db, conversationId);
  if (before?.state === "handed_over") return;
  if (!(await claimMessage(db, workspaceId, conversationId, item.id, text))) return;

  const state = before?.state === "answered" ? "answered" : undefined;
  const hits = state
    ? []
    : await bot.search.search({ workspaceId, q: text, publicOnly: true, limit: 3 }, { recordGap: false });
  const action = decide(state, text, hits);

  if (action.kind === "answer") {
    const link = await articleUrl(db, bot.publicUrl, workspaceId, action.article.id);
    await withEvents(bot.core, (tx, events) =>
      sendSystemMessage(tx, events, conversationId, answerText(action.article, link), {
        senderType: "bot",
        data: { senderName: "Bot", articleId: action.article.id },
      }),
    );
    await saveBotSession(db, {
      conversationId,
      workspaceId,
      state: "answered",
      question: text,
      articleId: action.article.id,
    });
    await recordEvent(db, {
      workspaceId,
      kind: "bot_answer",
      articleId: action.article.id,
      conversationId,
      query: text,
    });
  } else if (action.kind === "solved") {
    await withEvents(bot.core, (tx, events) =>
      sendSystemMessage(tx, events, conversationId, solvedText(text), {
        senderType: "bot",
        data: { senderName: "Bot" },
      }),
    );
    await saveBotSession(db, {
      conversationId,
      workspaceId,
      state: "solved",
      question: before?.question ?? text,
      articleId: before?.articleId ?? null,
    });
    await recordEvent(db, {
      workspaceId,
      kind: "deflection",
      articleId: before?.articleId ?? null,
      conversationId,
      query: before?.question ?? text,
    });
  } else {
    const question = state ? (before?.question ?? text) : text;
    const articleId = state ? (before?.articleId ?? null) : (hits[0]?.id ?? null);
    const articleTitle = state ? null : (hits[0]?.title ?? null);
    await withEvents(bot.core, async (tx, events) => {
      await sendSystemMessage(tx, events, conversationId, handoverText(text), {
        senderType: "bot",
        data: { senderName: "Bot" },
      });
      // What the agent sees first: the customer's question and the article the bot tried (if any).
      await appendSystemEvent(tx, events, conversationId, "bot_handover", {
        question,
        articleId,
        articleTitle,
        reason: action.reason,
        confidence: action.confidence,
      });
    });
    await saveBotSession(db, { conversationId, workspaceId, state: "handed_over", question, articleId });
    await recordEvent(db, { workspaceId, kind: "handover", articleId, conversationId, query: question });
    // The entry rules read the question as well as this message: "转人工" alone names no queue, and a
    // refund question asked of the bot belongs where refunds go.
    const queued = await enqueueConversation(bot.core, conversationId, DEFAULT_ROUTING, new Date(), false, {
      text: question === text ? text : `${question}\n${text}`,
    });
    if (queued) bot.router.schedule(queued.workspaceId);
  }
}
