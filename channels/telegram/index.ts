import type { ChannelAdapter } from "../../conversations/channel.ts";
import { sendTelegram, type TelegramSendOptions } from "./send.ts";

/**
 * The Telegram adapter the outbox sends through. The runtime makes one with TELEGRAM_API_BASE and its
 * file store's reader (replies' attachments are uploaded from it).
 */
export function createTelegramAdapter(options: TelegramSendOptions = {}): ChannelAdapter {
  return {
    channel: "telegram",
    // Bots can show "typing…" (sendChatAction) and edit messages for 48 hours; neither is used yet.
    capabilities: { text: true, media: true, voice: false, typing: false, readReceipts: false, editWindow: 0 },
    send: (outbound) => sendTelegram(outbound, options),
  };
}

export { botApi, describe, MAX_BOT_FILE_BYTES, openBotFile } from "./api.ts";
export { DEFAULT_GREETING, greetingFor } from "./greeting.ts";
export { parseUpdate, type ParsedUpdate, type TelegramFile } from "./parse.ts";
export { MAX_CAPTION_CHARS, MAX_MESSAGE_CHARS, sendTelegram, splitText, type TelegramSendOptions } from "./send.ts";
export { apiRootOf, TELEGRAM_API_ROOT, TelegramSetup, telegramCredentialsOf, telegramInboxOf } from "./setup.ts";
export { SECRET_HEADER, verifySecretToken } from "./verify.ts";
