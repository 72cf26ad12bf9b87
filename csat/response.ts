import { and, eq } from "drizzle-orm";
import { appendItem } from "../conversations/append-item.ts";
import { scopeOf } from "../conversations/conversation.ts";
import type { EventLog } from "../conversations/event.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Executor, Tx } from "../db/connect.ts";
import { conversations } from "../db/schema/index.ts";
import { csatResponses, csatSurveys, type CsatSurvey } from "../db/schema/service.ts";
import { sha256Hex } from "../platform/crypto.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";

export const MAX_COMMENT = 2000;

/** Where an answer came from: the widget, a survey link, the post-call IVR question, the agent API. */
export type AnswerVia = "widget" | "link" | "voice";

export type CsatAnswer = {
  conversationId: string;
  rating: unknown;
  comment?: string | null;
  via: AnswerVia;
  /** A call's answer names the agent and queue of the call itself (its conversation may move on). */
  servedBy?: { agentId: string | null; queueId: string | null };
};

/** The conversation is open (again): it can be rated once it is resolved. */
export class NotResolved extends Conflict {
  constructor() {
    super("Only a resolved conversation can be rated", "conversation");
  }
}

/** The rating (an integer 1–5) and the trimmed comment, or Invalid naming the field. */
export function parseAnswer(rating: unknown, comment: string | null | undefined) {
  if (typeof rating !== "number" || !Number.isInteger(rating) || rating < 1 || rating > 5)
    throw new Invalid("The rating is a whole number from 1 to 5", "rating");
  const text = comment?.trim() ?? "";
  if (text.length > MAX_COMMENT) throw new Invalid(`The comment is longer than ${MAX_COMMENT} characters`, "comment");
  return { rating, comment: text || null };
}

/**
 * Records a customer's answer inside the caller's transaction: the response row, the survey answered,
 * a "csat_received" item on the timeline and the `csat.received` event. Only a resolved conversation is
 * rated, once (the unique conversation key settles a race); nothing reopens it.
 */
export async function recordResponseIn(tx: Tx, events: EventLog, workspaceId: string | undefined, answer: CsatAnswer) {
  const { rating, comment } = parseAnswer(answer.rating, answer.comment);
  const [conversation] = await tx
    .select()
    .from(conversations)
    .where(
      and(
        eq(conversations.id, answer.conversationId),
        workspaceId ? eq(conversations.workspaceId, workspaceId) : undefined,
      ),
    )
    .for("update");
  if (!conversation) throw new NotFound("Conversation", "conversationId");
  // The post-call question is asked while the caller is still on the line, before anyone resolves the
  // conversation: the call that just ended is what is rated.
  if (conversation.status !== "resolved" && answer.via !== "voice") throw new NotResolved();
  const [survey] = await tx.select().from(csatSurveys).where(eq(csatSurveys.conversationId, conversation.id));
  const servedBy =
    answer.servedBy ?? (survey ? survey : { agentId: conversation.assigneeId, queueId: conversation.queueId });
  const { agentId, queueId } = servedBy;
  const [response] = await tx
    .insert(csatResponses)
    .values({
      workspaceId: conversation.workspaceId,
      conversationId: conversation.id,
      surveyId: survey?.id ?? null,
      rating,
      comment,
      channel: conversation.channel,
      agentId,
      queueId,
    })
    .onConflictDoNothing()
    .returning();
  if (!response) throw new Conflict("This conversation was already rated", "conversation");
  if (survey) await tx.update(csatSurveys).set({ status: "answered" }).where(eq(csatSurveys.id, survey.id));
  await appendItem(tx, events, conversation, {
    type: "event",
    senderType: "contact",
    senderId: conversation.contactId,
    eventType: "csat_received",
    data: { rating, comment, via: answer.via },
  });
  await events.append(conversation.workspaceId, {
    type: "csat.received",
    conversationId: conversation.id,
    payload: {
      conversationId: conversation.id,
      rating,
      comment,
      channel: conversation.channel,
      agentId,
      queueId,
      scope: scopeOf(conversation),
    },
  });
  return response;
}

/** `recordResponseIn` in a transaction of its own; `workspaceId` keeps another workspace's ids out (404). */
export function recordResponse(core: Core, answer: CsatAnswer, workspaceId?: string) {
  return withEvents(core, (tx, events) => recordResponseIn(tx, events, workspaceId, answer));
}

/** Where a survey link stands: "open" to answer, or why it cannot be. */
export type LinkState = "open" | "answered" | "expired";

export const linkStateOf = (survey: Pick<CsatSurvey, "status" | "expiresAt">, now = new Date()): LinkState =>
  survey.status === "answered"
    ? "answered"
    : survey.status === "expired" || survey.expiresAt <= now
      ? "expired"
      : "open";

/** The survey a link's token opens (only its SHA-256 is stored), or NotFound. */
export async function surveyByToken(db: Executor, token: string, lock = false) {
  if (!/^[A-Za-z0-9_-]{20,100}$/.test(token)) throw new NotFound("Survey", "token");
  const query = db
    .select()
    .from(csatSurveys)
    .where(eq(csatSurveys.tokenHash, sha256Hex(token)));
  const [survey] = await (lock ? query.for("update") : query);
  if (!survey) throw new NotFound("Survey", "token");
  return survey;
}

/** Thrown for a link past its expiry: the public page answers 410. */
export class SurveyExpired extends Error {
  constructor() {
    super("This survey has expired");
  }
}

/**
 * An answer through a survey link: single use — the token's survey is locked, checked and answered in
 * the one transaction, so a second post of the same link finds it answered (409).
 */
export function answerByToken(core: Core, token: string, rating: unknown, comment?: string | null) {
  return withEvents(core, async (tx, events) => {
    const survey = await surveyByToken(tx, token, true);
    const state = linkStateOf(survey);
    if (state === "answered") throw new Conflict("This survey was already answered", "token");
    if (state === "expired") throw new SurveyExpired();
    return recordResponseIn(tx, events, survey.workspaceId, {
      conversationId: survey.conversationId,
      rating,
      comment,
      via: "link",
    });
  });
}
