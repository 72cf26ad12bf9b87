import type { z } from "zod";
import { Invalid, NotFound } from "./errors.ts";

/** Parses domain input with a zod schema; the first problem becomes an `Invalid` naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map(String).join(".");
  throw new Invalid(field ? `${field}: ${issue.message}` : issue.message, field || undefined);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Every id of ours is a UUID; the database would reject anything else with an error, not an empty answer. */
export const isUuid = (value: string) => UUID.test(value);

/**
 * An id taken from a URL path: one that is not a UUID names nothing, so it is "not found" before any
 * query runs (the same answer a well-formed id of nothing gets).
 */
export function pathId(value: string | undefined, what: string, field = "id"): string {
  if (!value || !isUuid(value)) throw new NotFound(what, field);
  return value;
}

/**
 * Where `value` (a parsed JSON body) holds a U+0000, as a dotted path ("" for the value itself or a key
 * at its top), or undefined. PostgreSQL's text and jsonb cannot store that character: it must be refused at the edge.
 */
export function nulPath(value: unknown, path = ""): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const at = nulPath(v, path ? `${path}.${i}` : String(i));
      if (at !== undefined) return at;
    }
    return undefined;
  }
  if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      // A key with U+0000 is named by the object holding it: the key itself cannot be shown.
      if (k.includes("\u0000")) return path;
      const inner = nulPath(v, path ? `${path}.${k}` : k);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}
