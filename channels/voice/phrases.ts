import type { IvrLanguage } from "./flow.ts";

/** What the system itself says to callers, in each IVR language. */
const PHRASES = {
  en: {
    notUnderstood: "Sorry, I did not get that.",
    position: (n: number, minutes: number) =>
      `You are number ${n} in line. The estimated wait is about ${minutes} minute${minutes === 1 ? "" : "s"}.`,
    nextInLine: "You are next in line. An agent will be with you shortly.",
    callbackOffer: "To be called back instead of waiting, press 1. You keep your place in line.",
    callbackConfirmed: "Thank you. We will call you back at this number when it is your turn. Goodbye.",
    voicemailBeep: "Please leave a message after the tone.",
    voicemailThanks: "Thank you for your message. Goodbye.",
    connecting: "Connecting you to an agent.",
    recording: "This call may be recorded for quality purposes.",
    unavailable: "We are sorry, we cannot take your call right now. Please try again later. Goodbye.",
    hold: "Please hold.",
    transferring: "Please hold while we transfer your call.",
  },
  "zh-CN": {
    notUnderstood: "抱歉，我没有听清。",
    position: (n: number, minutes: number) => `您前面还有${n - 1}位客户，您排在第${n}位，预计等待约${minutes}分钟。`,
    nextInLine: "下一位就是您，客服马上为您服务。",
    callbackOffer: "如需回电而不必等待，请按1，您的排队位置将被保留。",
    callbackConfirmed: "谢谢，轮到您时我们会回拨这个号码。再见。",
    voicemailBeep: "请在提示音后留言。",
    voicemailThanks: "感谢您的留言，再见。",
    connecting: "正在为您转接客服。",
    recording: "为保证服务质量，本次通话可能会被录音。",
    unavailable: "很抱歉，现在无法接听您的来电，请稍后再拨。再见。",
    hold: "请稍候。",
    transferring: "正在为您转接，请稍候。",
  },
} satisfies Record<IvrLanguage, unknown>;

export type Phrases = (typeof PHRASES)["en"];

export function phrases(language: IvrLanguage): Phrases {
  return PHRASES[language];
}

/** Twilio's text-to-speech voices for each language (Amazon Polly neural voices Twilio hosts). */
export const VOICES: Record<IvrLanguage, { voice: string; language: string }> = {
  en: { voice: "Polly.Joanna-Neural", language: "en-US" },
  "zh-CN": { voice: "Polly.Zhiyu-Neural", language: "cmn-CN" },
};
