import { and, eq, inArray, or } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { slaClocks, type SlaMetric } from "../db/schema/index.ts";

/** The `sla` of a conversation or a ticket: its live due times, what was breached, and when to warn. */
export type SlaView = {
  policyId: string | null;
  firstResponseDueAt: string | null;
  nextResponseDueAt: string | null;
  resolutionDueAt: string | null;
  breached: SlaMetric[];
  /** The earliest warning time of a running clock (the inbox's clock turns amber then). */
  warnAt: string | null;
};

const DUE_FIELD = {
  first_response: "firstResponseDueAt",
  next_response: "nextResponseDueAt",
  resolution: "resolutionDueAt",
} as const;

/**
 * The `sla` of several conversations or tickets in one query, by id; a subject that never had a
 * clock is absent (its view says `sla: null`). A paused clock has no due time.
 */
export async function slaOf(
  db: Executor,
  workspaceId: string,
  ids: { conversationIds?: string[]; ticketIds?: string[] },
): Promise<Map<string, SlaView>> {
  const conversationIds = ids.conversationIds ?? [];
  const ticketIds = ids.ticketIds ?? [];
  const out = new Map<string, SlaView>();
  if (!conversationIds.length && !ticketIds.length) return out;
  const rows = await db
    .select()
    .from(slaClocks)
    .where(
      and(
        eq(slaClocks.workspaceId, workspaceId),
        or(
          conversationIds.length ? inArray(slaClocks.conversationId, conversationIds) : undefined,
          ticketIds.length ? inArray(slaClocks.ticketId, ticketIds) : undefined,
        ),
      ),
    )
    .orderBy(slaClocks.startedAt);
  for (const c of rows) {
    const id = (c.conversationId ?? c.ticketId)!;
    const view = out.get(id) ?? {
      policyId: null,
      firstResponseDueAt: null,
      nextResponseDueAt: null,
      resolutionDueAt: null,
      breached: [],
      warnAt: null,
    };
    out.set(id, view);
    if (c.breachedAt && !view.breached.includes(c.metric)) view.breached.push(c.metric);
    if (c.stoppedAt) continue;
    view.policyId = c.policyId;
    if (c.dueAt) view[DUE_FIELD[c.metric]] = c.dueAt.toISOString();
    if (c.warnAt && !c.warnedAt && (!view.warnAt || c.warnAt.toISOString() < view.warnAt))
      view.warnAt = c.warnAt.toISOString();
    else if (c.warnedAt && c.dueAt && (!view.warnAt || c.warnedAt.toISOString() < view.warnAt))
      view.warnAt = c.warnedAt.toISOString();
  }
  for (const [id, view] of out)
    if (!view.policyId) {
      const last = rows.filter((c) => (c.conversationId ?? c.ticketId) === id).at(-1);
      view.policyId = last?.policyId ?? null;
    }
  return out;
}

/** Tickets (or anything with an id and `sla`) with their `sla` filled, in one query; the ticket routes call it. */
export async function withTicketSla<T extends { id: string }>(
  db: Executor,
  workspaceId: string,
  items: T[],
): Promise<(T & { sla: SlaView | null })[]> {
  const sla = await slaOf(db, workspaceId, { ticketIds: items.map((t) => t.id) });
  return items.map((t) => ({ ...t, sla: sla.get(t.id) ?? null }));
}
