import type { Message, Update } from "grammy/types";
import { z } from "zod";
import type { Identity, NormalizedInbound } from "../../conversations/channel.ts";
import { parseInput } from "../../platform/validation.ts";

/**
 * The parts of a Bot API update this channel reads, named as Telegram (and grammY's `Update` and
 * `Message` types) name them. Checked at the edge: the secret proves who sent the update, not that
 * every field has the shape the code relies on. Unknown fields are dropped.
 */
const FileRef = { file_id: z.string().min(1).max(512), file_size: z.number().int().nonnegative().optional() };
const NamedFile = z.object({
  ...FileRef,
  file_name: z.string().max(255).optional(),
  mime_type: z.string().max(255).optional(),
});
const TelegramUser = z.object({
  id: z.number().int(),
  is_bot: z.boolean(),
  first_name: z.string().max(256),
  last_name: z.string().max(256).optional(),
  username: z.string().max(64).optional(),
  language_code: z.string().max(35).optional(),
});
const TelegramMessage = z.object({
  message_id: z.number().int().nonnegative(),
  date: z.number().int().nonnegative(),
  edit_date: z.number().int().nonnegative().optional(),
  chat: z.object({ id: z.number().int(), type: z.string().max(32) }),
  from: TelegramUser.optional(),
  text: z.string().max(10_000).optional(),
  caption: z.string().max(10_000).optional(),
  photo: z
    .array(z.object({ ...FileRef, width: z.number().int(), height: z.number().int() }))
    .max(20)
    .optional(),
  document: NamedFile.optional(),
  animation: NamedFile.optional(),
  audio: NamedFile.optional(),
  video: NamedFile.optional(),
  voice: z.object({ ...FileRef, mime_type: z.string().max(255).optional() }).optional(),
  video_note: z.object(FileRef).optional(),
  sticker: z.object({ emoji: z.string().max(32).optional() }).optional(),
  location: z.object({ latitude: z.number(), longitude: z.number() }).optional(),
  venue: z.object({ title: z.string().max(512), address: z.string().max(512) }).optional(),
  contact: z
    .object({
      phone_number: z.string().max(64),
      first_name: z.string().max(256),
      last_name: z.string().max(256).optional(),
    })
    .optional(),
});
const TelegramUpdate = z.object({
  update_id: z.number().int().nonnegative(),
  message: TelegramMessage.optional(),
  edited_message: TelegramMessage.optional(),
});

// What grammY types as an update must pass this schema's types: the two cannot drift apart unnoticed.
const _sameShape = (u: Update): z.input<typeof TelegramUpdate> => u;
const _sameMessage = (m: Message): z.input<typeof TelegramMessage> => m;
void _sameShape;
void _sameMessage;

type TelegramMessage = z.output<typeof TelegramMessage>;

/** A file a message carries, to fetch with `getFile` before the message is stored. */
export type TelegramFile = {
  fileId: string;
  name: string;
  contentType: string;
  /** As Telegram announced it; the download is bounded whatever it says. */
  size?: number;
};

export type ParsedUpdate =
  | { kind: "ignored"; reason: string }
  /** `/start` (also `/start <payload>` from a t.me deep link): the greeting's cue, not a question. */
  | {
      kind: "start";
      externalId: string;
      from: Identity;
      languageCode?: string;
      payload?: string;
      sentAt: Date;
      data: Record<string, unknown>;
    }
  | { kind: "message"; inbound: NormalizedInbound; file?: TelegramFile };

/** Kinds of content this channel cannot show, named in the "unsupported" line the agent reads. */
const OTHER_CONTENT = ["poll", "dice", "game", "story", "invoice", "giveaway", "paid_media", "checklist"];

/**
 * A webhook's update → what to do with it. Private chats with people only: messages in groups and
 * channels, from other bots, and update types the webhook did not ask for are acknowledged and ignored.
 * The idempotency key is `<chat_id>:<message_id>`, not the update_id: a retried update carries the same
 * message, the same key names the message an edit refers to, and replies get keys of the same form (in a
 * private chat the two directions share one sequence of message ids, so they never collide).
 */
