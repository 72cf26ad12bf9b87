import { createRoute, z } from "@hono/zod-openapi";
import { qaFindingStatuses, qaSeverities } from "../../db/schema/index.ts";
import { Invalid } from "../../platform/errors.ts";
import {
  conversationQa,
  listFindings,
  qaSummary,
  readAlert,
  reviewFinding,
  SUMMARY_GROUPS,
  unreadAlerts,
} from "../../quality/review.ts";
import { createRule, deleteRule, listRules, RuleInput, RulePatch, updateRule } from "../../quality/rules.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const SummaryQuery = z.object({
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  groupBy: z.enum(SUMMARY_GROUPS).default("agent"),
});
const FindingsQuery = z.object({
  status: z.enum(qaFindingStatuses).optional(),
  severity: z.enum(qaSeverities).optional(),
  agentId: z.uuid().optional(),
  conversationId: z.uuid().optional(),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
const Review = z
  .object({
    status: z.enum(["open", "confirmed", "dismissed"]).optional(),
    coachingNote: z.string().max(4000).nullable().optional(),
  })
  .refine((r) => r.status !== undefined || r.coachingNote !== undefined, {
    message: "Give a status or a coaching note",
    path: ["status"],
  });

const YEAR_MS = 366 * 86_400_000;

/**
 * Automatic QA in the agent API: a conversation's score and findings (qa.read, within the visibility
 * rule), the review queue and scores by agent or queue (qa.review), unacknowledged critical alerts
 * (qa.review), and the scorecard's rules (qa.manage). Mounted under /api/v1.
 */
export function qualityApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "get",
      path: "/conversations/{id}/qa",
      request: { params: IdParam },
      responses: ok(
        "{score (0–100, null only for a conversation that cannot be scored), findings: [{id, rule, severity " +
          "(info|warning|critical), itemId?, excerpt, status, coachingNote, agentId}], sentiment, scoredAt}",
      ),
      tags: ["qa"],
    }),
    async (c) => c.json(await conversationQa(rt.core, c.get("actor"), c.req.valid("param").id), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/qa/findings",
      request: { query: FindingsQuery },
      responses: ok("{items: [finding + agentName], nextCursor}: newest first"),
      tags: ["qa"],
    }),
    async (c) => c.json(await listFindings(db, c.get("actor").workspaceId, c.req.valid("query")), 200),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/qa/findings/{id}",
      request: { params: IdParam, ...body(Review) },
      responses: ok("The finding after review; the conversation's score is recomputed"),
      tags: ["qa"],
    }),
    async (c) =>
      c.json(await reviewFinding(rt.core, c.get("actor"), c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/qa/summary",
      request: { query: SummaryQuery },
      responses: ok("{rows: [{key, name, conversations, averageScore, findings, critical}]}: lowest average first"),
      tags: ["qa"],
    }),
    async (c) => {
      const q = c.req.valid("query");
      const from = new Date(q.from);
      const to = new Date(q.to);
      if (from >= to) throw new Invalid("from must be before to", "from");
      if (to.getTime() - from.getTime() > YEAR_MS) throw new Invalid("The period is longer than a year", "to");
      return c.json({ rows: await qaSummary(db, c.get("actor").workspaceId, { from, to }, q.groupBy) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/qa/alerts",
      responses: ok("{items: [finding]}: alerting rules' findings of the last 7 days not yet read by you"),
      tags: ["qa"],
    }),
    async (c) => c.json({ items: await unreadAlerts(db, c.get("actor")) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/qa/alerts/{id}/read",
      request: { params: IdParam },
      responses: ok("{ok: true}"),
      tags: ["qa"],
    }),
    async (c) => {
      await readAlert(db, c.get("actor"), c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/qa/rules",
      responses: ok("{items: [rule]}: the scorecard, the default one on first read"),
      tags: ["qa"],
    }),
    async (c) => c.json({ items: await listRules(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/qa/rules",
      request: body(RuleInput),
      responses: created("The rule; config is checked against its kind"),
      tags: ["qa"],
    }),
    async (c) => c.json(await createRule(db, c.get("actor").workspaceId, c.req.valid("json")), 201),
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/qa/rules/{id}",
      request: { params: IdParam, ...body(RulePatch) },
      responses: ok("The rule"),
      tags: ["qa"],
    }),
    async (c) =>
      c.json(await updateRule(db, c.get("actor").workspaceId, c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/qa/rules/{id}",
      request: { params: IdParam },
      responses: ok("{ok: true}"),
      tags: ["qa"],
    }),
    async (c) => {
      await deleteRule(db, c.get("actor").workspaceId, c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  return app;
}
