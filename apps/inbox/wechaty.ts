import { createRoute } from "@hono/zod-openapi";
import { eq, sql } from "drizzle-orm";
import QRCode from "qrcode";
import { wechatKindOf } from "../../channels/wechat/setup.ts";
import { sessionOf } from "../../channels/wechat/wechaty-session.ts";
import { requireInbox } from "../../conversations/inbox.ts";
import { inboxes, inboxStates, type Inbox } from "../../db/schema/index.ts";
import { Invalid } from "../../platform/errors.ts";
import { IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

/**
 * A Wechaty inbox's bot for admins: its session as the node running it stored it (status, the login
 * QR code as text and as an image to scan, the account it is logged in as, the last error), and
 * starting or stopping it. Stopping is kept in the inbox's settings, so it stays stopped across
 * restarts; the node running the bot sees it at once when it is this node, else at its next poll.
 */
export function wechatyAdminApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  async function wechatyInbox(workspaceId: string, id: string): Promise<Inbox> {
    const inbox = await requireInbox(db, workspaceId, id);
    if (inbox.channel !== "wechat" || wechatKindOf(inbox.settings) !== "wechaty")
      throw new Invalid("This inbox is not a WeChat inbox of kind wechaty", "id");
    return inbox;
  }

  async function stateOf(inbox: Inbox) {
    const [state] = await db.select().from(inboxStates).where(eq(inboxStates.inboxId, inbox.id));
    const session = sessionOf(state?.session);
    const stopped = inbox.settings.stopped === true;
    return {
      inboxId: inbox.id,
      puppet: typeof inbox.settings.puppet === "string" ? inbox.settings.puppet : "wechaty-puppet-service",
      stopped,
      ...session,
      // The QR code is shown only while the bot waits for a scan; a stored one is stale otherwise.
      qrcode: session.status === "scan" ? session.qrcode : null,
      qrImage:
        session.status === "scan" && session.qrcode
          ? await QRCode.toDataURL(session.qrcode, { errorCorrectionLevel: "M", margin: 2, width: 256 })
          : null,
    };
  }

  async function setStopped(inbox: Inbox, stopped: boolean) {
    // A jsonb merge, so a concurrent change of another setting is not overwritten.
    const [updated] = await db
      .update(inboxes)
      .set({ settings: sql`${inboxes.settings} || jsonb_build_object('stopped', ${stopped}::boolean)` })
      .where(eq(inboxes.id, inbox.id))
      .returning();
    await rt.wechaty.sync();
    return updated!;
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/inboxes/{id}/wechaty",
      request: { params: IdParam },
      responses: ok(
        "The bot's session: status (stopped, starting, scan, logged_in, logged_out, error), qrcode and qrImage " +
          "(a data: URL) while it waits for a scan, user, lastError, node, stopped",
      ),
      tags: ["admin"],
    }),
    async (c) => c.json(await stateOf(await wechatyInbox(c.get("actor").workspaceId, c.req.valid("param").id)), 200),
  );

  for (const action of ["start", "stop"] as const)
    app.openapi(
      createRoute({
        method: "post",
        path: `/inboxes/{id}/wechaty/${action}`,
        request: { params: IdParam },
        responses: ok(
          action === "start"
            ? "Started: the bot runs on one node, and asks for a scan if it is not logged in"
            : "Stopped, and kept stopped across restarts until started again",
        ),
        tags: ["admin"],
      }),
      async (c) => {
        const inbox = await wechatyInbox(c.get("actor").workspaceId, c.req.valid("param").id);
        return c.json(await stateOf(await setStopped(inbox, action === "stop")), 200);
      },
    );

  return app;
}
