import { createRoute, z } from "@hono/zod-openapi";
import { agentTable } from "../../reports/agents.ts";
import { csvStream, flatten } from "../../reports/csv.ts";
import { INTERACTION_COLUMNS, interactionPage, type ExportRow } from "../../reports/export.ts";
import { parseFilters, parseGroupBy, parsePeriod } from "../../reports/period.ts";
import { report, workspaceTimeZone, type ReportRow } from "../../reports/summary.ts";
import { errorResponses, Json, router } from "../server/http.ts";
import type { Runtime } from "../server/runtime.ts";
import type { AuthEnv } from "./auth.ts";

// Strings, checked by reports/period.ts, so every bad value is a 400 naming its own field.
const ReportQuery = z.object({
  from: z.string().optional(),
  to: z.string().optional(),
  tz: z.string().optional(),
  format: z.enum(["json", "csv"]).optional(),
  queueId: z.string().optional(),
  agentId: z.string().optional(),
  inboxId: z.string().optional(),
  teamId: z.string().optional(),
  channel: z.string().optional(),
});
const SummaryQuery = ReportQuery.extend({ groupBy: z.string().optional() });

/** A route's answer: JSON, or (format=csv) the same report as a CSV file. */
const jsonOrCsv = (description: string) => ({
  200: {
    description,
    content: { "application/json": { schema: Json }, "text/csv": { schema: z.string() } },
  },
  ...errorResponses,
});

function csvResponse(name: string, body: ReadableStream<Uint8Array>) {
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${name}.csv"`,
      "cache-control": "no-store",
    },
  });
}

/** Rows of any one shape as a CSV (the header from the first row's flattened columns). */
function rowsCsv(name: string, rows: Record<string, unknown>[], header: string[]) {
  let sent = false;
  return csvResponse(
    name,
    csvStream(
      header,
      (r: Record<string, unknown>) => header.map((h) => r[h]),
      async () => {
        if (sent) return [];
        sent = true;
        return rows;
      },
    ),
  );
}

/**
 * Historical reports (reports.read): the summary of the interaction facts grouped by time or by who and
 * where, the per-agent table, and the raw interactions, each as JSON or streamed CSV. Mounted under /api/v1.
 */
export function reportsApi(rt: Runtime) {
  const db = rt.core.db;
  const app = router<AuthEnv>();

  async function periodOf(workspaceId: string, q: z.infer<typeof ReportQuery>) {
    return {
      period: parsePeriod(q, q.tz ? "UTC" : await workspaceTimeZone(db, workspaceId)),
      filters: parseFilters(q),
    };
  }

  app.openapi(
    createRoute({
      method: "get",
      path: "/reports/summary",
      request: { query: SummaryQuery },
      responses: jsonOrCsv(
        "{rows: [{key, name?, offered, answered, abandoned, firstResponseS: {avg, p50, p90}, resolutionS: {avg}, asaS, ahtS, serviceLevel, transfers, csat: {avg, responses}, …}], total}; format=csv gives text/csv",
      ),
      tags: ["reports"],
    }),
    async (c) => {
      const q = c.req.valid("query");
      const workspaceId = c.get("actor").workspaceId;
      const groupBy = parseGroupBy(q.groupBy);
      const { period, filters } = await periodOf(workspaceId, q);
      const { rows, total } = await report(db, workspaceId, period, groupBy, filters);
      if (q.format === "csv") {
        // The columns of the total (every figure), with `name` after the key for groupings by id.
        const header = Object.keys(flatten(total));
        if (groupBy === "inbox" || groupBy === "queue" || groupBy === "team" || groupBy === "agent")
          header.splice(1, 0, "name");
        return rowsCsv(
          `report-${groupBy}`,
          rows.map((r: ReportRow) => flatten(r)),
          header,
        );
      }
      return c.json({ groupBy, tz: period.tz, rows, total }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/reports/agents",
      request: { query: ReportQuery },
      responses: jsonOrCsv(
        "{rows: [{key, name, states: [{presence, reason, seconds}], occupancy, utilisation, answered, ahtS, csat, …}]}",
      ),
      tags: ["reports"],
    }),
    async (c) => {
      const q = c.req.valid("query");
      const workspaceId = c.get("actor").workspaceId;
      const { period, filters } = await periodOf(workspaceId, q);
      const rows = await agentTable(db, workspaceId, period, filters);
      if (q.format === "csv") {
        const flat = rows.map(({ states, ...r }) => ({
          ...flatten(r),
          states: states
            .map((s) => `${s.presence}${s.reason ? `:${s.reason}` : ""}=${Math.round(s.seconds)}`)
            .join("; "),
        }));
        return rowsCsv("report-agents", flat, flat[0] ? Object.keys(flat[0]) : ["key", "name"]);
      }
      return c.json({ tz: period.tz, rows }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: "get",
      path: "/reports/interactions",
      request: { query: ReportQuery },
      responses: jsonOrCsv(
        "text/csv, one line per interaction offered in the period (format=csv; JSON gives the first 1,000)",
      ),
      tags: ["reports"],
    }),
    async (c) => {
      const q = c.req.valid("query");
      const workspaceId = c.get("actor").workspaceId;
      const { period, filters } = await periodOf(workspaceId, q);
      if (q.format === "csv")
        return csvResponse(
          "interactions",
          csvStream<ExportRow>(
            [...INTERACTION_COLUMNS],
            (r) => INTERACTION_COLUMNS.map((col) => r[col]),
            (after) => interactionPage(db, workspaceId, period, filters, after),
          ),
        );
      return c.json({ items: await interactionPage(db, workspaceId, period, filters, undefined) }, 200);
    },
  );

  return app;
}
