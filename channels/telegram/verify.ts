import { createHash, timingSafeEqual } from "node:crypto";

/** The header Telegram puts the webhook's `secret_token` in, on every update it posts. */
export const SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token";

/**
 * Whether an update came with the inbox's secret. Telegram signs nothing: the secret, given to
 * `setWebhook` and sent back verbatim, is the whole proof. Both sides are hashed first so the
 * comparison takes the same time whatever the given value's length.
 */
export function verifySecretToken(expected: string, given: string | null | undefined): boolean {
  if (!given || !expected) return false;
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(expected), digest(given));
}
