import { createRoute, z } from "@hono/zod-openapi";
import { dryRun } from "../../automation/dry-run.ts";
import {
  createRule,
  deleteRule,
  getRule,
  listRules,
  listRuns,
  orderRules,
  ruleEvents,
  updateRule,
} from "../../automation/rule.ts";
import { body, created, IdParam, Json, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

// The domain checks conditions and actions field by field (a 400 naming `actions.0.queueId`), so the
// route only describes the shape.
const RuleBody = z
  .object({
    name: z.string(),
    event: z.enum(ruleEvents),
    conditions: z.array(Json).optional(),
    actions: z.array(Json),
    afterMinutes: z.number().nullable().optional(),
    active: z.boolean().optional(),
  })
  .openapi("AutomationRuleInput");
const RulePatch = z
  .object({
    name: z.string().optional(),
    event: z.enum(ruleEvents).optional(),
    conditions: z.array(Json).optional(),
    actions: z.array(Json).optional(),
    afterMinutes: z.number().nullable().optional(),
    active: z.boolean().optional(),
  })
  .openapi("AutomationRulePatch");
const DryRunBody = z
  .object({
    event: z.enum(ruleEvents),
    conditions: z.array(Json).optional(),
    actions: z.array(Json).optional(),
    limit: z.number().int().optional(),
  })
  .openapi("AutomationDryRun");
const OrderBody = z.object({ ids: z.array(z.uuid()).max(1000) }).openapi("AutomationOrder");

/**
 * Automation rules (automation.manage): "when <event>, if <conditions>, then <actions>", their order,
 * a dry run over recent conversations, and their recent runs. A change is seen by this node at once
 * and by the others within the engine's cache time (5 s).
 */
export function automationsApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();
  const changed = (workspaceId: string) => rt.automation.invalidate(workspaceId);

  app.openapi(
    createRoute({
      method: "get",
      path: "/automations",
      responses: ok("{items: rules in run order}"),
      tags: ["automations"],
    }),
    async (c) => c.json({ items: await listRules(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/automations",
      request: body(RuleBody),
      responses: created("The rule, last in order; 400 naming the field for unknown ids, fields or a self-loop"),
      tags: ["automations"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const rule = await createRule(db, actor, c.req.valid("json"));
      changed(actor.workspaceId);
      return c.json(rule, 201);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/automations/dry-run",
      request: body(DryRunBody),
      responses: ok("{scanned, matched: [{conversationId | ticketId, lastMessageText | title, createdAt}]}"),
      tags: ["automations"],
    }),
    async (c) => c.json(await dryRun(db, c.get("actor").workspaceId, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/automations/order",
      request: body(OrderBody),
      responses: ok("{items: rules in their new order}"),
      tags: ["automations"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const items = await orderRules(db, actor.workspaceId, c.req.valid("json").ids);
      changed(actor.workspaceId);
      return c.json({ items }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/automations/{id}",
      request: { params: IdParam },
      responses: ok("The rule"),
      tags: ["automations"],
    }),
    async (c) => c.json(await getRule(db, c.get("actor").workspaceId, c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/automations/{id}",
      request: { params: IdParam, ...body(RulePatch) },
      responses: ok("The rule, checked again as a whole"),
      tags: ["automations"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const rule = await updateRule(db, actor.workspaceId, c.req.valid("param").id, c.req.valid("json"));
      changed(actor.workspaceId);
      return c.json(rule, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/automations/{id}",
      request: { params: IdParam },
      responses: ok("Deleted"),
      tags: ["automations"],
    }),
    async (c) => {
      const actor = c.get("actor");
      await deleteRule(db, actor.workspaceId, c.req.valid("param").id);
      changed(actor.workspaceId);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/automations/{id}/runs",
      request: { params: IdParam },
      responses: ok(
        "{items: the rule's latest runs, newest first: eventKey, conversationId, ticketId, depth, outcome}",
      ),
      tags: ["automations"],
    }),
    async (c) => c.json({ items: await listRuns(db, c.get("actor").workspaceId, c.req.valid("param").id) }, 200),
  );

  return app;
}
