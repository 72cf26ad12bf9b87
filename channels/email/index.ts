import type { ChannelAdapter } from "../../conversations/channel.ts";
import { sendEmail } from "./send.ts";

export const email: ChannelAdapter = {
  channel: "email",
  capabilities: { text: true, media: true, voice: false, typing: false, readReceipts: false, editWindow: 0 },
  send: sendEmail,
};

export { parseEmail, toInbound, UnreadableMail, type AttachmentSink, type ParsedEmail, type Address } from "./parse.ts";
export { EmailEnvelope, closeTransports, textToHtml } from "./send.ts";
export { EmailSettings, EmailCredentials, emailSettingsOf } from "./settings.ts";
export {
  chooseThread,
  conversationOfToken,
  messageIdList,
  normalizeMessageId,
  normalizeSubject,
  replyAddress,
  splitPlusAddress,
  DEFAULT_THREAD_SETTINGS,
} from "./threading.ts";
export { sanitizeEmailHtml } from "./sanitize.ts";
export { splitQuoted } from "./quote.ts";
