import type { z } from "zod";
import { Invalid } from "./errors.ts";

/** Parses domain input with a zod schema; the first problem becomes an `Invalid` naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.map(String).join(".");
  throw new Invalid(field ? `${field}: ${issue.message}` : issue.message, field || undefined);
}
