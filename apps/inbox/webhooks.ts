import { createRoute, z } from "@hono/zod-openapi";
import {
  createWebhook,
  deleteWebhook,
  listDeliveries,
  listWebhooks,
  resendDelivery,
  webhookEventTypes,
} from "../../integrations/webhook.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const WebhookBody = z
  .object({
    url: z.string().trim().min(1).max(2000),
    events: z
      .array(z.enum(webhookEventTypes))
      .min(1)
      .max(webhookEventTypes.length * 2),
  })
  .openapi("WebhookInput");
const DeliveryParam = z.object({ id: z.uuid(), deliveryId: z.uuid() });

/**
 * Outgoing webhooks (admins): registered URLs that receive the workspace's events signed with their
 * secret, their deliveries and a re-send by hand. Mounted under /api/v1 behind the sign-in middleware.
 */
export function webhooksApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhooks",
      request: body(WebhookBody),
      responses: created("{id, secret, url, events}: the secret is shown this once"),
      tags: ["webhooks"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const input = c.req.valid("json");
      const hook = await createWebhook(
        db,
        rt.keyring,
        { allowHosts: rt.config.outboundAllowHosts },
        { workspaceId: actor.workspaceId, url: input.url, events: input.events, createdBy: actor.userId },
      );
      return c.json(hook, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhooks",
      responses: ok("{items:[{id, url, events, active, createdAt}]} (never the secret)"),
      tags: ["webhooks"],
    }),
    async (c) => c.json({ items: await listWebhooks(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/webhooks/{id}",
      request: { params: IdParam },
      responses: ok("Deleted, with its deliveries"),
      tags: ["webhooks"],
    }),
    async (c) => {
      await deleteWebhook(db, c.get("actor").workspaceId, c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/webhooks/{id}/deliveries",
      request: { params: IdParam },
      responses: ok(
        "{items:[{id, type, status, attempts, responseStatus, lastError, createdAt, deliveredAt, nextAttemptAt}]}, newest first",
      ),
      tags: ["webhooks"],
    }),
    async (c) => c.json({ items: await listDeliveries(db, c.get("actor").workspaceId, c.req.valid("param").id) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/webhooks/{id}/deliveries/{deliveryId}/resend",
      request: { params: DeliveryParam },
      responses: ok("The delivery, pending again: sent at once, with its retries anew"),
      tags: ["webhooks"],
    }),
    async (c) => {
      const { id, deliveryId } = c.req.valid("param");
      const delivery = await resendDelivery(db, c.get("actor").workspaceId, id, deliveryId);
      rt.webhooks.wake();
      return c.json(delivery, 200);
    },
  );

  return app;
}
