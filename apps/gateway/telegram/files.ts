import { MAX_BOT_FILE_BYTES, openBotFile } from "../../../channels/telegram/api.ts";
import type { TelegramFile } from "../../../channels/telegram/parse.ts";
import { PermanentSendError, type NormalizedInbound } from "../../../conversations/channel.ts";
import { resolveContact } from "../../../conversations/contact.ts";
import { findDelivered, ingestInbound } from "../../../conversations/ingest.ts";
import { DomainError } from "../../../platform/errors.ts";
import { fetchOutbound } from "../../../platform/outbound.ts";
import type { Runtime } from "../../server/runtime.ts";

export type StoredFile = { ok: true; id: string } | { ok: false; reason: string };

/**
 * A customer's file, fetched from the Bot API and written to the file store before the message is
 * stored (Telegram waits for the webhook's answer and retries it; nothing needs to be remembered
 * across a crash). Bounded at the Bot API's 20 MB. A file Telegram will never hand out (too big, gone)
 * answers `ok: false` with the reason, and the message is stored without it; a passing fault (network,
 * a 5xx) throws, so the webhook answers 503 and Telegram delivers the update again.
 */
export async function storeMessageFile(
  rt: Pick<Runtime, "core" | "files" | "config">,
  at: { workspaceId: string; contactId: string; botToken: string; apiRoot: string },
  file: TelegramFile,
): Promise<StoredFile> {
  if (file.size !== undefined && file.size > MAX_BOT_FILE_BYTES)
    return { ok: false, reason: `larger than the ${MAX_BOT_FILE_BYTES / 1024 / 1024} MB a bot may download` };
  try {
    // The file host is the API root's, which the outbound-URL policy checks again here (an inbox's own
    // apiBaseUrl was checked when it was set; its name may resolve elsewhere since).
    const { body } = await openBotFile(at.botToken, at.apiRoot, file.fileId, (url, init) =>
      fetchOutbound(url, init, { allowHosts: rt.config.outboundAllowHosts }),
    );
    const saved = await rt.files.saveStream(
      rt.core.db,
      at.workspaceId,
      { contactId: at.contactId },
      { name: file.name, contentType: file.contentType },
      body,
      MAX_BOT_FILE_BYTES,
    );
    return { ok: true, id: saved.id };
  } catch (err) {
    // PermanentSendError: Telegram's final refusal; a DomainError: the store's (too large).
    if (err instanceof PermanentSendError || err instanceof DomainError) return { ok: false, reason: err.message };
    throw err;
  }
}

/**
 * A message with a file: looked up first (a retried update is not downloaded again), then the file
 * stored for the sender's contact, then the message with it. A file that cannot be had is said in the
 * message's text and `data.media`, so the agent knows something came.
 */
export async function ingestWithFile(
  rt: Pick<Runtime, "core" | "files" | "config">,
  inbox: { id: string; workspaceId: string },
  bot: { botToken: string; apiRoot: string },
  inbound: NormalizedInbound,
  file: TelegramFile,
) {
  const { workspaceId } = inbox;
  const db = rt.core.db;
  const existing = await findDelivered(db, workspaceId, inbox.id, inbound.externalId);
  if (existing) return existing;
  const { contactId } = await db.transaction((tx) => resolveContact(tx, workspaceId, inbound.from));
  const stored = await storeMessageFile(rt, { workspaceId, contactId, ...bot }, file);
  const files = stored.ok ? [stored.id] : [];
  try {
    return await ingestInbound(
      rt.core,
      workspaceId,
      stored.ok
        ? { ...inbound, attachments: files }
        : {
            ...inbound,
            text: [inbound.text, `[${file.name} could not be downloaded: ${stored.reason}]`].filter(Boolean).join("\n"),
            data: { ...inbound.data, media: { state: "failed", reason: stored.reason } },
          },
      { checked: true },
    );
  } finally {
    // A concurrent delivery of the same update stored the message first: this copy of the file goes.
    await rt.files.discard(db, workspaceId, files);
  }
}
