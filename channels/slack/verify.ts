import { createHmac, timingSafeEqual } from "node:crypto";

/** Slack refuses to replay older requests itself; a request signed longer ago than this is refused. */
export const MAX_SIGNATURE_AGE_SECONDS = 5 * 60;

/** `v0=<hex HMAC-SHA256 of "v0:<timestamp>:<raw body>">` with the app's signing secret, as Slack signs. */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: string) {
  return `v0=${createHmac("sha256", signingSecret).update(`v0:${timestamp}:${rawBody}`).digest("hex")}`;
}

export type SlackSignatureCheck = { ok: true } | { ok: false; reason: string };

/**
 * Checks `X-Slack-Signature` against the raw body (before any parsing: a re-serialised body would not
 * match) in constant time, and refuses timestamps more than five minutes away (replays).
 */
export function verifySlackSignature(
  signingSecret: string,
  headers: { timestamp: string | undefined; signature: string | undefined },
  rawBody: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): SlackSignatureCheck {
  const { timestamp, signature } = headers;
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: "X-Slack-Request-Timestamp is missing" };
  if (Math.abs(nowSeconds - Number(timestamp)) > MAX_SIGNATURE_AGE_SECONDS)
    return { ok: false, reason: "X-Slack-Request-Timestamp is more than 5 minutes old" };
  if (!signature) return { ok: false, reason: "X-Slack-Signature is missing" };
  const expected = Buffer.from(slackSignature(signingSecret, timestamp, rawBody));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given))
    return { ok: false, reason: "X-Slack-Signature does not match" };
  return { ok: true };
}
