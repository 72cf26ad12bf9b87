import { z } from "zod";
import type { InboxSettings } from "../db/schema/index.ts";
import type { CsatScale } from "../db/schema/service.ts";

/** An inbox's satisfaction survey, kept in `inboxes.settings.csat`. */
export const CsatSettings = z
  .object({
    enabled: z.boolean(),
    scale: z.enum(["stars", "thumbs"]),
    question: z
      .object({
        en: z.string().trim().max(500).optional(),
        "zh-CN": z.string().trim().max(500).optional(),
      })
      .strict()
      .default({}),
    delayMinutes: z.number().int().min(0).max(1440),
    expiresHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(72),
  })
  .strict();
export type CsatSettings = z.infer<typeof CsatSettings>;

export const DEFAULT_QUESTION = {
  en: "How satisfied are you with our help?",
  "zh-CN": "您对本次服务满意吗？",
} as const;

export const CSAT_OFF: CsatSettings = {
  enabled: false,
  scale: "stars",
  question: {},
  delayMinutes: 0,
  expiresHours: 72,
};

/** The inbox's survey settings; an inbox never configured (or configured by hand, wrongly) has it off. */
export function csatSettingsOf(settings: InboxSettings): CsatSettings {
  const parsed = CsatSettings.safeParse(settings.csat);
  return parsed.success ? parsed.data : CSAT_OFF;
}

export type CsatLang = keyof typeof DEFAULT_QUESTION;

/** zh-CN for any Chinese locale, else English. */
export const csatLangOf = (locale: string | undefined | null): CsatLang =>
  locale?.toLowerCase().startsWith("zh") ? "zh-CN" : "en";

/** The question in the inbox's words, or ours when it has none in that language. */
export const questionText = (s: CsatSettings, lang: CsatLang) => s.question[lang] || DEFAULT_QUESTION[lang];

/** What a customer is told, after the question, on channels that get a link. */
export function linkMessage(s: CsatSettings, lang: CsatLang, url: string) {
  const how =
    lang === "zh-CN"
      ? s.scale === "thumbs"
        ? "请点击链接评价："
        : "请点击链接打分（1–5 星）："
      : s.scale === "thumbs"
        ? "Tell us with one click:"
        : "Rate us from 1 to 5 stars:";
  return `${questionText(s, lang)}\n${how} ${url}`;
}

export type { CsatScale };
