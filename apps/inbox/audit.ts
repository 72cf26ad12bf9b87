import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Executor } from "../../db/connect.ts";
import { Invalid } from "../../platform/errors.ts";
import { log } from "../../platform/log.ts";
import { AUDIT_CSV_HEADER, auditCsvRow, auditPage, recordAudit, type AuditQuery } from "../../privacy/audit.ts";
import { clientIp } from "../server/client-ip.ts";
import { Json, ok, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";
import { answeringRoute, routePermissions } from "./route-permission.ts";

/** Permissions that configure the workspace (settings, users and roles, inboxes, queues, rules…). */
const ADMIN = /\.manage$|^contacts\.merge$|^reports\.schedule$/;
/** Routes that write their own, more telling audit row. */
const SELF_AUDITED = new Set(["DELETE /contacts/{id}", "GET /contacts/{id}/export"]);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** The query parameters an export's audit row keeps: what was exported, never a search text. */
const EXPORT_PARAMS = ["from", "to", "groupBy", "tz", "format", "queueId", "agentId", "teamId", "channel", "action"];
const isExport = (type: string | null) => !!type && /^(text\/csv|application\/zip)/.test(type);

/**
 * Admin actions and exports in the audit log (docs/privacy.md): every change (POST, PUT, PATCH, DELETE)
 * that succeeded on a route whose permission configures the workspace, every deletion whatever its
 * permission, and every CSV or zip download (`<first path segment>.export`: reports, QA, the audit log
 * itself), so no export route has to remember it. The row names the route and the ids in its path —
 * never the request body, which may hold passwords, keys or tokens.
 */
export function auditAdminActions(db: Executor, trustProxy: number) {
  return createMiddleware<AuthEnv>(async (c, next) => {
    // Which route answers is read before it runs: Hono's route index moves on as handlers run.
    const key = answeringRoute(c as unknown as Context);
    await next();
    const method = c.req.method;
    const actor = c.get("actor");
    if (!actor || !key || SELF_AUDITED.has(key) || c.res.status >= 400) return;
    const url = new URL(c.req.url);
    const path = url.pathname.replace(/^.*?\/api\/v1/, "");
    const ids = path.match(UUID) ?? [];
    const subjectType = path.split("/")[1] || undefined;
    const permission = routePermissions[key];
    let action: string;
    let detail: Record<string, unknown>;
    if (method === "GET" || method === "HEAD") {
      if (!isExport(c.res.headers.get("content-type"))) return;
      action = `${subjectType ?? "data"}.export`;
      const params = EXPORT_PARAMS.filter((p) => url.searchParams.has(p)).map((p) => [p, url.searchParams.get(p)]);
      detail = { route: key, ids, params: Object.fromEntries(params) };
    } else {
      if (!permission || (!ADMIN.test(permission) && method !== "DELETE")) return;
      action = permission;
      detail = { method, route: key, ids, status: c.res.status };
    }
    await recordAudit(db, {
      workspaceId: actor.workspaceId,
      actor,
      action,
      subjectType,
      subjectId: ids[0],
      detail,
      ip: clientIp(trustProxy, c),
    }).catch((err: unknown) => log.error("audit: could not record an admin action", { err, route: key }));
  });
}

const AuditQuerySchema = z
  .object({
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    actorId: z.uuid().optional(),
    action: z.string().min(1).max(100).optional(),
    cursor: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    format: z.enum(["json", "csv"]).default("json"),
  })
  .refine((q) => !q.from || !q.to || new Date(q.from) < new Date(q.to), {
    message: "must be after from",
    path: ["to"],
  });

const CSV_PAGE = 1000;

/** `GET /audit`: the audit log, newest first, in keyset pages, or all of the period as CSV (streamed). */
export function auditApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();
  app.openapi(
    createRoute({
      method: "get",
      path: "/audit",
      request: { query: AuditQuerySchema },
      responses: {
        ...ok("{items:[{id, at, actor:{id,name}|null, action, subjectType, subjectId, detail, ip}], nextCursor}"),
        200: {
          description: "A page of entries, newest first, or with format=csv the whole period as CSV",
          content: { "application/json": { schema: Json }, "text/csv": { schema: z.string() } },
        },
      },
      tags: ["privacy"],
    }),
    async (c) => {
      const workspaceId = c.get("actor").workspaceId;
      const q = c.req.valid("query");
      const query: AuditQuery = {
        from: q.from ? new Date(q.from) : undefined,
        to: q.to ? new Date(q.to) : undefined,
        actorId: q.actorId,
        action: q.action,
        cursor: q.cursor,
        limit: q.limit,
      };
      if (q.format === "json") return c.json(await auditPage(db, workspaceId, query), 200);
      if (q.cursor) throw new Invalid("a CSV export holds the whole period: no cursor", "cursor");
      const encoder = new TextEncoder();
      let cursor: string | undefined;
      let started = false;
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (!started) {
            started = true;
            controller.enqueue(encoder.encode(AUDIT_CSV_HEADER.join(",") + "\n"));
          }
          const page = await auditPage(db, workspaceId, { ...query, cursor, limit: CSV_PAGE });
          if (page.items.length) controller.enqueue(encoder.encode(page.items.map(auditCsvRow).join("\n") + "\n"));
          if (!page.nextCursor) controller.close();
          cursor = page.nextCursor ?? undefined;
        },
      });
      return new Response(stream, {
        status: 200,
        headers: {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": 'attachment; filename="audit.csv"',
        },
      });
    },
  );
  return app;
}
