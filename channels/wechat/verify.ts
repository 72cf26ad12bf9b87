import { createHash, timingSafeEqual } from "node:crypto";

/**
 * WeChat signs a push with the inbox's token (no HMAC): sha1 of the parameters sorted as strings and
 * joined without separators. Official Accounts and WeCom share the scheme.
 */
function sortedSha1(parts: string[]): string {
  return createHash("sha1")
    .update([...parts].sort().join(""))
    .digest("hex");
}

/**
 * The `signature` query parameter of URL verification (`GET`) and of plaintext pushes. It covers
 * neither the body nor anything per message but the nonce, so a captured push can be replayed with a
 * new body: the time window below and the gateway's nonce check are what make it hold.
 */
export function plainSignature(token: string, timestamp: string, nonce: string): string {
  return sortedSha1([token, timestamp, nonce]);
}

/**
 * `msg_signature`: safe and compatible mode pushes of Official Accounts, and every WeCom callback
 * (including WeCom's `GET` verification, where `encrypt` is the encrypted `echostr`). It covers the
 * `Encrypt` element, so the ciphertext cannot be swapped.
 */
export function messageSignature(token: string, timestamp: string, nonce: string, encrypt: string): string {
  return sortedSha1([token, timestamp, nonce, encrypt]);
}

export type PushParameter = "token" | "timestamp" | "nonce" | "signature" | "encrypt";

export type PushVerdict =
  | { ok: true }
  | { ok: false; reason: "missing-parameter"; parameter: PushParameter }
  | { ok: false; reason: "bad-signature" }
  | { ok: false; reason: "malformed-timestamp" }
  | { ok: false; reason: "timestamp-outside-window"; skewSeconds: number };

export type PushToVerify = {
  /** The inbox's token, as typed into WeChat's console. */
  token: string;
  /** Seconds since the epoch, as WeChat sends it (a query parameter, so a string). */
  timestamp: string | undefined;
  nonce: string | undefined;
  /** `msg_signature` when `encrypt` is given, `signature` otherwise. */
  signature: string | undefined;
  /** The `Encrypt` element of a safe/compatible mode body, or WeCom's encrypted `echostr`. */
  encrypt?: string;
  /** Milliseconds since the epoch. */
  now: number;
  maxSkewSeconds?: number;
};

const TIMESTAMP = /^\d{1,12}$/;

/**
 * Is this push WeChat's, and recent? Refusing old timestamps bounds how long a captured push stays
 * usable; refusing a repeated nonce inside the window needs storage shared by the nodes, so that is
 * the gateway's job, not this function's.
 */
export function verifyPush(push: PushToVerify): PushVerdict {
  const { token, timestamp, nonce, signature, encrypt, now, maxSkewSeconds = 300 } = push;
  if (!token) return { ok: false, reason: "missing-parameter", parameter: "token" };
  if (!timestamp) return { ok: false, reason: "missing-parameter", parameter: "timestamp" };
  if (!nonce) return { ok: false, reason: "missing-parameter", parameter: "nonce" };
  if (!signature) return { ok: false, reason: "missing-parameter", parameter: "signature" };
  if (encrypt !== undefined && !encrypt) return { ok: false, reason: "missing-parameter", parameter: "encrypt" };

  const expected =
    encrypt === undefined
      ? plainSignature(token, timestamp, nonce)
      : messageSignature(token, timestamp, nonce, encrypt);
  if (!sameSignature(expected, signature)) return { ok: false, reason: "bad-signature" };

  if (!TIMESTAMP.test(timestamp)) return { ok: false, reason: "malformed-timestamp" };
  const skewSeconds = Number(timestamp) - Math.floor(now / 1000);
  if (Math.abs(skewSeconds) > maxSkewSeconds) return { ok: false, reason: "timestamp-outside-window", skewSeconds };
  return { ok: true };
}

function sameSignature(expectedHex: string, givenHex: string): boolean {
  const expected = Buffer.from(expectedHex, "utf8");
  const given = Buffer.from(givenHex.toLowerCase(), "utf8");
  return given.length === expected.length && timingSafeEqual(given, expected);
}
