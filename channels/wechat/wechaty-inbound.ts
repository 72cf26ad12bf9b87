import { MAX_TEXT, PermanentSendError, type Identity, type NormalizedInbound } from "../../conversations/channel.ts";

/**
 * A Wechaty inbox's messages, as plain data: the runner (apps/gateway/wechat/wechaty-bot.ts) reads
 * these facts off Wechaty's objects, so what becomes of a message is decided here without a bot.
 *
 * Rooms (群聊) are one conversation each: the room itself is the conversation's contact, with the
 * identity `wechaty` = `room:<roomId>` and the room's topic as its name; who said what is on each
 * message (`data.senderName`, `data.wechaty.memberId`), and the members are the conversation's
 * participants. A reply to that conversation is said in the room. A direct chat's contact has the
 * identity `wechaty` = the Wechaty contact id, which is also how a room member is known, so a member
 * who writes to the bot directly is the same contact.
 */
export type WechatyMessageFacts = {
  id: string;
  /** Wechaty's message type number (wechaty-puppet's `types.Message`). */
  type: number;
  text: string;
  /** Sent by the bot's own account (from another device, or the bot's replies echoed back). */
  self: boolean;
  talker: { id: string; name: string };
  room?: { id: string; topic: string };
  sentAt?: Date;
  /** An attachment's file name, when Wechaty knows it. */
  fileName?: string;
};

/** wechaty-puppet's `types.Message` numbers, which puppets share; named so `data` reads plainly. */
const TYPE_NAMES: Record<number, string> = {
  0: "unknown",
  1: "attachment",
  2: "audio",
  3: "contact",
  4: "chat_history",
  5: "emoticon",
  6: "image",
  7: "text",
  8: "location",
  9: "mini_program",
  10: "group_note",
  11: "transfer",
  12: "red_envelope",
  13: "recalled",
  14: "url",
  15: "video",
  16: "post",
};

/** What agents see for messages without text, in the words WeChat itself shows. */
const PLACEHOLDERS: Record<string, string> = {
  image: "[图片]",
  audio: "[语音]",
  video: "[视频]",
  attachment: "[文件]",
  emoticon: "[表情]",
  contact: "[名片]",
  chat_history: "[聊天记录]",
  location: "[位置]",
  mini_program: "[小程序]",
  transfer: "[转账]",
  red_envelope: "[红包]",
  recalled: "[撤回了一条消息]",
  post: "[动态]",
};

const MEDIA = new Set(["image", "audio", "video", "attachment", "emoticon"]);

export const ROOM_PREFIX = "room:";

export const wechatyTypeName = (type: number) => TYPE_NAMES[type] ?? "unknown";

function clipped(text: string) {
  return text.length > MAX_TEXT ? { text: `${text.slice(0, MAX_TEXT - 20)}…[已截断]`, truncated: true } : { text };
}

/** The text a message shows in the timeline: its own text, or a placeholder naming what it was. */
function textOf(m: WechatyMessageFacts, type: string): { text: string; truncated?: boolean; unsupported?: boolean } {
  if (type === "text" || type === "group_note") return clipped(m.text || " ");
  if (type === "url") return clipped(m.text ? `[链接] ${m.text}` : "[链接]");
  if (type === "attachment" && m.fileName) return { text: `[文件] ${m.fileName}` };
  const placeholder = PLACEHOLDERS[type];
  if (placeholder) return { text: placeholder };
  return { text: `[不支持的消息类型: ${type}]`, unsupported: true };
}

/**
 * A message as the core ingests it, or undefined for the bot's own messages (its replies come back
 * as messages too, and are already in the timeline as the agent's).
 */
export function wechatyInbound(m: WechatyMessageFacts, inboxId: string): NormalizedInbound | undefined {
  if (m.self) return undefined;
  const type = wechatyTypeName(m.type);
  const { text, ...flags } = textOf(m, type);
  const member = { memberId: m.talker.id, memberName: m.talker.name || m.talker.id };
  const from: Identity = m.room
    ? { kind: "wechaty", value: `${ROOM_PREFIX}${m.room.id}`, displayName: (m.room.topic || "群聊").slice(0, 200) }
    : { kind: "wechaty", value: m.talker.id, displayName: (m.talker.name || m.talker.id).slice(0, 200) };
  return {
    channel: "wechat",
    channelAccountId: inboxId,
    externalId: m.id,
    from,
    kind: MEDIA.has(type) ? "media" : "text",
    text,
    sentAt: m.sentAt,
    data: {
      msgType: type,
      ...flags,
      ...(m.room
        ? { senderName: member.memberName, wechaty: { roomId: m.room.id, topic: m.room.topic, ...member } }
        : { wechaty: member }),
    },
  };
}

export type WechatyTarget = { kind: "room" | "contact"; id: string };

/** Where a reply goes: the room of a room's conversation, else the contact's own chat. */
export function wechatyTargetOf(to: Pick<Identity, "kind" | "value">[]): WechatyTarget {
  const identity = to.find((i) => i.kind === "wechaty");
  if (!identity)
    throw new PermanentSendError(
      "This contact has no WeChat account the bot knows (no wechaty identity) / 该联系人没有微信号",
    );
  return identity.value.startsWith(ROOM_PREFIX)
    ? { kind: "room", id: identity.value.slice(ROOM_PREFIX.length) }
    : { kind: "contact", id: identity.value };
}
