import twilio from "twilio";

/**
 * Twilio signs every webhook (HMAC-SHA1 of the full URL and the sorted POST parameters, with the
 * account's auth token). Checked with Twilio's own function, so we verify exactly what Twilio signs.
 * The signature has no timestamp: a replayed webhook verifies, and idempotency makes it harmless.
 */
export function verifyTwilioSignature(
  authToken: string,
  signature: string | undefined,
  url: string,
  params: Record<string, string>,
) {
  if (!signature || !authToken) return false;
  return twilio.validateRequest(authToken, signature, url, params);
}

/** What Twilio would send for these parameters (tests and the simulator sign with it). */
export function twilioSignature(authToken: string, url: string, params: Record<string, string>) {
  return twilio.getExpectedTwilioSignature(authToken, url, params);
}
