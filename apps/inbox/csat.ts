import { createRoute, z } from "@hono/zod-openapi";
import { and, eq, sql } from "drizzle-orm";
import { GROUPS, listResponses, summarize } from "../../csat/results.ts";
import { CsatSettings, csatSettingsOf, DEFAULT_QUESTION } from "../../csat/settings.ts";
import { inboxes } from "../../db/schema/index.ts";
import { Invalid, NotFound } from "../../platform/errors.ts";
import { body, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const Period = z.object({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
});
const SummaryQuery = Period.extend({ groupBy: z.enum(GROUPS).default("agent") });

function period(q: z.infer<typeof Period>) {
  const from = q.from ? new Date(q.from) : undefined;
  const to = q.to ? new Date(q.to) : undefined;
  if (from && to && from > to) throw new Invalid("from is after to", "from");
  return { from, to };
}

/**
 * Satisfaction surveys for the agent API: each inbox's survey settings (inboxes.manage) and the
 * answers, listed and summarized per agent, queue, channel or inbox (csat.read). Mounted under /api/v1.
 */
export function csatApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  async function inboxOf(workspaceId: string, id: string) {
    const [inbox] = await db
      .select({ id: inboxes.id, settings: inboxes.settings })
      .from(inboxes)
      .where(and(eq(inboxes.workspaceId, workspaceId), eq(inboxes.id, id)));
    if (!inbox) throw new NotFound("Inbox", "id");
    return inbox;
  }
  // The question texts a customer gets when the inbox has none of its own, for the settings form.
  const view = (s: CsatSettings) => ({ ...s, defaultQuestion: DEFAULT_QUESTION });

  app.openapi(
    createRoute({
      method: "get",
      path: "/inboxes/{id}/csat",
      request: { params: IdParam },
      responses: ok("{enabled, scale, question: {en?, zh-CN?}, delayMinutes, expiresHours, defaultQuestion}"),
      tags: ["csat"],
    }),
    async (c) => {
      const inbox = await inboxOf(c.get("actor").workspaceId, c.req.valid("param").id);
      return c.json(view(csatSettingsOf(inbox.settings)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "put",
      path: "/inboxes/{id}/csat",
      request: { params: IdParam, ...body(CsatSettings) },
      responses: ok("The inbox's survey settings"),
      tags: ["csat"],
    }),
    async (c) => {
      const actor = c.get("actor");
      const inbox = await inboxOf(actor.workspaceId, c.req.valid("param").id);
      const settings = c.req.valid("json");
      // Only the csat key is replaced: the inbox's other settings may be changed by someone else meanwhile.
      await db
        .update(inboxes)
        .set({ settings: sql`${inboxes.settings} || ${JSON.stringify({ csat: settings })}::jsonb` })
        .where(and(eq(inboxes.workspaceId, actor.workspaceId), eq(inboxes.id, inbox.id)));
      return c.json(view(settings), 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/csat",
      request: { query: Period },
      responses: ok(
        "{items: [{conversationId, rating, comment, channel, agentId, agentName, queueId, queueName, inboxId, createdAt}]}",
      ),
      tags: ["csat"],
    }),
    async (c) =>
      c.json({ items: await listResponses(db, c.get("actor").workspaceId, period(c.req.valid("query"))) }, 200),
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/csat/summary",
      request: { query: SummaryQuery },
      responses: ok("{rows: [{key, name, responses, average, satisfied}]}; satisfied = share of ratings ≥ 4"),
      tags: ["csat"],
    }),
    async (c) => {
      const q = c.req.valid("query");
      return c.json({ rows: await summarize(db, c.get("actor").workspaceId, period(q), q.groupBy) }, 200);
    },
  );

  return app;
}
