import { and, eq, inArray, lte } from "drizzle-orm";
import type { EventBus } from "../conversations/bus.ts";
import type { EventLog } from "../conversations/event.ts";
import { sendSystemMessage } from "../conversations/reply.ts";
import { withEvents, type Core } from "../conversations/transaction.ts";
import type { Tx } from "../db/connect.ts";
import { conversations, inboxes, type Conversation, type InboxSettings } from "../db/schema/index.ts";
import { csatSurveys, type CsatSurvey } from "../db/schema/service.ts";
import { randomToken, sha256Hex } from "../platform/crypto.ts";
import { log } from "../platform/log.ts";
import { PollLoop } from "../platform/poll-loop.ts";
import { csatLangOf, csatSettingsOf, linkMessage, questionText, type CsatSettings } from "./settings.ts";

const MINUTE = 60_000;
const HOUR = 3_600_000;
/** Surveys one pass of the sweep sends; a full batch is followed by another pass at once. */
const BATCH = 50;

/**
 * Calls are asked by the post-call IVR question (csat/ivr.ts) while the caller is still on the line:
 * no survey is sent afterwards.
 */
const ASKED_IN_CALL = new Set(["voice"]);

/**
 * A resolved conversation of an inbox that asks for ratings gets its one survey, due after the inbox's
 * delay. Every node hears the event (and may hear it twice): the unique conversation key makes the
 * first insert the only one.
 */
export async function scheduleSurvey(core: Core, conversationId: string, now = new Date()) {
  const [row] = await core.db
    .select({ conversation: conversations, settings: inboxes.settings })
    .from(conversations)
    .innerJoin(inboxes, eq(inboxes.id, conversations.inboxId))
    .where(eq(conversations.id, conversationId));
  if (!row || row.conversation.status !== "resolved" || ASKED_IN_CALL.has(row.conversation.channel)) return false;
  const settings = csatSettingsOf(row.settings);
  if (!settings.enabled) return false;
  const sendAt = new Date(now.getTime() + settings.delayMinutes * MINUTE);
  const inserted = await core.db
    .insert(csatSurveys)
    .values({
      workspaceId: row.conversation.workspaceId,
      conversationId,
      inboxId: row.conversation.inboxId,
      channel: row.conversation.channel,
      agentId: row.conversation.assigneeId,
      queueId: row.conversation.queueId,
      scale: settings.scale,
      sendAt,
      expiresAt: new Date(sendAt.getTime() + settings.expiresHours * HOUR),
    })
    .onConflictDoNothing()
    .returning({ id: csatSurveys.id });
  return inserted.length > 0;
}

/** What the widget shows: the survey of a web chat conversation, in the inbox's language. */
export type SurveyRequest = { conversationId: string; scale: CsatSettings["scale"]; question: string };

export function surveyRequest(survey: Pick<CsatSurvey, "conversationId" | "scale">, inbox: InboxSettings) {
  const settings = csatSettingsOf(inbox);
  const request: SurveyRequest = {
    conversationId: survey.conversationId,
    scale: survey.scale,
    question: questionText(settings, csatLangOf(inbox.locale)),
  };
  return request;
}

/**
 * Asks one due survey inside the sweep's transaction: web chat by a public event the widget shows
 * inline, every other channel by an automatic message with a single-use link (only the token's hash is
 * kept). The message goes through the outbox like any reply and does not reopen the conversation.
 */
async function askSurvey(
  tx: Tx,
  events: EventLog,
  survey: CsatSurvey,
  conversation: Conversation,
  inbox: InboxSettings,
  publicUrl: string,
  now: Date,
) {
  if (survey.channel === "webchat") {
    await events.append(survey.workspaceId, {
      type: "csat.requested",
      conversationId: survey.conversationId,
      public: true,
      payload: { ...surveyRequest(survey, inbox), scope: { contactId: conversation.contactId } },
    });
    await tx.update(csatSurveys).set({ status: "sent", sentAt: now }).where(eq(csatSurveys.id, survey.id));
    return;
  }
  const token = randomToken(32);
  const settings = csatSettingsOf(inbox);
  const text = linkMessage(settings, csatLangOf(inbox.locale), `${publicUrl}/csat/${token}`);
  const sent = await sendSystemMessage(tx, events, survey.conversationId, text, {
    senderType: "system",
    data: { csatSurveyId: survey.id },
  });
  // Not sent (the customer opted out, or their last message was an automatic one): never asked, and
  // never will be.
  await tx
    .update(csatSurveys)
    .set(sent ? { status: "sent", sentAt: now, tokenHash: sha256Hex(token) } : { status: "expired" })
    .where(eq(csatSurveys.id, survey.id));
}

/**
 * One pass of the sweep: surveys whose time has come are asked (claimed with SKIP LOCKED, so nodes
 * share the work and none is asked twice); those past their expiry become expired. A survey whose
 * conversation was reopened waits, scheduled, until it is resolved again.
 */
export async function sendDueSurveys(core: Core, publicUrl: string, now = new Date()) {
  await core.db
    .update(csatSurveys)
    .set({ status: "expired" })
    .where(and(inArray(csatSurveys.status, ["scheduled", "sent"]), lte(csatSurveys.expiresAt, now)));
  return withEvents(core, async (tx, events) => {
    const due = await tx
      .select({ survey: csatSurveys, conversation: conversations })
      .from(csatSurveys)
      .innerJoin(conversations, eq(conversations.id, csatSurveys.conversationId))
      .where(
        and(eq(csatSurveys.status, "scheduled"), lte(csatSurveys.sendAt, now), eq(conversations.status, "resolved")),
      )
      .orderBy(csatSurveys.sendAt)
      .limit(BATCH)
      .for("update", { of: csatSurveys, skipLocked: true });
    for (const { survey, conversation } of due) {
      const [inbox] = await tx
        .select({ settings: inboxes.settings })
        .from(inboxes)
        .where(eq(inboxes.id, conversation.inboxId));
      await askSurvey(tx, events, survey, conversation, inbox?.settings ?? {}, publicUrl, now);
    }
    return due.length;
  });
}

/**
 * Surveys on every node: the resolution listener and the sweep (`CSAT_SWEEP_MS`). A survey due at once
 * (no delay) wakes the sweep instead of waiting for its next pass.
 */
export class CsatSurveys {
  private readonly loop: PollLoop;
  private unsubscribe = () => {};
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly core: Core,
    private readonly bus: EventBus,
    options: { publicUrl: string; sweepMs: number },
  ) {
    this.loop = new PollLoop("csat-sweep", () => sendDueSurveys(core, options.publicUrl), {
      batch: BATCH,
      pollMs: options.sweepMs,
      idleUntilStarted: true,
    });
  }

  start() {
    this.unsubscribe = this.bus.subscribe((m) => {
      if (!("type" in m) || m.type !== "conversation.updated" || !m.conversationId) return;
      if ((m.payload.changes as { to?: string } | undefined)?.to !== "resolved") return;
      const work = scheduleSurvey(this.core, m.conversationId)
        .then((scheduled) => scheduled && this.loop.wake())
        .catch((err: unknown) => log.error("csat: scheduling a survey failed", { err: String(err) }));
      this.inFlight.add(work);
      void work.finally(() => this.inFlight.delete(work));
    });
    this.loop.start();
  }

  async stop() {
    this.unsubscribe();
    await Promise.allSettled([...this.inFlight]);
    await this.loop.stop();
  }
}
