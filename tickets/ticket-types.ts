import { and, asc, eq, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { ticketCounters, ticketTypes, tickets } from "../db/schema/index.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";

/** The types every workspace starts with (工单类型). */
export const DEFAULT_TICKET_TYPES = [
  { name: "complaint", labels: { en: "Complaint", "zh-CN": "投诉" } },
  { name: "refund", labels: { en: "Refund", "zh-CN": "退款" } },
  { name: "repair", labels: { en: "Repair", "zh-CN": "维修" } },
  { name: "inquiry", labels: { en: "Inquiry", "zh-CN": "咨询" } },
];

/**
 * Gives a workspace the default types the first time it uses tickets: it has no type and has never
 * numbered a ticket. A workspace that deleted every type on purpose keeps an empty list.
 */
export async function ensureDefaultTypes(db: Executor, workspaceId: string) {
  const [any] = await db
    .select({ id: ticketTypes.id })
    .from(ticketTypes)
    .where(eq(ticketTypes.workspaceId, workspaceId))
    .limit(1);
  if (any) return;
  const [counted] = await db
    .select({ n: ticketCounters.lastNumber })
    .from(ticketCounters)
    .where(eq(ticketCounters.workspaceId, workspaceId));
  if (counted) return;
  await db
    .insert(ticketTypes)
    .values(DEFAULT_TICKET_TYPES.map((t, position) => ({ workspaceId, ...t, position })))
    .onConflictDoNothing();
}

export async function listTicketTypes(db: Executor, workspaceId: string) {
  await ensureDefaultTypes(db, workspaceId);
  const rows = await db
    .select()
    .from(ticketTypes)
    .where(eq(ticketTypes.workspaceId, workspaceId))
    .orderBy(asc(ticketTypes.position), asc(ticketTypes.createdAt));
  return rows.map(typeView);
}

export const typeView = (t: typeof ticketTypes.$inferSelect) => ({
  id: t.id,
  name: t.name,
  labels: t.labels,
  position: t.position,
});

/** The type names a ticket may carry; a type given must be one of them. */
export async function assertTicketType(db: Executor, workspaceId: string, type: string) {
  await ensureDefaultTypes(db, workspaceId);
  const [row] = await db
    .select({ id: ticketTypes.id })
    .from(ticketTypes)
    .where(and(eq(ticketTypes.workspaceId, workspaceId), eq(ticketTypes.name, type)));
  if (!row) throw new Invalid(`No ticket type ${type}`, "type");
}

export type TicketTypeInput = { name?: string; labels?: Record<string, string>; position?: number };

export async function createTicketType(db: Executor, workspaceId: string, input: TicketTypeInput & { name: string }) {
  await ensureDefaultTypes(db, workspaceId);
  const [row] = await db
    .insert(ticketTypes)
    .values({
      workspaceId,
      name: input.name,
      labels: input.labels ?? {},
      position:
        input.position ??
        sql`(SELECT coalesce(max(${ticketTypes.position}) + 1, 0) FROM ${ticketTypes} WHERE ${ticketTypes.workspaceId} = ${workspaceId})`,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new Conflict(`There is already a ticket type ${input.name}`, "name");
  return typeView(row);
}

/**
 * Renaming a type renames it on the workspace's tickets too (the type is kept on a ticket as text,
 * and a ticket must not be left with a type nobody can choose any more).
 */
export async function updateTicketType(db: Executor, workspaceId: string, id: string, input: TicketTypeInput) {
  const [before] = await db
    .select()
    .from(ticketTypes)
    .where(and(eq(ticketTypes.workspaceId, workspaceId), eq(ticketTypes.id, id)));
  if (!before) throw new NotFound("Ticket type");
  if (input.name && input.name !== before.name) {
    const [taken] = await db
      .select({ id: ticketTypes.id })
      .from(ticketTypes)
      .where(and(eq(ticketTypes.workspaceId, workspaceId), eq(ticketTypes.name, input.name)));
    if (taken) throw new Conflict(`There is already a ticket type ${input.name}`, "name");
    await db
      .update(tickets)
      .set({ type: input.name })
      .where(and(eq(tickets.workspaceId, workspaceId), eq(tickets.type, before.name)));
  }
  const [row] = await db
    .update(ticketTypes)
    .set({
      name: input.name ?? before.name,
      labels: input.labels ?? before.labels,
      position: input.position ?? before.position,
    })
    .where(eq(ticketTypes.id, id))
    .returning();
  return typeView(row!);
}

/** Refused (409) while tickets still carry the type: they would keep a type nobody can choose. */
export async function deleteTicketType(db: Executor, workspaceId: string, id: string) {
  const [row] = await db
    .select()
    .from(ticketTypes)
    .where(and(eq(ticketTypes.workspaceId, workspaceId), eq(ticketTypes.id, id)));
  if (!row) throw new NotFound("Ticket type");
  const [used] = await db
    .select({ id: tickets.id })
    .from(tickets)
    .where(and(eq(tickets.workspaceId, workspaceId), eq(tickets.type, row.name)))
    .limit(1);
  if (used) throw new Conflict(`Tickets still have the type ${row.name}: change them first`, "id");
  await db.delete(ticketTypes).where(eq(ticketTypes.id, id));
}
