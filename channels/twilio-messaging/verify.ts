/**
 * Twilio signs messaging webhooks exactly as it signs voice ones (HMAC-SHA1 of the full URL and the
 * sorted POST parameters, keyed with the account's auth token): one implementation, the voice
 * channel's, which checks with Twilio's own library.
 */
export { twilioSignature, verifyTwilioSignature } from "../voice/verify.ts";
export { formParams } from "../voice/parse.ts";
