import { eq } from "drizzle-orm";
import twilio from "twilio";
import type { IvrLanguage } from "../../../channels/voice/flow.ts";
import { VOICES } from "../../../channels/voice/phrases.ts";
import { recordResponse } from "../../../csat/response.ts";
import { csatSettingsOf, DEFAULT_QUESTION, questionText } from "../../../csat/settings.ts";
import { conversations, inboxes, type Call } from "../../../db/schema/index.ts";
import { Conflict } from "../../../platform/errors.ts";
import { log } from "../../../platform/log.ts";
import type { Runtime } from "../../server/runtime.ts";
import type { VoiceInbox } from "../../../calls/voice-inbox.ts";

const { VoiceResponse } = twilio.twiml;

/** What the caller hears after the question: how to answer, and the goodbye. */
const SPOKEN = {
  en: {
    how: "Please press a key from 1 to 5, where 5 is very satisfied.",
    thanks: "Thank you. Goodbye.",
    bye: "Goodbye.",
  },
  "zh-CN": { how: "请按1到5键评分，5分表示非常满意。", thanks: "感谢您的评价，再见。", bye: "再见。" },
} satisfies Record<IvrLanguage, unknown>;

const say = (r: Pick<InstanceType<typeof VoiceResponse>, "say">, language: IvrLanguage, text: string) =>
  r.say({ voice: VOICES[language].voice as never, language: VOICES[language].language as never }, text);

/**
 * The post-call question (queues.csat_ivr): the agent's leg ended and calls/agent-leg.ts moved the caller
 * here instead of hanging up. One key, 1–5; no key, or any other, just says goodbye.
 */
export async function csatQuestionTwiml(rt: Runtime, inbox: VoiceInbox, call: Call, answerUrl: string) {
  const language = call.ivr?.language ?? inbox.language;
  const [conversation] = await rt.core.db
    .select({ settings: inboxes.settings })
    .from(conversations)
    .innerJoin(inboxes, eq(inboxes.id, conversations.inboxId))
    .where(eq(conversations.id, call.conversationId));
  const settings = csatSettingsOf(conversation?.settings ?? {});
  const question = settings.enabled ? questionText(settings, language) : DEFAULT_QUESTION[language];
  const r = new VoiceResponse();
  const gather = r.gather({
    input: ["dtmf"],
    numDigits: 1,
    timeout: 8,
    action: answerUrl,
    method: "POST",
    actionOnEmptyResult: true,
  });
  say(gather, language, question);
  say(gather, language, SPOKEN[language].how);
  say(r, language, SPOKEN[language].bye);
  r.hangup();
  return r.toString();
}

/** The caller's key: 1–5 is recorded as the call's rating (via "voice"), then thanks and goodbye. */
export async function csatAnswerTwiml(rt: Runtime, inbox: VoiceInbox, call: Call, digits: string | undefined) {
  const language = call.ivr?.language ?? inbox.language;
  const r = new VoiceResponse();
  const rating = digits && /^[1-5]$/.test(digits) ? Number(digits) : undefined;
  if (rating) {
    try {
      await recordResponse(
        rt.core,
        {
          conversationId: call.conversationId,
          rating,
          via: "voice",
          servedBy: { agentId: call.agentId, queueId: call.queueId },
        },
        call.workspaceId,
      );
    } catch (err) {
      // Twilio retried the key press, or the conversation was rated already: the caller is thanked all the same.
      if (!(err instanceof Conflict)) throw err;
      log.info("voice: rating already recorded", { callId: call.id });
    }
  }
  say(r, language, rating ? SPOKEN[language].thanks : SPOKEN[language].bye);
  r.hangup();
  return r.toString();
}
