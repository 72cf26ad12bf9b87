import { createRoute, z } from "@hono/zod-openapi";
import { createCanned, deleteCanned, listCanned, updateCanned } from "../../conversations/canned.ts";
import { SHORTCUT_PATTERN } from "../../conversations/canned-template.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const CannedQuery = z.object({ q: z.string().max(200).optional() });
const CannedBody = z
  .object({
    shortcut: z.string().regex(SHORTCUT_PATTERN, "1 to 50 letters, digits, _ or -"),
    title: z.string().trim().min(1).max(200),
    body: z
      .string()
      .min(1)
      .max(10_000)
      .refine((b) => b.trim().length > 0, { message: "must not be blank" }),
  })
  .openapi("CannedResponse");

/**
 * Canned responses: every signed-in user reads them, supervisors and admins write them. Mounted
 * under /api/v1 behind the sign-in middleware.
 */
export function cannedApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "get",
      path: "/canned-responses",
      request: { query: CannedQuery },
      responses: ok("{items:[{id, shortcut, title, body, updatedAt}]} by shortcut; q matches shortcut or title"),
      tags: ["canned responses"],
    }),
    async (c) =>
      c.json({ items: await listCanned(db, c.get("actor").workspaceId, c.req.valid("query").q || undefined) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/canned-responses",
      request: body(CannedBody),
      responses: created("The canned response; 409 when the shortcut is taken"),
      tags: ["canned responses"],
    }),
    async (c) => {
      const actor = c.get("actor");
      return c.json(await createCanned(db, actor, c.req.valid("json")), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/canned-responses/{id}",
      request: { params: IdParam, ...body(CannedBody) },
      responses: ok("The canned response"),
      tags: ["canned responses"],
    }),
    async (c) => {
      const actor = c.get("actor");
      return c.json(await updateCanned(db, actor, c.req.valid("param").id, c.req.valid("json")), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/canned-responses/{id}",
      request: { params: IdParam },
      responses: ok("Deleted"),
      tags: ["canned responses"],
    }),
    async (c) => {
      const actor = c.get("actor");
      await deleteCanned(db, actor, c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  return app;
}
