/**
 * Typed domain errors, thrown anywhere and mapped to HTTP once (apps/server/http.ts). The JSON shape is
 * always `{ error: { code, message, field? } }`.
 */
export class DomainError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export class Invalid extends DomainError {
  constructor(message: string, field?: string) {
    super(400, "invalid", message, field);
  }
}
export class Unauthorized extends DomainError {
  constructor(message = "Authentication required", field?: string) {
    super(401, "unauthorized", message, field);
  }
}
export class Forbidden extends DomainError {
  constructor(message = "Not allowed") {
    super(403, "forbidden", message);
  }
}
export class NotFound extends DomainError {
  constructor(what: string, field?: string) {
    super(404, "not_found", `${what} not found`, field);
  }
}
export class Conflict extends DomainError {
  constructor(message: string, field?: string) {
    super(409, "conflict", message, field);
  }
}
export class TooLarge extends DomainError {
  constructor(message: string, field?: string) {
    super(413, "too_large", message, field);
  }
}
export class TooManyRequests extends DomainError {
  /** `field` names the limit that was reached when it is not the request rate (an upload quota). */
  constructor(
    readonly retryAfterSeconds: number,
    message?: string,
    field?: string,
  ) {
    super(429, "rate_limited", message ?? `Too many requests; retry after ${retryAfterSeconds}s`, field);
  }
}

export type ErrorBody = { error: { code: string; message: string; field?: string } };

export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: field ? { code, message, field } : { code, message } };
}
