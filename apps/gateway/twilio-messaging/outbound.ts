import { eq } from "drizzle-orm";
import { TWILIO_API, type TwilioChannelData } from "../../../channels/twilio-messaging/index.ts";
import { PermanentSendError, type OutboundMessage } from "../../../conversations/channel.ts";
import { fileLinkToken } from "../../../conversations/file-link.ts";
import { recipientThrough } from "../../../conversations/opt-out.ts";
import type { Core } from "../../../conversations/transaction.ts";
import { conversations, type OutboxRow } from "../../../db/schema/index.ts";
import type { Keyring } from "../../../platform/crypto.ts";

type Deps = {
  core: Core;
  keyring: Keyring;
  config: { publicUrl?: string; twilioApiBaseUrl?: string };
  /** Where Twilio reaches this node when PUBLIC_URL is unset (the voice channel's own guess). */
  calls: { publicBase: string };
};

const CONTENT_SID = /^HX[0-9a-fA-F]{32}$/;

/**
 * OutboxOptions.prepare for SMS and WhatsApp replies: what the Twilio adapter cannot know by itself.
 * - the number to write to: the one the customer last wrote from through this inbox (a contact may
 *   have several), else the adapter takes the contact's first of the kind;
 * - refused when that identity opted out (STOP): the composer refuses such replies already, but
 *   automatic messages (the queue's wait notice) come this way too, and a carrier fines what follows STOP;
 * - the API base (the inbox's, else TWILIO_API_BASE, else Twilio's; a relative one is this server's own
 *   stand-in, as the demo's) and the status callback URL, naming the reply so an early callback finds it;
 * - a WhatsApp template from the reply's `data.template` ({name, contentSid, variables});
 * - files as signed links (conversations/file-link.ts) Twilio can fetch without signing in.
 */
export function prepareTwilioMessaging(deps: Deps) {
  return async (message: OutboundMessage, row: OutboxRow): Promise<OutboundMessage> => {
    const channel = message.inbox.channel === "whatsapp" ? "whatsapp" : "sms";
    const kind = channel === "whatsapp" ? "whatsapp" : "phone";
    const publicBase = (deps.config.publicUrl ?? deps.calls.publicBase).replace(/\/$/, "");
    const db = deps.core.db;

    const [conversation] = await db
      .select({ contactId: conversations.contactId })
      .from(conversations)
      .where(eq(conversations.id, message.conversationId));
    // The number the composer showed (the one the customer last wrote from), refused again if they
    // opted out after the reply was queued.
    const recipient = conversation
      ? await recipientThrough(db, { workspaceId: row.workspaceId, contactId: conversation.contactId }, message.inbox)
      : undefined;
    const to =
      recipient && message.to.some((i) => i.kind === kind && i.value === recipient.value)
        ? recipient.value
        : message.to.find((i) => i.kind === kind)?.value;
    if (recipient?.optedOutAt && recipient.value === to)
      throw new PermanentSendError(
        `${to} opted out (replied STOP) on ${recipient.optedOutAt.toISOString()}: nothing is sent until they write START`,
      );

    const settingsBase = typeof message.inbox.settings.apiBaseUrl === "string" ? message.inbox.settings.apiBaseUrl : "";
    const base = settingsBase || deps.config.twilioApiBaseUrl || TWILIO_API;
    const twilio: TwilioChannelData = {
      apiBaseUrl: base.startsWith("/") ? `${publicBase}${base}` : base,
      statusCallback: `${publicBase}/webhooks/twilio/messaging/status?item=${row.timelineItemId}`,
      ...(to ? { to } : {}),
      mediaUrls: message.attachments.map(
        (a) =>
          `${publicBase}/files/${a.id}?link=${fileLinkToken(deps.keyring, { id: a.id, workspaceId: row.workspaceId })}`,
      ),
    };

    const given = message.channelData?.template as { contentSid?: unknown; variables?: unknown } | undefined;
    let template: { contentSid: string; variables: Record<string, string> } | undefined;
    if (given) {
      if (channel !== "whatsapp") throw new PermanentSendError("Templates are sent on WhatsApp only");
      if (typeof given.contentSid !== "string" || !CONTENT_SID.test(given.contentSid))
        throw new PermanentSendError("The template has no valid Content SID (HX…)");
      const variables: Record<string, string> = {};
      if (given.variables && typeof given.variables === "object")
        for (const [k, v] of Object.entries(given.variables)) variables[k] = String(v ?? "");
      template = { contentSid: given.contentSid, variables };
    }
    return { ...message, channelData: { ...message.channelData, twilio, ...(template ? { template } : {}) } };
  };
}
