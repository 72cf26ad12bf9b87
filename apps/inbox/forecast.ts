import { createRoute, z } from "@hono/zod-openapi";
import { queueForecast } from "../../reports/queue-forecast.ts";
import { WhatIfInput } from "../../reports/what-if.ts";
import { runWhatIf } from "../../reports/what-if-run.ts";
import { body, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

const ForecastQuery = z
  .object({
    queueId: z.uuid(),
    weeks: z.coerce.number().int().min(1).max(4).default(1),
    from: z.iso.datetime({ offset: true }).optional(),
    // The fraction of arrivals to answer within the queue's threshold.
    serviceLevel: z.coerce.number().min(0.05).max(0.99).default(0.8),
    shrinkage: z.coerce.number().min(0).max(0.9).default(0),
  })
  .strict();

/**
 * Forecasts and what-if replays for supervisors (reports.read): a queue's arrivals, handle time and
 * agents needed per half-hour, and a past period replayed through the ACD with a change (docs/forecast.md).
 */
export function forecastApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "get",
      path: "/forecast",
      request: { query: ForecastQuery },
      responses: ok(
        "{queue, timeZone, from, to, method, staffing, error: {weeks, wape, mape, mae, naiveWape}, intervals: [{start, arrivals, ahtS, agents, actual?}]}",
      ),
      tags: ["reports"],
    }),
    async (c) => {
      const q = c.req.valid("query");
      const result = await queueForecast(db, c.get("actor").workspaceId, {
        ...q,
        from: q.from ? new Date(q.from) : undefined,
      });
      return c.json(result, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/what-if",
      request: body(WhatIfInput),
      responses: ok(
        "{from, to, queues, arrivals, change, actual, before, after}: figures {offered, answered, abandoned, serviceLevel, asaS, abandonment}",
      ),
      tags: ["reports"],
    }),
    async (c) => c.json(await runWhatIf(db, c.get("actor").workspaceId, c.req.valid("json")), 200),
  );

  return app;
}
