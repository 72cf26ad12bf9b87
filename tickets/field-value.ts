import type { TicketField, TicketFieldValue } from "../db/schema/index.ts";
import { Invalid } from "../platform/errors.ts";

export const FIELD_KEY = /^[a-z][a-z0-9_]{0,39}$/;
export const MAX_FIELD_TEXT = 2000;

type FieldDefinition = Pick<TicketField, "key" | "kind" | "options" | "required">;

const isCalendarDate = (s: string) => {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
};

/** One value checked against its field's kind; the error names `fields.<key>`. */
export function fieldValue(def: FieldDefinition, value: unknown): TicketFieldValue {
  const field = `fields.${def.key}`;
  if (value === null) return null;
  switch (def.kind) {
    case "text":
      if (typeof value !== "string") throw new Invalid(`${def.key} must be text`, field);
      if (value.length > MAX_FIELD_TEXT)
        throw new Invalid(`${def.key} is longer than ${MAX_FIELD_TEXT} characters`, field);
      return value;
    case "number":
      if (typeof value !== "number" || !Number.isFinite(value)) throw new Invalid(`${def.key} must be a number`, field);
      return value;
    case "date":
      if (typeof value !== "string" || !isCalendarDate(value))
        throw new Invalid(`${def.key} must be a date as YYYY-MM-DD`, field);
      return value;
    case "select":
      if (typeof value !== "string" || !def.options.includes(value))
        throw new Invalid(`${def.key} must be one of: ${def.options.join(", ")}`, field);
      return value;
  }
}

/**
 * A ticket's custom fields after `input` is applied to `current` (a merge: a key set to null is
 * cleared). Unknown keys are refused, and every required field must hold a value afterwards.
 */
export function mergeFields(
  defs: FieldDefinition[],
  current: Record<string, TicketFieldValue>,
  input: Record<string, unknown>,
): Record<string, TicketFieldValue> {
  const byKey = new Map(defs.map((d) => [d.key, d]));
  const merged: Record<string, TicketFieldValue> = { ...current };
  for (const [key, value] of Object.entries(input)) {
    const def = byKey.get(key);
    if (!def) throw new Invalid(`No ticket field ${key}`, `fields.${key}`);
    const checked = fieldValue(def, value);
    if (checked === null || checked === "") delete merged[key];
    else merged[key] = checked;
  }
  for (const def of defs)
    if (def.required && (merged[def.key] === undefined || merged[def.key] === null))
      throw new Invalid(`${def.key} is required`, `fields.${def.key}`);
  return merged;
}
