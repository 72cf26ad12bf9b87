import { createRoute, z } from "@hono/zod-openapi";
import { apiKeyView, createApiKey, listApiKeys, revokeApiKey } from "../../conversations/api-key.ts";
import { apiKeyScopes } from "../../db/schema/index.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const ApiKeyBody = z
  .object({
    name: z.string().trim().min(1).max(100),
    scopes: z.array(z.enum(apiKeyScopes)).min(1).max(apiKeyScopes.length),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
  })
  .openapi("ApiKey");

/**
 * API keys (admin): service tokens for integrations, each acting as a service user of its own with
 * scopes `read`, `write` or `admin` (conversations/api-key.ts). The key is answered once, at creation.
 */
export function apiKeysApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "get",
      path: "/api-keys",
      responses: ok("{items:[{id, name, scopes, prefix, createdAt, expiresAt, lastUsedAt, revokedAt}]}, newest first"),
      tags: ["api keys"],
    }),
    async (c) => c.json({ items: await listApiKeys(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/api-keys",
      request: body(ApiKeyBody),
      responses: created("{id, key, …}: the key is shown this once and never again"),
      tags: ["api keys"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const input = c.req.valid("json");
      const made = await createApiKey(rt.core, {
        workspaceId: actor.workspaceId,
        createdBy: actor.userId,
        name: input.name,
        scopes: input.scopes,
        expiresAt: input.expiresAt === undefined ? undefined : new Date(input.expiresAt),
      });
      return c.json({ ...apiKeyView(made.row), key: made.key }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/api-keys/{id}",
      request: { params: IdParam },
      responses: ok("The revoked key: refused from now on, on every node"),
      tags: ["api keys"],
    }),
    async (c) => c.json(await revokeApiKey(rt.core, c.get("actor").workspaceId, c.req.valid("param").id), 200),
  );

  return app;
}
