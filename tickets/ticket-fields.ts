import { and, asc, eq, sql } from "drizzle-orm";
import type { Executor } from "../db/connect.ts";
import { ticketFields, type TicketField, type TicketFieldKind } from "../db/schema/index.ts";
import { Conflict, Invalid, NotFound } from "../platform/errors.ts";
import { FIELD_KEY } from "./field-value.ts";

export const fieldView = (f: TicketField) => ({
  id: f.id,
  key: f.key,
  label: f.label,
  kind: f.kind,
  options: f.options,
  required: f.required,
  position: f.position,
});

export type TicketFieldInput = {
  key?: string;
  label?: string;
  kind?: TicketFieldKind;
  options?: string[];
  required?: boolean;
  position?: number;
};

function checked(f: { key: string; kind: TicketFieldKind; options: string[] }) {
  if (!FIELD_KEY.test(f.key))
    throw new Invalid("A key is a lower-case letter, then up to 39 letters, digits or _", "key");
  if (f.kind === "select") {
    const options = [...new Set(f.options.map((o) => o.trim()).filter(Boolean))];
    if (!options.length) throw new Invalid("A select field needs options", "options");
    return options;
  }
  return [];
}

export async function listTicketFields(db: Executor, workspaceId: string) {
  const rows = await db
    .select()
    .from(ticketFields)
    .where(eq(ticketFields.workspaceId, workspaceId))
    .orderBy(asc(ticketFields.position), asc(ticketFields.createdAt));
  return rows.map(fieldView);
}

/** A new custom field. Required fields apply to tickets made or changed from now on. */
export async function createTicketField(
  db: Executor,
  workspaceId: string,
  input: TicketFieldInput & { key: string; label: string; kind: TicketFieldKind },
) {
  const options = checked({ key: input.key, kind: input.kind, options: input.options ?? [] });
  const [row] = await db
    .insert(ticketFields)
    .values({
      workspaceId,
      key: input.key,
      label: input.label,
      kind: input.kind,
      options,
      required: input.required ?? false,
      position:
        input.position ??
        sql`(SELECT coalesce(max(${ticketFields.position}) + 1, 0) FROM ${ticketFields} WHERE ${ticketFields.workspaceId} = ${workspaceId})`,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) throw new Conflict(`There is already a field ${input.key}`, "key");
  return fieldView(row);
}

/** Label, options, required and position change; the key and kind stay (tickets hold values under them). */
export async function updateTicketField(db: Executor, workspaceId: string, id: string, input: TicketFieldInput) {
  const [before] = await db
    .select()
    .from(ticketFields)
    .where(and(eq(ticketFields.workspaceId, workspaceId), eq(ticketFields.id, id)));
  if (!before) throw new NotFound("Ticket field");
  if (input.key !== undefined && input.key !== before.key) throw new Invalid("A field's key cannot change", "key");
  if (input.kind !== undefined && input.kind !== before.kind) throw new Invalid("A field's kind cannot change", "kind");
  const options = input.options ? checked({ ...before, options: input.options }) : before.options;
  const [row] = await db
    .update(ticketFields)
    .set({
      label: input.label ?? before.label,
      options,
      required: input.required ?? before.required,
      position: input.position ?? before.position,
    })
    .where(eq(ticketFields.id, id))
    .returning();
  return fieldView(row!);
}

/** Deleting a field leaves the values tickets hold under its key in their history (fields JSON). */
export async function deleteTicketField(db: Executor, workspaceId: string, id: string) {
  const removed = await db
    .delete(ticketFields)
    .where(and(eq(ticketFields.workspaceId, workspaceId), eq(ticketFields.id, id)))
    .returning();
  if (!removed.length) throw new NotFound("Ticket field");
}
