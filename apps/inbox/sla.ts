import { createRoute, z } from "@hono/zod-openapi";
import {
  createPolicy,
  deletePolicy,
  listPolicies,
  orderPolicies,
  PolicyInput,
  PolicyPatch,
  updatePolicy,
} from "../../sla/policy.ts";
import { BusinessHoursInput } from "../../routing/hours.ts";
import { setWorkspaceCalendar, workspaceCalendar } from "../../sla/workspace-calendar.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

// The domain's schema as it is: `.openapi()` exists only once @hono/zod-openapi has extended zod, which a
// process that loaded sla/ first (a unit test) has not.
const Calendar = BusinessHoursInput.nullable();
const calendarAnswer = (description: string) => ({
  200: { description, content: { "application/json": { schema: Calendar } } },
});
const OrderBody = z.object({ ids: z.array(z.uuid()).max(500) });

/**
 * SLA policies (sla.manage: supervisors and admins) and the workspace's business calendar (everyone
 * signed in reads it). Mounted under /api/v1 behind the sign-in middleware.
 */
export function slaApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "get",
      path: "/sla-policies",
      responses: ok("{items: [policy]} in the order they are tried"),
      tags: ["sla"],
    }),
    async (c) => c.json({ items: await listPolicies(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/sla-policies",
      request: body(PolicyInput),
      responses: created("The policy, last in order; 409 when the name is taken, 400 naming a bad condition"),
      tags: ["sla"],
    }),
    async (c) => c.json(await createPolicy(db, c.get("actor").workspaceId, c.req.valid("json")), 201),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/sla-policies/order",
      request: body(OrderBody),
      responses: ok("{items} in the new order; ids must name every policy once"),
      tags: ["sla"],
    }),
    async (c) => c.json({ items: await orderPolicies(db, c.get("actor").workspaceId, c.req.valid("json").ids) }, 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/sla-policies/{id}",
      request: { params: IdParam, ...body(PolicyPatch) },
      responses: ok("The policy; running clocks take its new targets at their next change"),
      tags: ["sla"],
    }),
    async (c) =>
      c.json(await updatePolicy(db, c.get("actor").workspaceId, c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/sla-policies/{id}",
      request: { params: IdParam },
      responses: ok("Deleted; running clocks keep their targets"),
      tags: ["sla"],
    }),
    async (c) => {
      await deletePolicy(db, c.get("actor").workspaceId, c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/workspace/calendar",
      responses: calendarAnswer("{timeZone, weekly, holidays}, or null: every hour is a business hour"),
      tags: ["sla"],
    }),
    async (c) => c.json(await workspaceCalendar(db, c.get("actor").workspaceId), 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/workspace/calendar",
      request: body(Calendar),
      responses: calendarAnswer("The calendar (or null): business-hours clocks without queue hours start on it"),
      tags: ["sla"],
    }),
    async (c) => c.json(await setWorkspaceCalendar(db, c.get("actor").workspaceId, c.req.valid("json")), 200),
  );

  return app;
}
