import { createRoute } from "@hono/zod-openapi";
import {
  createSchedule,
  deleteSchedule,
  listSchedules,
  ScheduleInput,
  SchedulePatch,
  updateSchedule,
} from "../../reports/schedule.ts";
import { body, created, IdParam, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

/**
 * Reports mailed on a schedule (reports.schedule: supervisors and admins): daily or weekly, at an hour
 * of the workspace's time zone, sent by the sweep in reports/schedule-sweep.ts. Mounted under /api/v1.
 */
export function reportSchedulesApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  app.openapi(
    createRoute({
      method: "get",
      path: "/reports/schedules",
      responses: ok("{items: [schedule]}, oldest first"),
      tags: ["reports"],
    }),
    async (c) => c.json({ items: await listSchedules(db, c.get("actor").workspaceId) }, 200),
  );

  app.openapi(
    createRoute({
      method: "post",
      path: "/reports/schedules",
      request: body(ScheduleInput),
      responses: created(
        "The schedule with its nextRunAt; 400 naming the field (recipients.0 for a bad address, weekday for a weekly one without it)",
      ),
      tags: ["reports"],
    }),
    async (c) => {
      const actor = c.get("actor");
      return c.json(await createSchedule(db, actor.workspaceId, actor.userId, c.req.valid("json")), 201);
    },
  );

  app.openapi(
    createRoute({
      method: "patch",
      path: "/reports/schedules/{id}",
      request: { params: IdParam, ...body(SchedulePatch) },
      responses: ok("The schedule; a new frequency, weekday or hour moves nextRunAt"),
      tags: ["reports"],
    }),
    async (c) =>
      c.json(await updateSchedule(db, c.get("actor").workspaceId, c.req.valid("param").id, c.req.valid("json")), 200),
  );

  app.openapi(
    createRoute({
      method: "delete",
      path: "/reports/schedules/{id}",
      request: { params: IdParam },
      responses: ok("Deleted; mails already written stay in the outbox"),
      tags: ["reports"],
    }),
    async (c) => {
      await deleteSchedule(db, c.get("actor").workspaceId, c.req.valid("param").id);
      return c.json({ ok: true }, 200);
    },
  );

  return app;
}
