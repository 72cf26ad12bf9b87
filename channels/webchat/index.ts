import type { ChannelAdapter } from "../../conversations/channel.ts";
import { sendWebchat } from "./send.ts";

export const webchat: ChannelAdapter = {
  channel: "webchat",
  capabilities: { text: true, media: true, voice: false, typing: true, readReceipts: false, editWindow: 0 },
  send: sendWebchat,
};

export { clientIdOf, parseWidgetMessage, WidgetMessage } from "./parse.ts";
export { verifyVisitorIdentity, isVisitorClaims, visitorClaims, type VisitorClaims } from "./verify.ts";
export { embedSnippet } from "./embed.ts";
