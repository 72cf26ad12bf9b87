import { eq } from "drizzle-orm";
import { TtlCache } from "../../../platform/ttl-cache.ts";
import { Hono, type Context } from "hono";
import { z } from "zod";
import { wechatKindOf, wechatSetupOf, wecomSetupOf } from "../../../channels/wechat/setup.ts";
import { readCredentials } from "../../../conversations/inbox.ts";
import { inboxes } from "../../../db/schema/index.ts";
import { NotFound } from "../../../platform/errors.ts";
import type { Runtime } from "../../server/runtime.ts";
import { SeenNonces } from "./nonces.ts";
import { officialPush, officialUrlCheck } from "./official.ts";
import { wecomCallback, wecomUrlCheckRoute } from "./wecom.ts";

const InboxId = z.uuid();
/**
 * How long a node reuses an inbox's row and opened secrets, as voice does (calls/call-context.ts):
 * reading and unsealing them cost about a tenth of a push's CPU at full load (bench/results/wechat.md).
 * A changed token or EncodingAESKey applies on every node within this time.
 */
const INBOX_CACHE_MS = 5000;

/**
 * A WeChat inbox's server URL (`/webhooks/wechat/<inboxId>`, pasted into WeChat's or WeCom's console):
 * `GET` answers the URL check, `POST` receives pushes. Each kind of inbox has its own handler; a
 * Wechaty inbox has no webhook (its bot connects out).
 */
export function wechatWebhooks(rt: Runtime) {
  const app = new Hono();
  const nonces = new SeenNonces(rt.core.db);

  type WechatInbox = Awaited<ReturnType<typeof readInbox>>;
  const cache = new TtlCache<string, WechatInbox>(INBOX_CACHE_MS);

  async function inboxOf(c: Context) {
    const id = InboxId.safeParse(c.req.param("inboxId"));
    if (!id.success) throw new NotFound("Inbox", "inboxId");
    // Unknown ids throw and are not remembered: an inbox created a moment ago answers at once.
    return (await cache.getOr(id.data, () => readInbox(id)))!;
  }

  async function readInbox(id: { data: string }) {
    const [row] = await rt.core.db.select().from(inboxes).where(eq(inboxes.id, id.data));
    if (!row || row.channel !== "wechat") throw new NotFound("Inbox", "inboxId");
    const kind = wechatKindOf(row.settings);
    const credentials = () => readCredentials(rt.keyring, row, rt.core.db);
    if (kind === "wecom") return { kind, row, setup: wecomSetupOf(row.settings, credentials()) } as const;
    if (kind !== "official") throw new NotFound("Inbox", "inboxId");
    return { kind, row, setup: wechatSetupOf(row.settings, credentials()) } as const;
  }

  app.get("/webhooks/wechat/:inboxId", async (c) => {
    const inbox = await inboxOf(c);
    if (inbox.kind === "wecom") return wecomUrlCheckRoute(c, inbox.setup);
    return officialUrlCheck(c, inbox.setup);
  });

  app.post("/webhooks/wechat/:inboxId", async (c) => {
    const inbox = await inboxOf(c);
    if (inbox.kind === "wecom") return wecomCallback(c, rt, inbox.row, inbox.setup, nonces);
    return officialPush(c, rt, inbox.row, inbox.setup, nonces);
  });

  return app;
}
