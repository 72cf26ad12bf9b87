import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, Env, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { DomainError, Invalid, TooManyRequests, errorBody } from "../../platform/errors.ts";
import { log } from "../../platform/log.ts";
import { nulPath } from "../../platform/validation.ts";

/**
 * The one mapping from errors to HTTP. Validation failures name the field; domain errors carry their
 * own status; anything else is a 500 with no internals in the body.
 */
export function errorResponse(err: unknown, c: Context) {
  if (err instanceof TooManyRequests) {
    c.header("Retry-After", String(err.retryAfterSeconds));
  }
  if (err instanceof DomainError) return c.json(errorBody(err.code, err.message, err.field), err.status);
  if (err instanceof HTTPException) {
    const status = err.status;
    if (status === 400 && /json/i.test(err.message))
      return c.json(errorBody("invalid_json", "Request body is not valid JSON"), 400);
    if (status === 413) return c.json(errorBody("too_large", "Request body is too large"), 413);
    return c.json(errorBody(status === 401 ? "unauthorized" : "bad_request", err.message || "Bad request"), status);
  }
  if (rejectedByDatabase(err)) {
    // A second line behind the edge checks (rejectNul, pathId): input the database cannot take is the
    // client's mistake, not an outage. Logged, since it means an edge check is missing somewhere.
    log.warn("http: input the database rejected", { err, path: c.req.path });
    return c.json(errorBody("invalid", "The request holds a value that cannot be stored or looked up"), 400);
  }
  log.error("http: unhandled error", { err, path: c.req.path });
  return c.json(errorBody("internal", "Internal error"), 500);
}

/**
 * SQLSTATEs meaning "this input is not a value of the column's type": invalid text representation (a
 * non-UUID where a UUID goes), invalid byte sequence (U+0000 in text), untranslatable character
 * (U+0000 in jsonb). Both drivers put the code on the error drizzle wraps.
 */
const INPUT_REJECTED = new Set(["22P02", "22021", "22P05"]);
function rejectedByDatabase(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && INPUT_REJECTED.has(code)) return true;
  }
  return false;
}

const NUL_MESSAGE = "must not contain NUL characters";

/**
 * Refuses U+0000 anywhere in a request's input (path, query values, JSON body strings and keys) with a
 * 400 naming the field: PostgreSQL's text and jsonb cannot store it, so letting it through turns a
 * search, a label or a login into a 500. One check at the edge instead of one per route.
 */
export const rejectNul: MiddlewareHandler = async (c, next) => {
  if (/%00/.test(c.req.url.split("?")[0]!)) throw new Invalid(`path: ${NUL_MESSAGE}`, "path");
  const url = new URL(c.req.url);
  for (const [key, value] of url.searchParams) {
    if (key.includes("\u0000")) throw new Invalid(`query: ${NUL_MESSAGE}`, "query");
    if (value.includes("\u0000")) throw new Invalid(`${key}: ${NUL_MESSAGE}`, key);
  }
  if (c.req.raw.body && /json/i.test(c.req.header("content-type") ?? "")) {
    // A clone: the route's own validator reads the body as usual. JSON can only carry U+0000 escaped.
    const text = await c.req.raw.clone().text();
    if (text.includes("\\u0000")) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined; // malformed JSON: the route's validator answers invalid_json
      }
      const field = nulPath(parsed);
      if (field !== undefined)
        throw new Invalid(field ? `${field}: ${NUL_MESSAGE}` : `body: ${NUL_MESSAGE}`, field || "body");
    }
  }
  await next();
};

type ZodIssueLike = { path: PropertyKey[]; message: string };

/** Hook for every zod-validated input: the first issue becomes `{error:{code:"invalid", field}}`. */
export function validationHook(
  result: { success: true } | { success: false; error: { issues: ZodIssueLike[] } },
  c: Context,
) {
  if (result.success) return;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join(".") || undefined;
  return c.json(
    errorBody("invalid", issue ? `${field ? field + ": " : ""}${issue.message}` : "Invalid input", field),
    400,
  );
}

/** An OpenAPIHono router wired to the shared validation hook. */
export function router<E extends Env>() {
  return new OpenAPIHono<E>({ defaultHook: validationHook as never });
}

/** The error shape, documented on every route of the OpenAPI document. */
export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string(), field: z.string().optional() }) })
  .openapi("Error");

export const errorResponses = {
  400: { description: "Invalid input", content: { "application/json": { schema: ErrorSchema } } },
  401: { description: "Not signed in", content: { "application/json": { schema: ErrorSchema } } },
  404: { description: "Not found", content: { "application/json": { schema: ErrorSchema } } },
} as const;

/** Route documentation pieces shared by every router: a JSON body in, a JSON answer out. */
export const Json = z.record(z.string(), z.unknown());
export const ok = (description: string) => ({
  200: { description, content: { "application/json": { schema: Json } } },
  ...errorResponses,
});
export const created = (description: string) => ({
  201: { description, content: { "application/json": { schema: Json } } },
  ...errorResponses,
});
export const body = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});
export const IdParam = z.object({ id: z.uuid() });
