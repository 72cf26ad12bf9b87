import { PermanentSendError, type OutboundMessage, type SendResult } from "../../conversations/channel.ts";
import { fetchOutbound, OutboundRefused } from "../../platform/outbound.ts";
import { signedHeaders, type CallbackEvent } from "./payload.ts";

/**
 * What the gateway prepares for one reply (OutboxOptions.prepare, apps/gateway/api/outbound.ts), in
 * `channelData.api`: the reply's item, the contact, and the hosts the outbound-URL policy lets through.
 */
export type ApiCallbackData = {
  itemId: string;
  createdAt: string;
  contact: CallbackEvent["data"]["contact"];
  allowHosts: string[];
};

const TIMEOUT_MS = 10_000;

/**
 * POSTs an agent's reply to the inbox's callback URL, signed with the inbox secret. The event id is the
 * outbox row's, so a resend after a crash or a failed attempt carries the same id (receivers dedupe on
 * it). A non-2xx answer is an error the outbox retries, and the reason it records names the status; a
 * URL the outbound policy refuses, or a missing secret, is permanent.
 */
export async function sendApiCallback(message: OutboundMessage): Promise<SendResult> {
  const callbackUrl = message.inbox.settings.callbackUrl;
  const secret = message.inbox.credentials.secret;
  const prepared = message.channelData?.api as ApiCallbackData | undefined;
  if (typeof callbackUrl !== "string") throw new PermanentSendError("The inbox has no callback URL (callbackUrl)");
  if (typeof secret !== "string") throw new PermanentSendError("The inbox has no signing secret");
  if (!prepared) throw new PermanentSendError("The reply was not prepared for the API channel");
  const event: CallbackEvent = {
    id: message.idempotencyKey,
    type: "message.created",
    createdAt: prepared.createdAt,
    data: {
      conversationId: message.conversationId,
      itemId: prepared.itemId,
      text: message.text,
      attachments: message.attachments,
      contact: prepared.contact,
    },
  };
  const body = JSON.stringify(event);
  let res: Response;
  try {
    res = await fetchOutbound(
      callbackUrl,
      { method: "POST", headers: signedHeaders(secret, body), body, signal: AbortSignal.timeout(TIMEOUT_MS) },
      { allowHosts: prepared.allowHosts },
    );
  } catch (err) {
    if (err instanceof OutboundRefused) throw new PermanentSendError(`Callback URL refused: ${err.message}`);
    throw new Error(`Callback URL unreachable: ${err instanceof Error ? err.message : String(err)}`);
  }
  await res.body?.cancel();
  if (res.status < 200 || res.status > 299) throw new Error(`Callback URL answered HTTP ${res.status}`);
  return { externalId: event.id, status: "delivered" };
}
