import { and, desc, eq, gte, lt, or, sql, type SQL } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { auditLog, type AuditEntry } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";
import { log } from "../platform/log.ts";
import { defuseFormula } from "../reports/csv.ts";

/** Who acted: a signed-in user (an Actor has these), or null for the system (the retention sweep). */
export type AuditActor = { userId: string; workspaceId: string; name: string } | null;

export type AuditRecord = {
  workspaceId: string;
  actor: AuditActor;
  /** "pii.reveal", "contact.export", "contact.erase", "report.export", "queues.manage"… */
  action: string;
  subjectType?: string;
  subjectId?: string;
  /** Ids and counts only: never a request body, a secret or the personal data itself. */
  detail?: Record<string, unknown>;
  ip?: string | null;
};

/** Appends one row to the audit log (docs/privacy.md). */
export async function recordAudit(db: Executor, r: AuditRecord) {
  await db.insert(auditLog).values({
    workspaceId: r.workspaceId,
    actorId: r.actor?.userId ?? null,
    actorName: r.actor?.name ?? null,
    action: r.action,
    subjectType: r.subjectType ?? null,
    subjectId: r.subjectId ?? null,
    detail: r.detail ?? {},
    ip: r.ip ?? null,
  });
}

/**
 * One line for every export of figures or rows (reports, QA, CSV downloads): `what` names it
 * ("report.export", "qa.export"), `detail` says which (period, groupBy, format). Never throws: an export
 * is not refused because its audit row failed, but the failure is logged.
 */
export async function auditExport(
  db: Executor,
  actor: { userId: string; workspaceId: string; name: string },
  what: string,
  detail: Record<string, unknown> = {},
  ip?: string | null,
) {
  await recordAudit(db, { workspaceId: actor.workspaceId, actor, action: what, detail, ip }).catch((err: unknown) =>
    log.error("audit: could not record an export", { err, action: what }),
  );
}

export type AuditQuery = {
  from?: Date;
  to?: Date;
  actorId?: string;
  action?: string;
  cursor?: string;
  limit: number;
};

/** `<createdAt ISO>|<id>`: the keyset of the last row of a page (newest first). */
function parseCursor(cursor: string) {
  const [at, id] = cursor.split("|");
  const when = new Date(at ?? "");
  if (!id || Number.isNaN(when.getTime()) || !/^[0-9a-f-]{36}$/i.test(id))
    throw new Invalid("cursor is not one this API gave", "cursor");
  return { when, id };
}

/** A page of the workspace's audit log, newest first; `action` matches exactly or as a prefix ending in '.'. */
export async function auditPage(db: Executor, workspaceId: string, q: AuditQuery) {
  const conditions: (SQL | undefined)[] = [eq(auditLog.workspaceId, workspaceId)];
  if (q.from) conditions.push(gte(auditLog.createdAt, q.from));
  if (q.to) conditions.push(lt(auditLog.createdAt, q.to));
  if (q.actorId) conditions.push(eq(auditLog.actorId, q.actorId));
  if (q.action)
    conditions.push(
      q.action.endsWith(".") ? sql`starts_with(${auditLog.action}, ${q.action})` : eq(auditLog.action, q.action),
    );
  if (q.cursor) {
    const { when, id } = parseCursor(q.cursor);
    conditions.push(
      or(lt(auditLog.createdAt, when), and(eq(auditLog.createdAt, when), sql`${auditLog.id} < ${id}::uuid`)),
    );
  }
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...conditions))
    .orderBy(desc(auditLog.createdAt), desc(auditLog.id))
    .limit(q.limit + 1);
  const items = rows.slice(0, q.limit).map(auditView);
  const last = rows.length > q.limit ? rows[q.limit - 1]! : undefined;
  return { items, nextCursor: last ? `${last.createdAt.toISOString()}|${last.id}` : null };
}

export function auditView(e: AuditEntry) {
  return {
    id: e.id,
    at: e.createdAt.toISOString(),
    actor: e.actorId ? { id: e.actorId, name: e.actorName } : null,
    action: e.action,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    detail: e.detail,
    ip: e.ip,
  };
}

/** A CSV cell: quoted, and a leading =, +, -, @ (a spreadsheet formula) defused with a quote mark. */
export function csvCell(value: unknown) {
  const s = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  return `"${defuseFormula(s).replace(/"/g, '""')}"`;
}

export const AUDIT_CSV_HEADER = [
  "at",
  "actor_id",
  "actor_name",
  "action",
  "subject_type",
  "subject_id",
  "detail",
  "ip",
];

export function auditCsvRow(v: ReturnType<typeof auditView>) {
  return [v.at, v.actor?.id, v.actor?.name, v.action, v.subjectType, v.subjectId, v.detail, v.ip]
    .map(csvCell)
    .join(",");
}
