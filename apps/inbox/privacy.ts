import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { requireConversation } from "../../conversations/conversation.ts";
import { timelineItems } from "../../db/schema/index.ts";
import { NotFound } from "../../platform/errors.ts";
import { findPii } from "../../platform/pii.ts";
import { recordAudit } from "../../privacy/audit.ts";
import { exportContact } from "../../privacy/contact-export.ts";
import { requestErasure, runErasure } from "../../privacy/erasure.ts";
import { retentionOf, setRetention } from "../../privacy/retention.ts";
import { log } from "../../platform/log.ts";
import { clientIp } from "../server/client-ip.ts";
import { body, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const ItemParam = z.object({ id: z.uuid(), itemId: z.uuid() });
const EraseQuery = z.object({
  erase: z.literal("true", { message: "must be true: DELETE erases the contact and everything stored about it" }),
});
const RetentionBody = z.object({
  days: z.number().int().min(1).max(36_500).nullable(),
});

/**
 * Personal data (docs/privacy.md): revealing a masked message (users with `pii`, audited), a data
 * subject's export and erasure, and the workspace's retention period (privacy.manage).
 */
export function privacyApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/items/{itemId}/reveal",
      request: { params: ItemParam },
      responses: ok("The item's text unmasked: {id, text, html}; the reveal is written to the audit log"),
      tags: ["privacy"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const { id, itemId } = c.req.valid("param");
      const conversation = await requireConversation(db, actor, id);
      const [item] = await db
        .select({ id: timelineItems.id, text: timelineItems.text, html: timelineItems.html })
        .from(timelineItems)
        .where(and(eq(timelineItems.id, itemId), eq(timelineItems.conversationId, conversation.id)));
      if (!item) throw new NotFound("Timeline item", "itemId");
      const kinds = [...new Set(findPii(item.text ?? "").map((s) => s.kind))];
      await recordAudit(db, {
        workspaceId: actor.workspaceId,
        actor,
        action: "pii.reveal",
        subjectType: "timeline_item",
        subjectId: item.id,
        detail: { conversationId: conversation.id, kinds },
        ip: clientIp(rt.config.trustProxy, c),
      });
      return c.json(item, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/contacts/{id}/export",
      request: { params: IdParam },
      responses: {
        200: {
          description: "A zip of everything stored about the contact",
          content: { "application/zip": { schema: z.any() } },
        },
      },
      tags: ["privacy"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const { id } = c.req.valid("param");
      const zip = await exportContact({ db, keyring: rt.keyring, files: rt.files }, actor.workspaceId, id);
      await recordAudit(db, {
        workspaceId: actor.workspaceId,
        actor,
        action: "contact.export",
        subjectType: "contact",
        subjectId: id,
        ip: clientIp(rt.config.trustProxy, c),
      });
      return new Response(zip, {
        status: 200,
        headers: {
          "content-type": "application/zip",
          "content-disposition": `attachment; filename="contact-${id}.zip"`,
          "cache-control": "no-store",
        },
      });
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/contacts/{id}",
      request: { params: IdParam, query: EraseQuery },
      responses: {
        202: { description: "Erasure started: {erasureId}", content: { "application/json": { schema: z.any() } } },
        409: { description: "The contact has a call in progress (field: calls)" },
      },
      tags: ["privacy"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const { id } = c.req.valid("param");
      const erasureId = await requestErasure(db, actor, id, clientIp(rt.config.trustProxy, c));
      // At once, in the background; the sweep (housekeeping) finishes it after a crash.
      void runErasure(db, rt.files, erasureId).catch((err: unknown) => log.error("privacy: erasure", { err }));
      return c.json({ erasureId }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/workspace/retention",
      responses: ok("{days}: resolved conversations are deleted this many days after resolution (null: kept)"),
      tags: ["privacy"],
    }),
    async (c) => c.json(await retentionOf(db, c.get("actor").workspaceId), 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/workspace/retention",
      request: body(RetentionBody),
      responses: ok("{days}"),
      tags: ["privacy"],
    }),
    async (c) => {
      return c.json(await setRetention(db, c.get("actor").workspaceId, c.req.valid("json").days), 200);
    },
  );

  return app;
}
