import { Api, GrammyError, HttpError } from "grammy";
import { PermanentSendError } from "../../conversations/channel.ts";
import { OutboundRefused } from "../../platform/outbound.ts";

/** Bot API calls answer within seconds; an upload of a 10 MB file is given longer than a text. */
const CALL_TIMEOUT_SECONDS = 60;

/** The Bot API client of one bot, at `apiRoot` (Telegram, TELEGRAM_API_BASE or the inbox's own base). */
export function botApi(botToken: string, apiRoot: string) {
  return new Api(botToken, { apiRoot, timeoutSeconds: CALL_TIMEOUT_SECONDS });
}

/** Files the Bot API hands to bots: 20 MB at most (`getFile` refuses bigger ones). */
export const MAX_BOT_FILE_BYTES = 20 * 1024 * 1024;

/**
 * A file of a customer's message, by its file_id: `getFile` names its path, then the bytes come from
 * `<apiRoot>/file/bot<token>/<file_path>` as a stream (never whole in memory; the caller bounds it).
 * A refusal retrying cannot change (too big, an unknown file) is a PermanentSendError; a network fault
 * or a 5xx is a plain Error.
 */
export async function openBotFile(
  botToken: string,
  apiRoot: string,
  fileId: string,
  fetcher: (url: string, init: RequestInit) => Promise<Response> = fetch,
): Promise<{ body: ReadableStream<Uint8Array>; size?: number }> {
  let path: string | undefined;
  let size: number | undefined;
  try {
    const file = await botApi(botToken, apiRoot).getFile(fileId);
    path = file.file_path;
    size = file.file_size;
  } catch (err) {
    if (err instanceof GrammyError && err.error_code === 400)
      throw new PermanentSendError(`Telegram refused the file: ${err.description}`);
    throw new Error(`Telegram's getFile failed: ${describe(err)}`);
  }
  if (!path) throw new PermanentSendError("Telegram gave no path for this file");
  if (size !== undefined && size > MAX_BOT_FILE_BYTES)
    throw new PermanentSendError(`The file is larger than ${MAX_BOT_FILE_BYTES / 1024 / 1024} MB`);
  const res = await fetcher(`${apiRoot}/file/bot${botToken}/${path}`, {
    signal: AbortSignal.timeout(CALL_TIMEOUT_SECONDS * 1000),
  }).catch((err: unknown) => {
    if (err instanceof OutboundRefused) throw new PermanentSendError(`The file's address is refused: ${err.message}`);
    throw new Error(`Telegram's file download failed: ${describe(err)}`);
  });
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    const reason = `Telegram's file download answered HTTP ${res.status}`;
    throw res.status >= 500 || res.status === 429 ? new Error(reason) : new PermanentSendError(reason);
  }
  return { body: res.body, ...(size !== undefined ? { size } : {}) };
}

/**
 * An error of a Bot API call in words, never with the bot token: grammY's own messages leave it out, but
 * an HTTP client's error may quote the URL it fetched (`…/bot<token>/…`).
 */
export function describe(err: unknown): string {
  if (err instanceof GrammyError) return `${err.error_code}: ${err.description}`;
  if (err instanceof HttpError) return redact(`network error (${String((err.error as Error)?.message ?? err.error)})`);
  return redact(err instanceof Error ? err.message : String(err));
}

/** A text with every bot token in it replaced. */
export const redact = (text: string) => text.replace(/\d{1,20}:[A-Za-z0-9_-]{10,}/g, "<bot token>");

/** Why Telegram would not take a bot: its token (`token`), or the webhook (`webhook`: the URL, say). */
export class BotRefused extends Error {
  constructor(
    readonly what: "token" | "webhook",
    message: string,
  ) {
    super(message);
  }
}

/** The allowed_updates a Telegram inbox asks for: what parse.ts reads. */
export const ALLOWED_UPDATES = ["message", "edited_message"] as const;

/**
 * Points a bot at an inbox: `getMe` proves the token (and names the bot), then `setWebhook` tells
 * Telegram the inbox's URL, the secret to send back and the updates wanted. A bot has one webhook: this
 * replaces whatever it had. Telegram's refusals are BotRefused; an unreachable Telegram a plain Error.
 */
export async function connectBot(
  botToken: string,
  apiRoot: string,
  webhook: { url: string; secretToken: string },
): Promise<{ username?: string }> {
  const api = botApi(botToken, apiRoot);
  const refused = (what: BotRefused["what"]) => (err: unknown) => {
    if (err instanceof GrammyError && err.error_code < 500 && err.error_code !== 429)
      throw new BotRefused(
        what,
        what === "token"
          ? `Telegram refused this bot token (${describe(err)})`
          : `Telegram refused the webhook ${webhook.url} (${describe(err)})`,
      );
    throw new Error(`Telegram could not be reached: ${describe(err)}`);
  };
  const me = await api.getMe().catch(refused("token"));
  await api
    .setWebhook(webhook.url, { secret_token: webhook.secretToken, allowed_updates: [...ALLOWED_UPDATES] })
    .catch(refused("webhook"));
  return me.username ? { username: me.username } : {};
}
