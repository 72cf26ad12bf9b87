import { OPT_OUT_CHANNELS, recipientKindOf, recipientOf } from "./recipient.ts";
import { replyWindowAt, replyWindowRuleOf } from "./reply-window.ts";
import { templatesOf, type WhatsappTemplate } from "./reply-template.ts";

/**
 * "Reply via": every way an agent can answer a contact, each inbox of the workspace that reaches one of
 * the contact's identities, with whether a message can go now (a reply window, an opt-out). Pure over
 * rows read in reply-window-of.ts.
 */

export type ReplyOptionState = "open" | "window_closed" | "opted_out" | "no_window_yet";

export type ReplyOption = {
  inboxId: string;
  inboxName: string;
  channel: string;
  to: { kind: string; value: string };
  state: ReplyOptionState;
  /** Windowed channels (WhatsApp, WeChat): when free-form replies stop being accepted. */
  closesAt?: string;
  optedOutAt?: string;
  /** WhatsApp: the inbox's approved templates, for the picker. */
  templates?: WhatsappTemplate[];
};

export type OptionIdentity = { kind: string; value: string; optedOutAt: Date | null };
export type OptionInbox = {
  id: string;
  name: string;
  channel: string;
  settings: Record<string, unknown>;
  /** The contact's last message through this inbox, in any of their conversations, and whom it came from. */
  lastInboundAt: Date | null;
  lastFrom: string | null;
};

/**
 * Channels that reach anyone with the right address. The others (a chat widget, a bot, an app, a
 * WeChat account) reach a customer only through the account they wrote to: those inboxes are offered
 * only once the contact has written through them (or it is the conversation's own).
 */
const ADDRESSABLE = new Set(["sms", "whatsapp", "email"]);

export function replyOptions(
  identities: OptionIdentity[],
  inboxes: OptionInbox[],
  currentInboxId: string,
  now: Date,
): ReplyOption[] {
  const options: ReplyOption[] = [];
  for (const inbox of inboxes) {
    const kind = recipientKindOf(inbox);
    const to = kind ? recipientOf(identities, kind, inbox.lastFrom) : undefined;
    if (!to) continue;
    if (!ADDRESSABLE.has(inbox.channel) && inbox.id !== currentInboxId && !inbox.lastInboundAt) continue;
    const option: ReplyOption = {
      inboxId: inbox.id,
      inboxName: inbox.name,
      channel: inbox.channel,
      to: { kind: to.kind, value: to.value },
      state: "open",
    };
    const rule = replyWindowRuleOf(inbox);
    if (rule) {
      const window = replyWindowAt(rule, inbox.lastInboundAt, now);
      option.state = !window.closesAt ? "no_window_yet" : window.open ? "open" : "window_closed";
      if (window.closesAt) option.closesAt = window.closesAt.toISOString();
    }
    if (OPT_OUT_CHANNELS.has(inbox.channel) && to.optedOutAt) {
      option.state = "opted_out";
      option.optedOutAt = to.optedOutAt.toISOString();
    }
    if (inbox.channel === "whatsapp") option.templates = templatesOf(inbox.settings);
    options.push(option);
  }
  // The conversation's own inbox first: it is what the composer starts with.
  return options.sort((a, b) => Number(b.inboxId === currentInboxId) - Number(a.inboxId === currentInboxId));
}
