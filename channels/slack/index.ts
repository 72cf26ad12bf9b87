import type { ChannelAdapter } from "../../conversations/channel.ts";
import { sendSlack, type SlackSendOptions } from "./send.ts";

/** The Slack adapter: replies into the customer's thread (send.ts); one per runtime for its API base. */
export function createSlackAdapter(options: SlackSendOptions = {}): ChannelAdapter {
  return {
    channel: "slack",
    capabilities: { text: true, media: true, voice: false, typing: false, readReceipts: false, editWindow: 0 },
    send: (outbound) => sendSlack(outbound, options),
  };
}

export { callSlack, SLACK_API_BASE, slackApiBaseOf, SlackUnavailable } from "./api.ts";
export { envelopeOf, parseMessageEvent, splitThreadKey, teamOf } from "./parse.ts";
export type { SlackDecision, SlackEnvelope, SlackFile, SlackInbound } from "./parse.ts";
export { escapeText } from "./send.ts";
export { SlackSetup, slackInboxOf } from "./setup.ts";
export { MAX_SIGNATURE_AGE_SECONDS, slackSignature, verifySlackSignature } from "./verify.ts";
