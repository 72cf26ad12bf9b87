import type { Keyring } from "../platform/crypto.ts";

/**
 * A link to one stored file that works without signing in, for a provider that must fetch an agent's
 * file itself (Twilio fetches an MMS or WhatsApp reply's MediaUrl). The token names the file, its
 * workspace and an expiry, signed with the server's key: it opens that file and nothing else, and
 * stops working when it expires or the key is retired.
 */
export const FILE_LINK_HOURS = 24;
const PURPOSE = "file-link";

type FileLinkClaims = { p: typeof PURPOSE; f: string; w: string; e: number };

export function fileLinkToken(keyring: Keyring, file: { id: string; workspaceId: string }, now = Date.now()) {
  const claims: FileLinkClaims = { p: PURPOSE, f: file.id, w: file.workspaceId, e: now + FILE_LINK_HOURS * 3_600_000 };
  return keyring.signToken(claims);
}

/** The workspace of the file a link token opens, if it is one and opens `fileId` still; else undefined. */
export function verifyFileLink(keyring: Keyring, token: string, fileId: string, now = Date.now()) {
  const claims = keyring.verifyToken<Partial<FileLinkClaims>>(token);
  if (!claims || claims.p !== PURPOSE || claims.f !== fileId || typeof claims.w !== "string") return undefined;
  if (typeof claims.e !== "number" || claims.e < now) return undefined;
  return claims.w;
}
