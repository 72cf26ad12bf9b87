import { verifyHmacHex } from "../../platform/crypto.ts";

/**
 * Identity verification: the host site's server signs its user id with the inbox secret
 * (hex HMAC-SHA256), so a visitor cannot claim someone else's account and read their history.
 */
export function verifyVisitorIdentity(inboxSecret: string, userId: string, hash: string) {
  return verifyHmacHex(inboxSecret, userId, hash);
}

/**
 * What the widget's visitor token carries (signed, not encrypted: ids only): workspace, inbox,
 * contact, visitor identity, and when it was issued and expires (milliseconds since the epoch). The
 * issue time lets an agent revoke every token of a contact issued before a moment.
 */
export type VisitorClaims = { w: string; i: string; c: string; v: string; iat: number; exp: number };

/** Well-formed and not expired; a token from before tokens expired (no `exp`) is refused too. */
export function isVisitorClaims(x: unknown, now = Date.now()): x is VisitorClaims {
  const c = x as Partial<VisitorClaims> | undefined;
  return (
    !!c &&
    [c.w, c.i, c.c, c.v].every((s) => typeof s === "string" && s.length > 0) &&
    typeof c.iat === "number" &&
    typeof c.exp === "number" &&
    c.exp > now
  );
}

/** Claims for a new token for this visitor, valid for `days` (VISITOR_TOKEN_DAYS). */
export function visitorClaims(
  ids: Pick<VisitorClaims, "w" | "i" | "c" | "v">,
  days: number,
  now = Date.now(),
): VisitorClaims {
  return { w: ids.w, i: ids.i, c: ids.c, v: ids.v, iat: now, exp: now + Math.round(days * 86_400_000) };
}
