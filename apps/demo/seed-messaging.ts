import { and, eq, sql } from "drizzle-orm";
import { createInbox } from "../../conversations/inbox.ts";
import { inboxes, inboxRoutes } from "../../db/schema/index.ts";
import type { Runtime } from "../server/runtime.ts";
import { MESSAGING_STAND_IN_PATH } from "./twilio-messaging-stand-in.ts";

/**
 * The demo's SMS and WhatsApp inboxes (a public contract): one Twilio account whose webhooks are signed
 * with the auth token below, so messages can be sent in with curl as docs/channels/sms-whatsapp.md shows.
 * Replies go to TWILIO_API_BASE when it is set; without it, to the demo's built-in stand-in
 * (twilio-messaging-stand-in.ts), which records them and reports them delivered.
 */
export const DEMO_TWILIO_MESSAGING = {
  accountSid: "AC00000000000000000000000000000000",
  authToken: "demo-twilio-token",
  smsNumber: "+15005550006",
  /** Twilio's WhatsApp sandbox number. */
  whatsappNumber: "+14155238886",
  templates: [
    {
      name: "Order shipped",
      contentSid: "HX0123456789abcdef0123456789abcdef",
      language: "en",
      body: "Hi {{1}}, your order {{2}} has shipped. Reply here if you have any questions.",
    },
    {
      name: "订单已发货",
      contentSid: "HXfedcba9876543210fedcba9876543210",
      language: "zh-CN",
      body: "{{1}}您好，您的订单 {{2}} 已发货。如有疑问，请直接回复本消息。",
    },
  ],
} as const;

/**
 * Adds the demo SMS and WhatsApp inboxes where missing (unless another inbox holds their numbers), and
 * points them at the stand-in or at TWILIO_API_BASE, as this start's configuration says. Seeded, so
 * their routing keys are proven at once. The General queue's catch-all entry rule routes them.
 */
export async function ensureDemoMessagingInboxes(rt: Runtime, workspaceId: string) {
  const { accountSid, authToken, smsNumber, whatsappNumber, templates } = DEMO_TWILIO_MESSAGING;
  const apiBase = rt.config.twilioApiBaseUrl ? {} : { apiBaseUrl: MESSAGING_STAND_IN_PATH };
  for (const [channel, phoneNumber, name] of [
    ["sms", smsNumber, "SMS +1 500-555-0006"],
    ["whatsapp", whatsappNumber, "WhatsApp"],
  ] as const) {
    const key = `${accountSid}:${phoneNumber}`.toLowerCase();
    const [held] = await rt.core.db
      .select({ inboxId: inboxRoutes.inboxId, workspaceId: inboxRoutes.workspaceId })
      .from(inboxRoutes)
      .where(and(eq(inboxRoutes.kind, channel), eq(inboxRoutes.key, key)));
    if (!held) {
      await createInbox(rt.core.db, rt.keyring, {
        workspaceId,
        channel,
        name,
        settings: {
          phoneNumber,
          accountSid,
          ...apiBase,
          ...(channel === "whatsapp" ? { templates: templates.map((t) => ({ ...t })) } : {}),
        },
        credentials: { authToken },
      });
      continue;
    }
    if (held.workspaceId !== workspaceId) continue;
    // The demo inbox follows TWILIO_API_BASE as set for this start (the stand-in when unset).
    await rt.core.db
      .update(inboxes)
      .set({
        settings: rt.config.twilioApiBaseUrl
          ? sql`${inboxes.settings} - 'apiBaseUrl'`
          : sql`${inboxes.settings} || ${JSON.stringify(apiBase)}::jsonb`,
      })
      .where(eq(inboxes.id, held.inboxId));
  }
}
