import type { OutboundMessage, SendResult } from "../../conversations/channel.ts";

/**
 * Web chat has no provider: the visitor's widget receives the reply over its realtime socket from the
 * committed event, so sending only acknowledges. The outbox row id stands in as the external id.
 */
export async function sendWebchat(outbound: OutboundMessage): Promise<SendResult> {
  return { externalId: outbound.idempotencyKey, status: "sent" };
}
