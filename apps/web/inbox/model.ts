import type { SlaView } from "./sla-clock.tsx";
/**
 * The shapes the inbox reads, taken from the server's own view functions so they are written once.
 * Fields the list adds to a conversation (unread, SLA) are optional: realtime events carry the bare view.
 */
import type { conversationView } from "../../../conversations/conversation.ts";
import type { TimelineView } from "../../../conversations/timeline.ts";
import type { CallView } from "../../inbox/voice.ts";
import type { participantsOf } from "../../inbox/email.ts";
import type { listHeldBack } from "../../../mailboxes/held-back.ts";
import type { channels, identityKinds, presences, roles } from "../../../db/schema/index.ts";
import type { WechatKind, WechatMode, WechatyPuppet } from "../../../channels/wechat/setup.ts";
import type { ReplyWindowView } from "../../../conversations/reply-window-of.ts";
import type { ReplyOption as ReplyOptionView } from "../../../conversations/reply-options.ts";

export type Channel = (typeof channels)[number];
export type IdentityKind = (typeof identityKinds)[number];
export type Presence = (typeof presences)[number];
export type Role = (typeof roles)[number];
export type Item = TimelineView;
/** Someone else on an email conversation (Cc'd), a contact of their own. */
export type Participant = Awaited<ReturnType<typeof participantsOf>>[number];
/** A mail the spam view lists. */
export type HeldBackMail = Awaited<ReturnType<typeof listHeldBack>>[number];
export type Call = CallView;

/**
 * When the channel lets an agent reply (WeChat: 48 hours after the customer's last message; WhatsApp:
 * 24 hours), and the other ways to reach the contact once it has closed.
 */
export type ReplyWindow = ReplyWindowView;
/** One way to answer the contact ("reply via"): an inbox, who it reaches, and whether a message can go now. */
export type ReplyOption = ReplyOptionView;
export type WhatsappTemplate = NonNullable<ReplyOption["templates"]>[number];

export type Conversation = ReturnType<typeof conversationView> & {
  /** Only `GET /conversations/{id}` has it; null when the channel has no window. */
  replyWindow?: ReplyWindow | null;
  /** Only `GET /conversations/{id}` has them: every inbox that reaches the contact, the conversation's own first. */
  replyOptions?: ReplyOption[];
  waitingSince?: string | null;
  slaDueAt?: string | null;
  /** Its SLA clocks (sla/view.ts); null when no policy applies. */
  sla?: SlaView | null;
  unread?: number;
  contact: { id: string; name: string | null; handle?: string | null };
};

export type Me = {
  id: string;
  name: string;
  email?: string;
  role: Role;
  workspaceId: string;
  teamIds: string[];
  workspace?: { id: string; name: string; slug?: string };
};

export type Offer = {
  workItemId: string;
  conversationId: string;
  queueId: string;
  channel: Channel;
  agentId: string;
  state: string;
  expiresAt: string | null;
};

export type PresenceState = {
  userId: string;
  presence: Presence;
  reason: string | null;
  since: string;
  wrapUpUntil: string | null;
};
export type Inbox = {
  id: string;
  name: string;
  channel: Channel;
  createdAt: string;
  publicKey?: string;
  embedSnippet?: string;
  /** WeChat inboxes: which of the three, their public ids, and where WeChat pushes (not for Wechaty). */
  kind?: WechatKind;
  appId?: string;
  mode?: WechatMode;
  corpId?: string;
  openKfid?: string;
  servicerUserId?: string;
  puppet?: WechatyPuppet;
  webhookUrl?: string;
};
export type Person = { id: string; name: string; role: Role };
export type Team = { id: string; name: string; members: { id: string; name: string }[] };
export type Queue = {
  id: string;
  name: string;
  channels: Channel[];
  requiredSkills: { skill: string; minLevel?: number }[];
  serviceLevelSeconds: number;
  maxWaitSeconds: number | null;
  offerTimeoutSeconds: number | null;
  wrapUpSeconds: number | null;
  [k: string]: unknown;
};
export type Canned = { id: string; shortcut: string; title: string; body: string };
/** `optedOutAt`: the customer replied STOP (SMS, WhatsApp) and gets nothing there until START. */
export type Identity = { id: string; kind: IdentityKind; value: string; optedOutAt?: string | null };
export type ContactProfile = {
  id: string;
  name: string | null;
  attributes: Record<string, unknown>;
  identities: Identity[];
  conversations: {
    id: string;
    status: string;
    channel: Channel;
    lastMessageText: string | null;
    lastActivityAt: string;
  }[];
  notes?: { id: string; text: string; author: { id: string; name: string } | null; createdAt: string }[];
};

/** Which channels can reach a contact through which of their identities. */
export const channelsFor: Record<IdentityKind, Channel[]> = {
  visitor: ["webchat"],
  email: ["email"],
  // A WhatsApp user has a "whatsapp" identity of their own (opting out of one leaves the other).
  phone: ["voice", "sms"],
  whatsapp: ["whatsapp"],
  wechat: ["wechat"],
  // A UnionID joins a person's OpenIDs; messages go to an OpenID, not to it.
  wechat_unionid: [],
  wecom: ["wechat"],
  wechaty: ["wechat"],
  slack: ["slack"],
  telegram: ["telegram"],
  api: ["api"],
};

export const channelIcon: Record<Channel, string> = {
  webchat: "💬",
  email: "✉️",
  voice: "📞",
  wechat: "🟢",
  slack: "#",
  sms: "✆",
  whatsapp: "🟩",
  telegram: "✈️",
  api: "⚙️",
};

/**
 * What to call a contact: their name, else a handle a person can read (phone, email); a web
 * visitor's generated id ("anon:…") means nothing to an agent, so it reads as "Visitor".
 */
export function contactLabel(contact: { name: string | null; handle?: string | null }, anonymous: string) {
  if (contact.name) return contact.name;
  if (contact.handle && !contact.handle.startsWith("anon:")) return contact.handle;
  return anonymous;
}

/**
 * Who a call is with, for headings: the number, or — for a chat visitor calling from the widget
 * through Twilio, whose address is a Voice SDK identity (`client:…`) — `visitor`.
 */
export const callParty = (call: { from?: string | null; to?: string | null }, visitor: string) => {
  const party = call.from ?? call.to ?? "";
  return party.startsWith("client:") ? visitor : party;
};