export function parseUpdate(raw: unknown, inboxId: string): ParsedUpdate {
  const update = parseInput(TelegramUpdate, raw);
  const edited = !update.message && !!update.edited_message;
  const message = update.message ?? update.edited_message;
  if (!message) return { kind: "ignored", reason: "not a message" };
  if (message.chat.type !== "private") return { kind: "ignored", reason: `a ${message.chat.type} chat` };
  if (!message.from || message.from.is_bot) return { kind: "ignored", reason: "not from a person" };
  const rawMessage = (raw as { message?: unknown; edited_message?: unknown })[edited ? "edited_message" : "message"];

  const user = message.from;
  const from = identityOf(user);
  const messageKey = `${message.chat.id}:${message.message_id}`;
  const data: Record<string, unknown> = {
    chatId: String(message.chat.id),
    messageId: message.message_id,
    ...(user.username ? { username: user.username } : {}),
    ...(user.language_code ? { languageCode: user.language_code } : {}),
  };
  const start = !edited ? /^\/start(?:@\w+)?(?:\s+([\s\S]*))?$/.exec(message.text?.trim() ?? "") : null;
  if (start) {
    const payload = start[1]?.trim();
    return {
      kind: "start",
      externalId: messageKey,
      from,
      ...(user.language_code ? { languageCode: user.language_code } : {}),
      ...(payload ? { payload } : {}),
      sentAt: new Date(message.date * 1000),
      data: { ...data, ...(payload ? { payload } : {}) },
    };
  }

  const file = fileOf(message);
  const content = textOf(message, file, rawMessage);
  // An edit arrives as a message of its own, marked so: the agent may have read the first version, and
  // a timeline shows what was said when.
  const editedAt = edited ? (message.edit_date ?? message.date) : undefined;
  const inbound: NormalizedInbound = {
    channel: "telegram",
    channelAccountId: inboxId,
    externalId: editedAt === undefined ? messageKey : `${messageKey}:edited:${editedAt}`,
    from,
    kind: file ? "media" : "text",
    ...(content.text !== undefined ? { text: content.text } : {}),
    sentAt: new Date((editedAt ?? message.date) * 1000),
    data: {
      ...data,
      ...(editedAt !== undefined ? { edited: true, editOf: messageKey } : {}),
      ...content.data,
    },
  };
  return { kind: "message", inbound, ...(file ? { file } : {}) };
}

/** The customer: a Telegram user id (stable, unlike a @username) with the name they go by. */
function identityOf(user: z.output<typeof TelegramUser>): Identity {
  const name = [user.first_name, user.last_name].filter(Boolean).join(" ").trim();
  const displayName = (name || (user.username ? `@${user.username}` : "")).slice(0, 200);
  return { kind: "telegram", value: String(user.id), ...(displayName ? { displayName } : {}) };
}

/**
 * The message's file, if any: the largest size of a photo (Telegram lists sizes smallest first), a
 * voice note as the OGG/Opus Telegram records (browsers play it), or a document, audio, video, video
 * note or animation with the name and type Telegram gives (an animation also carries `document`, so it
 * is looked at first).
 */
function fileOf(m: TelegramMessage): TelegramFile | undefined {
  const id = m.message_id;
  const sized = (f: { file_id: string; file_size?: number }, name: string, contentType: string): TelegramFile => ({
    fileId: f.file_id,
    name,
    contentType,
    ...(f.file_size !== undefined ? { size: f.file_size } : {}),
  });
  if (m.photo?.length) {
    const largest = m.photo.reduce((a, b) =>
      (b.file_size ?? b.width * b.height) >= (a.file_size ?? a.width * a.height) ? b : a,
    );
    return sized(largest, `photo-${id}.jpg`, "image/jpeg");
  }
  if (m.voice) return sized(m.voice, `voice-${id}.ogg`, m.voice.mime_type ?? "audio/ogg");
  if (m.video_note) return sized(m.video_note, `video-note-${id}.mp4`, "video/mp4");
  const named: [NamedFileOf | undefined, string, string][] = [
    [m.animation, `animation-${id}.mp4`, "video/mp4"],
    [m.video, `video-${id}.mp4`, "video/mp4"],
    [m.audio, `audio-${id}.mp3`, "audio/mpeg"],
    [m.document, `document-${id}`, "application/octet-stream"],
  ];
  for (const [f, name, type] of named) if (f) return sized(f, f.file_name?.trim() || name, f.mime_type?.trim() || type);
  return undefined;
}
type NamedFileOf = z.output<typeof NamedFile>;

/**
 * What the agent reads: the text or the file's caption; a shared location or venue as text with a map
 * link; a shared contact as its name and number; for a sticker or anything else without text or file
 * (a poll, a dice roll) an "unsupported" line rather than an empty bubble.
 */
function textOf(
  m: TelegramMessage,
  file: TelegramFile | undefined,
  raw: unknown,
): { text?: string; data?: Record<string, unknown> } {
  const text = (m.text ?? m.caption)?.trim() ? (m.text ?? m.caption) : undefined;
  if (text !== undefined) return { text };
  if (file) return {};
  const place = m.location ?? undefined;
  if (place) {
    const { latitude, longitude } = place;
    const name = m.venue ? `${m.venue.title}, ${m.venue.address} ` : "";
    return {
      text: `📍 ${name}(${latitude}, ${longitude}) https://maps.google.com/?q=${latitude},${longitude}`,
      data: {
        location: { latitude, longitude, ...(m.venue ? { title: m.venue.title, address: m.venue.address } : {}) },
      },
    };
  }
  if (m.contact) {
    const name = [m.contact.first_name, m.contact.last_name].filter(Boolean).join(" ");
    return { text: `👤 ${name}: ${m.contact.phone_number}`, data: { sharedContact: m.contact } };
  }
  if (m.sticker)
    return {
      text: `[Sticker${m.sticker.emoji ? ` ${m.sticker.emoji}` : ""}: stickers cannot be shown here]`,
      data: { unsupported: "sticker" },
    };
  const kind =
    raw && typeof raw === "object" ? OTHER_CONTENT.find((k) => k in (raw as Record<string, unknown>)) : undefined;
  return {
    text: `[Unsupported ${kind ?? "message"}: this content cannot be shown here]`,
    data: { unsupported: kind ?? "unknown" },
  };
}
