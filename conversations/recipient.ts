import type { IdentityKind } from "../db/schema/index.ts";

/**
 * Who a reply through an inbox goes to: which of the contact's identities. Shared by the reply's
 * checks (opt-out), the composer's "reply via" list and, in the same way, the SMS/WhatsApp sender
 * (apps/gateway/twilio-messaging/outbound.ts), so the agent is told about the identity that receives it.
 */

/**
 * The identity kind an inbox's messages go to, or null for an inbox that carries no written reply
 * (a phone line: the callback is offered apart). WeChat's kinds each have their own id: an Official
 * Account's OpenID, WeCom's external user id, a Wechaty contact.
 */
export function recipientKindOf(inbox: { channel: string; settings: Record<string, unknown> }): IdentityKind | null {
  switch (inbox.channel) {
    case "sms":
      return "phone";
    case "webchat":
      return "visitor";
    case "voice":
      return null;
    case "wechat":
      return inbox.settings.kind === "wecom" ? "wecom" : inbox.settings.kind === "wechaty" ? "wechaty" : "wechat";
    default:
      // whatsapp, email, slack, telegram, api: the identity kind is the channel's name.
      return inbox.channel as IdentityKind;
  }
}

/** Channels whose customers opt out with STOP (退订) and back in with START. */
export const OPT_OUT_CHANNELS: ReadonlySet<string> = new Set(["sms", "whatsapp"]);

/**
 * The identity a reply goes to: the one the customer last wrote from through the inbox (`lastFrom`, a
 * contact may have several numbers), else their oldest of the kind (the outbox lists identities oldest first).
 */
export function recipientOf<I extends { kind: string; value: string }>(
  identities: I[],
  kind: string,
  lastFrom: string | null,
): I | undefined {
  return (
    (lastFrom ? identities.find((i) => i.kind === kind && i.value === lastFrom) : undefined) ??
    identities.find((i) => i.kind === kind)
  );
}
