import { PermanentSendError, type ChannelAdapter } from "../../conversations/channel.ts";

/**
 * Voice carries calls, not text: the outbox never has anything to send through it, and a reply an
 * agent addresses to a voice inbox fails at once with a reason they can act on.
 */
export const voice: ChannelAdapter = {
  channel: "voice",
  capabilities: { text: false, media: false, voice: true, typing: false, readReceipts: false, editWindow: 0 },
  async send() {
    throw new PermanentSendError(
      "A phone call cannot carry a written reply: reply through a chat, email or messaging inbox",
    );
  },
};

export { IvrFlow, checkFlow, queuesOf, type IvrNode } from "./flow.ts";
export { runIvr, startState, type IvrStep, type IvrContext } from "./ivr.ts";
export { verifyTwilioSignature, twilioSignature } from "./verify.ts";
export { TwilioRest, type TwilioAccount } from "./rest.ts";
