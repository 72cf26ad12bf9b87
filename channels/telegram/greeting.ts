/** What a customer reads after `/start` when the inbox sets no greeting of its own. */
export const DEFAULT_GREETING = {
  en: "Hi! Write your question here and one of our agents will answer you in this chat.",
  "zh-CN": "您好！请在这里留言，我们的客服会在此回复您。",
} as const;

/**
 * The `/start` greeting in the customer's language (Telegram's `language_code`: Chinese for `zh…`,
 * English otherwise). The inbox's own words win over the default, even in the other language: it is
 * the business's bot, and an admin who wrote one greeting meant it for everyone.
 */
export function greetingFor(settings: Record<string, unknown>, languageCode: string | undefined): string {
  const own = (settings.greeting ?? {}) as { en?: unknown; "zh-CN"?: unknown };
  const chinese = /^zh\b/i.test(languageCode ?? "");
  const [first, second] = chinese ? [own["zh-CN"], own.en] : [own.en, own["zh-CN"]];
  for (const text of [first, second]) if (typeof text === "string" && text.trim()) return text.trim();
  return chinese ? DEFAULT_GREETING["zh-CN"] : DEFAULT_GREETING.en;
}
