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

/** The bot as `getMe` describes it: its @username is what customers search for in Telegram. */
export type TelegramBot = { username?: string };

export function telegramInboxOf(input: TelegramSetup, secretToken: string, bot: TelegramBot = {}) {
  const { botToken, secretToken: _given, ...settings } = input;
  // The bot's numeric id is public (the token's first part) and tells inboxes apart in the admin list.
  return {
    settings: { ...settings, botId: botToken.split(":")[0]!, ...(bot.username ? { botUsername: bot.username } : {}) },
    credentials: { botToken, secretToken },
  };
}

/** Telegram's own Bot API host, for inboxes without an API base of their own and no TELEGRAM_API_BASE. */
export const TELEGRAM_API_ROOT = "https://api.telegram.org";

/**
 * Where an inbox's Bot API calls go: its own `apiBaseUrl`, else the server's TELEGRAM_API_BASE, else
 * Telegram. Paths below it are Telegram's (`/bot<token>/<method>`, `/file/bot<token>/<path>`).
 */
export function apiRootOf(settings: Record<string, unknown>, serverDefault: string | undefined) {
  const own = typeof settings.apiBaseUrl === "string" ? settings.apiBaseUrl : undefined;
  return (own ?? serverDefault ?? TELEGRAM_API_ROOT).replace(/\/+$/, "");
}

/** The bot token and webhook secret from an inbox's opened credentials; undefined when either is missing. */
export function telegramCredentialsOf(credentials: Record<string, unknown>) {
  const { botToken, secretToken } = credentials;
  if (typeof botToken !== "string" || typeof secretToken !== "string") return undefined;
  return { botToken, secretToken };
}
