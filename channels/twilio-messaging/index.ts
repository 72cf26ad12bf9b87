import type { ChannelAdapter } from "../../conversations/channel.ts";
import { createMessagingAdapter } from "./send.ts";

/** SMS and WhatsApp through Twilio Messaging: one adapter each, the same Messages API underneath. */
export const sms: ChannelAdapter = createMessagingAdapter("sms");
export const whatsapp: ChannelAdapter = createMessagingAdapter("whatsapp");

export {
  addressOf,
  advances,
  consentChange,
  errorText,
  ERROR_MEANINGS,
  MAX_MEDIA,
  parseInboundMessage,
  parseStatusCallback,
  routeKeyOf,
  textOf,
  toInbound,
  type StatusReport,
  type TwilioMessage,
} from "./parse.ts";
export { createMessagingAdapter, messageForm, TWILIO_API, type TemplateSend, type TwilioChannelData } from "./send.ts";
export { formParams, twilioSignature, verifyTwilioSignature } from "./verify.ts";
