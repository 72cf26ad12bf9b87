import { createRoute, z } from "@hono/zod-openapi";
import { applyMacro, createMacro, deleteMacro, listMacros, updateMacro } from "../../automation/macro.ts";
import { body, created, IdParam, Json, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const MacroBody = z
  .object({ name: z.string(), actions: z.array(Json), personal: z.boolean().optional() })
  .openapi("MacroInput");
const MacroPatch = z.object({ name: z.string().optional(), actions: z.array(Json).optional() }).openapi("MacroPatch");
const ApplyParams = z.object({ id: z.uuid(), macroId: z.uuid() });

/**
 * Macros: named actions an agent applies in one click or with `/` in the composer. Shared ones are
 * written with macros.manage; personal ones by their owner (macros.apply) and seen by nobody else.
 */
export function macrosApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "get",
      path: "/macros",
      responses: ok("{items: shared macros and the caller's personal ones, by name}"),
      tags: ["macros"],
    }),
    async (c) => c.json({ items: await listMacros(db, c.get("actor")) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/macros",
      request: body(MacroBody),
      responses: created("The macro; shared needs macros.manage (403 otherwise)"),
      tags: ["macros"],
    }),
    async (c) => c.json(await createMacro(db, c.get("actor"), c.req.valid("json")), 201),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/macros/{id}",
      request: { params: IdParam, ...body(MacroPatch) },
      responses: ok("The macro"),
      tags: ["macros"],
    }),
    async (c) => c.json(await updateMacro(db, c.get("actor"), c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/macros/{id}",
      request: { params: IdParam },
      responses: ok("Deleted"),
      tags: ["macros"],
    }),
    async (c) => {
      await deleteMacro(db, c.get("actor"), c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/conversations/{id}/macros/{macroId}",
      request: { params: ApplyParams },
      responses: ok("{conversation, results}: every action applied as the agent, or none"),
      tags: ["macros"],
    }),
    async (c) => {
      const { id, macroId } = c.req.valid("param");
      return c.json(await applyMacro(rt.core, c.get("actor"), id, macroId), 200);
    },
  );

  return app;
}
