import { GrammyError, HttpError, InputFile } from "grammy";
import {
  PermanentSendError,
  RetryLaterError,
  type OutboundMessage,
  type SendResult,
} from "../../conversations/channel.ts";
import { botApi, describe } from "./api.ts";
import { apiRootOf, telegramCredentialsOf } from "./setup.ts";

export type TelegramSendOptions = {
  /** TELEGRAM_API_BASE: where inboxes without an `apiBaseUrl` of their own send. */
  apiBase?: string;
  /** The bytes of a reply's attachment (the runtime reads its file store). */
  readFile?: (file: OutboundMessage["attachments"][number]) => Promise<Uint8Array>;
};

/** Telegram's limits: a text message, and a file's caption. */
export const MAX_MESSAGE_CHARS = 4096;
export const MAX_CAPTION_CHARS = 1024;
/** Pictures Telegram shows as photos; anything else (a GIF too, which sendPhoto would freeze) is a document. */
const PHOTO_TYPES = new Set(["image/jpeg", "image/png", "image/webp"]);

/**
 * An agent's reply to a Telegram customer: `sendMessage` for text (split past 4096 characters),
 * `sendPhoto` for pictures and `sendDocument` for other files, uploaded from the file store. One file
 * with a short text goes as one message with the text as its caption; otherwise the text comes first.
 * The chat is the customer's own (a private chat's id is the user's id). Telegram has no idempotency
 * key: a resend after a crash between sending and recording shows twice.
 */
export async function sendTelegram(message: OutboundMessage, options: TelegramSendOptions): Promise<SendResult> {
  const credentials = telegramCredentialsOf(message.inbox.credentials);
  if (!credentials) throw new PermanentSendError("The inbox has no Telegram bot token");
  const chatId = message.to.find((i) => i.kind === "telegram")?.value;
  if (!chatId) throw new PermanentSendError("The contact has no Telegram account to reply to");
  if (message.attachments.length && !options.readFile)
    throw new PermanentSendError("This server cannot read files to send to Telegram");
  const api = botApi(credentials.botToken, apiRootOf(message.inbox.settings, options.apiBase));
  const text = message.text?.trim() ? message.text : "";
  const captioned = message.attachments.length === 1 && text.length <= MAX_CAPTION_CHARS ? text : "";
  const sent: number[] = [];
  try {
    if (!captioned) for (const part of splitText(text)) sent.push((await api.sendMessage(chatId, part)).message_id);
    for (const file of message.attachments) {
      const bytes = await options.readFile!(file);
      const upload = () => new InputFile(bytes, file.name);
      const caption = captioned ? { caption: captioned } : {};
      if (PHOTO_TYPES.has(file.contentType)) {
        try {
          sent.push((await api.sendPhoto(chatId, upload(), caption)).message_id);
          continue;
        } catch (err) {
          // A picture Telegram will not show as a photo (too large, odd dimensions) still goes, as a file.
          if (!(err instanceof GrammyError && err.error_code === 400 && /PHOTO|IMAGE/i.test(err.description)))
            throw err;
        }
      }
      sent.push((await api.sendDocument(chatId, upload(), caption)).message_id);
    }
  } catch (err) {
    throw refusal(err);
  }
  if (!sent.length) throw new PermanentSendError("The reply has neither text nor files");
  return { externalId: `${chatId}:${sent[0]}`, status: "sent" };
}

/**
 * Telegram's refusals in words an agent can act on: a blocked bot or an unknown chat is final, a rate
 * limit waits as long as Telegram asks, anything else (a network fault, a 5xx) is retried by the outbox.
 */
function refusal(err: unknown): Error {
  if (err instanceof HttpError) return new Error(`Telegram could not be reached: ${describe(err)}`);
  // Not Telegram's answer (a file the store no longer has): as it was thrown.
  if (!(err instanceof GrammyError)) return err instanceof Error ? err : new Error(String(err));
  const { error_code: code, description } = err;
  if (code === 429) {
    const seconds = err.parameters.retry_after ?? 5;
    return new RetryLaterError(`Telegram rate limit: retry after ${seconds} s`, seconds * 1000);
  }
  if (code === 403 && /blocked/i.test(description))
    return new PermanentSendError("The customer has blocked this bot on Telegram: the reply cannot reach them");
  if (code === 403 && /deactivated/i.test(description))
    return new PermanentSendError("The customer's Telegram account is deleted: the reply cannot reach them");
  if (code === 400 && /chat not found/i.test(description))
    return new PermanentSendError(
      "Telegram does not know this chat (chat not found): the customer has not started the bot or deleted the chat",
    );
  if (code === 401 || code === 404)
    return new PermanentSendError(`Telegram refused the bot token (${code}): enter the inbox's token again`);
  if (code >= 500) return new Error(`Telegram failed (${code}: ${description})`);
  return new PermanentSendError(`Telegram refused the message (${code}: ${description})`);
}

/** A text in pieces Telegram accepts, cut at a line break (else a space) near the limit where there is one. */
export function splitText(text: string, limit = MAX_MESSAGE_CHARS): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > limit) {
    const window = rest.slice(0, limit);
    const at = Math.max(window.lastIndexOf("\n"), window.lastIndexOf(" "));
    const cut = at > limit / 2 ? at : limit;
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^[\n ]/, "");
  }
  if (rest.trim()) parts.push(rest);
  return parts;
}
