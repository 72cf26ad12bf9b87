import { z } from "zod";

/**
 * What an admin gives for a Telegram inbox: the bot's token (from @BotFather), the secret Telegram
 * sends back in `X-Telegram-Bot-Api-Secret-Token` (Telegram allows 1–256 of A–Z, a–z, 0–9, _ and -),
 * and the greeting a customer gets for `/start`. Pure validation; the inbox API seals the secrets.
 */
export const TelegramSetup = z.object({
  botToken: z.string().regex(/^\d{1,20}:[A-Za-z0-9_-]{10,100}$/, "must be a Telegram bot token (123456:ABC…)"),
  secretToken: z
    .string()
    .regex(/^[A-Za-z0-9_-]{16,256}$/, "must be 16–256 characters of A–Z, a–z, 0–9, _ and -")
    .optional(),
  greeting: z
    .object({ en: z.string().trim().max(1000).optional(), "zh-CN": z.string().trim().max(1000).optional() })
    .optional(),
  apiBaseUrl: z
    .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
    .max(500)
    .optional(),
});
export type TelegramSetup = z.output<typeof TelegramSetup>;

export function telegramInboxOf(input: TelegramSetup, secretToken: string) {
  const { botToken, secretToken: _given, ...settings } = input;
  // The bot's numeric id is public (the token's first part) and tells inboxes apart in the admin list.
  return { settings: { ...settings, botId: botToken.split(":")[0]! }, credentials: { botToken, secretToken } };
}
