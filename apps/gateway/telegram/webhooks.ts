import { and, eq } from "drizzle-orm";
import { Hono } from "hono";
import { parseUpdate } from "../../../channels/telegram/parse.ts";
import { apiRootOf, telegramCredentialsOf } from "../../../channels/telegram/setup.ts";
import { SECRET_HEADER, verifySecretToken } from "../../../channels/telegram/verify.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { inboxes, type Inbox } from "../../../db/schema/index.ts";
import { DomainError, errorBody, Invalid, NotFound } from "../../../platform/errors.ts";
import { log } from "../../../platform/log.ts";
import { TtlCache } from "../../../platform/ttl-cache.ts";
import { isUuid } from "../../../platform/validation.ts";
import type { Runtime } from "../../server/runtime.ts";
import { ingestWithFile } from "./files.ts";
import { recordStart } from "./start.ts";

const INBOX_CACHE_MS = 5_000;

/**
 * `POST /webhooks/telegram/<inboxId>`: the URL `setWebhook` gave Telegram for one bot. Every update must
 * carry the inbox's secret in `X-Telegram-Bot-Api-Secret-Token` (checked before anything is read or
 * stored). The update is stored before the answer, so a retry (Telegram redelivers anything not
 * answered 2xx) finds it; what is ignored (groups, other bots, other update types) is still answered
 * 200, or Telegram would hold back the bot's next updates retrying it.
 */
export function telegramWebhooks(rt: Runtime) {
  const app = new Hono();
  // Every update reads its inbox and opens the sealed token and secret: kept a few seconds per node, so a
  // busy bot costs one read per interval (a changed secret applies on every node within that time).
  const telegramInboxes = new TtlCache<string, { inbox: Inbox; bot: ReturnType<typeof telegramCredentialsOf> }>(
    INBOX_CACHE_MS,
  );
  app.post("/webhooks/telegram/:inboxId", async (c) => {
    const id = c.req.param("inboxId");
    if (!isUuid(id)) throw new NotFound("Inbox", "inboxId");
    const found = await telegramInboxes.getOr(id, async () => {
      const [row] = await rt.core.db
        .select()
        .from(inboxes)
        .where(and(eq(inboxes.id, id), eq(inboxes.channel, "telegram")));
      return row && { inbox: row, bot: telegramCredentialsOf(readCredentials(rt.keyring, row, rt.core.db)) };
    });
    if (!found) throw new NotFound("Inbox", "inboxId");
    const { inbox, bot } = found;
    if (!bot || !verifySecretToken(bot.secretToken, c.req.header(SECRET_HEADER)))
      return c.json(errorBody("forbidden", `Wrong or missing ${SECRET_HEADER}`, SECRET_HEADER), 403);

    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new Invalid("The update must be a JSON object");
    }
    const update = parseUpdate(raw, inbox.id);
    if (update.kind === "start") await recordStart(rt.core, inbox, update);
    else if (update.kind === "message" && !update.file) await rt.inbound.submit(inbox.workspaceId, update.inbound);
    else if (update.kind === "message") {
      const apiRoot = apiRootOf(inbox.settings, rt.config.telegramApiBase);
      try {
        await ingestWithFile(rt, inbox, { botToken: bot.botToken, apiRoot }, update.inbound, update.file!);
      } catch (err) {
        // Bad input stays a 4xx: a retry of the same update would fail the same way.
        if (err instanceof DomainError) throw err;
        const reason = err instanceof Error ? err.message : String(err);
        log.warn("telegram: a file could not be fetched; Telegram will deliver the update again", {
          inboxId: inbox.id,
          reason,
        });
        return c.json(errorBody("unavailable", `The message's file could not be fetched yet: ${reason}`), 503);
      }
    }
    return c.json({ ok: true });
  });
  return app;
}
