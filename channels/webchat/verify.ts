import { verifyHmacHex } from "../../platform/crypto.ts";

/**
 * Identity verification: the host site's server signs its user id with the inbox secret
 * (hex HMAC-SHA256), so a visitor cannot claim someone else's account and read their history.
 */
export function verifyVisitorIdentity(inboxSecret: string, userId: string, hash: string) {
  return verifyHmacHex(inboxSecret, userId, hash);
}

/** What the widget's visitor token carries (signed, not encrypted: ids only). */
export type VisitorClaims = { w: string; i: string; c: string; v: string };

export function isVisitorClaims(x: unknown): x is VisitorClaims {
  const c = x as Partial<VisitorClaims> | undefined;
  return !!c && [c.w, c.i, c.c, c.v].every((s) => typeof s === "string" && s.length > 0);
}
