import twilio from "twilio";
import type { IvrLanguage } from "./flow.ts";
import type { IvrStep, Prompt } from "./ivr.ts";
import { phrases, VOICES } from "./phrases.ts";

const { VoiceResponse } = twilio.twiml;
type Response = InstanceType<typeof VoiceResponse>;

/** Twilio's own hold music, used when a flow names none. */
export const DEFAULT_HOLD_MUSIC = "http://com.twilio.music.classical.s3.amazonaws.com/BusyStrings.mp3";

/** Where Twilio's next requests for one call go (built by the gateway, with the inbox and call ids). */
export type CallUrls = {
  gather(step: number): string;
  wait(): string;
  waitKey(): string;
  voicemail(): string;
  recording(): string;
  transcription(): string;
  conference(): string;
};

/** Twilio's speech recognition names Mandarin differently from its text-to-speech. */
const SPEECH_LANGUAGE: Record<IvrLanguage, "en-US" | "cmn-Hans-CN"> = { en: "en-US", "zh-CN": "cmn-Hans-CN" };

type Sayer = Pick<Response, "say" | "play">;

function speak(target: Sayer, prompts: Prompt[]) {
  for (const p of prompts) {
    if ("play" in p) target.play({}, p.play);
    else
      target.say({ voice: VOICES[p.language].voice as never, language: VOICES[p.language].language as never }, p.say);
  }
}

function sayIn(target: Sayer, language: IvrLanguage, text: string) {
  speak(target, [{ say: text, language }]);
}

/** The answer to one IVR turn. Enqueueing is answered by `waitTwiml`, once the call is in the queue. */
export function ivrTwiml(step: IvrStep, language: IvrLanguage, urls: CallUrls, stepNo: number, transferFrom?: string) {
  const r = new VoiceResponse();
  switch (step.kind) {
    case "gather": {
      const g = step.node;
      const hints = g.branches.flatMap((b) => b.keywords ?? []);
      const gather = r.gather({
        input: g.input,
        action: urls.gather(stepNo),
        method: "POST",
        timeout: g.timeoutS,
        numDigits: g.numDigits,
        language: SPEECH_LANGUAGE[language],
        ...(hints.length ? { hints: hints.join(",") } : {}),
        speechTimeout: "auto",
        // Silence comes back to us too, so "no input" is counted like a wrong key.
        actionOnEmptyResult: true,
      });
      speak(gather, step.prompts);
      // Only reached if Twilio could not post the empty result: the same turn, as no input.
      r.redirect({ method: "POST" }, urls.gather(stepNo));
      return r.toString();
    }
    case "voicemail":
      speak(r, step.prompts);
      sayIn(r, language, phrases(language).voicemailBeep);
      r.record({
        action: urls.voicemail(),
        method: "POST",
        maxLength: step.node.maxLengthS,
        playBeep: true,
        transcribe: step.node.transcribe,
        ...(step.node.transcribe ? { transcribeCallback: urls.transcription() } : {}),
        recordingStatusCallback: urls.recording(),
        recordingStatusCallbackMethod: "POST",
      });
      // Record falls through when the caller says nothing: thank them rather than drop the line.
      sayIn(r, language, phrases(language).voicemailThanks);
      r.hangup();
      return r.toString();
    case "transfer": {
      speak(r, step.prompts);
      if (step.node.text) sayIn(r, language, step.node.text as string);
      sayIn(r, language, phrases(language).transferring);
      const dial = r.dial(transferFrom ? { callerId: transferFrom } : {});
      dial.number(step.node.number);
      return r.toString();
    }
    case "callback":
      speak(r, step.prompts);
      sayIn(r, language, phrases(language).callbackConfirmed);
      r.hangup();
      return r.toString();
    case "hangup":
      speak(r, step.prompts.length ? step.prompts : [{ say: phrases(language).unavailable, language }]);
      r.hangup();
      return r.toString();
    case "enqueue":
      throw new Error("enqueue is answered by waitTwiml");
  }
}

/**
 * What a waiting caller hears, again and again: position and wait, the callback offer (a key press
 * during any of it counts), then music; Twilio comes back for the next round when the music ends.
 * A Gather rather than a conference wait URL, because only a Gather hears the caller press 1.
 */
export function waitTwiml(input: {
  language: IvrLanguage;
  prompts?: Prompt[];
  position: number | null;
  waitMinutes: number | null;
  offerCallback: boolean;
  musicUrl?: string;
  urls: CallUrls;
}) {
  const r = new VoiceResponse();
  const p = phrases(input.language);
  const g = r.gather({
    input: ["dtmf"],
    numDigits: 1,
    timeout: 1,
    action: input.urls.waitKey(),
    method: "POST",
    actionOnEmptyResult: false,
  });
  speak(g, input.prompts ?? []);
  if (input.position !== null)
    sayIn(
      g,
      input.language,
      input.position <= 1 ? p.nextInLine : p.position(input.position, Math.max(1, input.waitMinutes ?? 1)),
    );
  if (input.offerCallback) sayIn(g, input.language, p.callbackOffer);
  g.play({}, input.musicUrl ?? DEFAULT_HOLD_MUSIC);
  r.redirect({ method: "POST" }, input.urls.wait());
  return r.toString();
}

/** Joins a leg to the call's conference: the customer (ends it when they leave) or an agent. */
export function conferenceTwiml(input: {
  name: string;
  language: IvrLanguage;
  announce?: string[];
  endOnExit: boolean;
  record: boolean;
  muted?: boolean;
  coach?: string;
  urls: CallUrls;
  musicUrl?: string;
}) {
  const r = new VoiceResponse();
  for (const text of input.announce ?? []) sayIn(r, input.language, text);
  const dial = r.dial();
  dial.conference(
    {
      beep: "false",
      startConferenceOnEnter: true,
      endConferenceOnExit: input.endOnExit,
      waitUrl: input.musicUrl ?? DEFAULT_HOLD_MUSIC,
      statusCallback: input.urls.conference(),
      statusCallbackMethod: "POST",
      statusCallbackEvent: ["start", "end", "join", "leave", "hold", "mute"],
      ...(input.record
        ? {
            record: "record-from-start",
            recordingStatusCallback: input.urls.recording(),
            recordingStatusCallbackMethod: "POST",
          }
        : {}),
      ...(input.muted ? { muted: true } : {}),
      ...(input.coach ? { coach: input.coach } : {}),
    },
    input.name,
  );
  return r.toString();
}

/** A polite end for anything we cannot continue (an unknown call, an inbox without a flow). */
export function apologyTwiml(language: IvrLanguage) {
  const r = new VoiceResponse();
  sayIn(r, language, phrases(language).unavailable);
  r.hangup();
  return r.toString();
}

export function sayTwiml(language: IvrLanguage, texts: string[], then: "hangup" | "nothing" = "hangup") {
  const r = new VoiceResponse();
  for (const t of texts) sayIn(r, language, t);
  if (then === "hangup") r.hangup();
  return r.toString();
}

export function emptyTwiml() {
  return new VoiceResponse().toString();
}
