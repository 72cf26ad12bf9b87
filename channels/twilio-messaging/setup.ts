import { z } from "zod";

/**
 * What an admin gives for an SMS or a WhatsApp inbox: the Twilio account that owns the sender and the
 * sender itself. Pure validation; the inbox API proves the account and stores the token sealed.
 */

const E164 = z.string().regex(/^\+[1-9]\d{6,14}$/, "must be an E.164 number like +8613800000000");

/**
 * An approved WhatsApp template (Twilio Content API): the only message WhatsApp lets a business send
 * outside the 24-hour window. `body` is its text with `{{1}}`, `{{2}}`… where the variables go, shown
 * to the agent as a preview.
 */
export const WhatsappTemplate = z.object({
  name: z.string().trim().min(1).max(100),
  contentSid: z.string().regex(/^HX[0-9a-fA-F]{32}$/, "must be a Twilio Content SID (HX…)"),
  language: z.string().trim().min(2).max(20).default("en"),
  body: z.string().trim().min(1).max(1024),
});
export type WhatsappTemplate = z.infer<typeof WhatsappTemplate>;

export const TwilioMessagingSetup = z.object({
  // "whatsapp:+14155238886" and "+14155238886" name the same sender.
  phoneNumber: z.preprocess((v) => (typeof v === "string" ? v.replace(/^whatsapp:/i, "").trim() : v), E164),
  accountSid: z.string().regex(/^AC[0-9a-fA-F]{32}$/, "must be a Twilio Account SID (AC…)"),
  authToken: z.string().min(16).max(100),
  // Twilio's REST API for this inbox (a regional edge, or a stand-in); unset: TWILIO_API_BASE, else Twilio's.
  apiBaseUrl: z
    .url({ protocol: /^https?$/, message: "must be an http(s) URL" })
    .max(500)
    .optional(),
  templates: z.array(WhatsappTemplate).max(100).default([]),
});
export type TwilioMessagingSetup = z.output<typeof TwilioMessagingSetup>;

/** The settings shown to agents (public ids, templates) and the credentials sealed apart. */
export function messagingInboxOf(input: TwilioMessagingSetup) {
  const { authToken, ...settings } = input;
  return { settings, credentials: { authToken } };
}
