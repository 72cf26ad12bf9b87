import type { ChannelAdapter } from "../../conversations/channel.ts";
import { sendApiCallback } from "./send.ts";

export const api: ChannelAdapter = {
  channel: "api",
  capabilities: { text: true, media: false, voice: false, typing: false, readReceipts: false, editWindow: 0 },
  send: sendApiCallback,
};

export {
  ApiInboundMessage,
  ApiSetup,
  identitiesOf,
  signature,
  signedHeaders,
  toInbound,
  verifySignature,
  type CallbackEvent,
} from "./payload.ts";
export type { ApiCallbackData } from "./send.ts";
