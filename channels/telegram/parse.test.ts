import { describe, expect, it } from "bun:test";
import type { Update } from "grammy/types";
import { DEFAULT_GREETING, greetingFor } from "./greeting.ts";
import { parseUpdate } from "./parse.ts";

const INBOX = "3f8e1c52-4b8a-4d3e-9a57-2c1f0e9b6a10";
const ada = { id: 42, is_bot: false, first_name: "Ada", last_name: "Lovelace", username: "ada", language_code: "en" };
const message = (content: Record<string, unknown>, from: Record<string, unknown> = ada) =>
  ({
    update_id: 900,
    message: {
      message_id: 7,
      date: 1_700_000_000,
      chat: { id: 42, type: "private", first_name: "Ada" },
      from,
      ...content,
    },
  }) as unknown as Update;

describe("parseUpdate", () => {
  it("turns a private text message into an inbound keyed <chat_id>:<message_id>, from the user's id", () => {
    const parsed = parseUpdate(message({ text: "Where is my order?" }), INBOX);
    expect(parsed).toEqual({
      kind: "message",
      inbound: {
        channel: "telegram",
        channelAccountId: INBOX,
        externalId: "42:7",
        from: { kind: "telegram", value: "42", displayName: "Ada Lovelace" },
        kind: "text",
        text: "Where is my order?",
        sentAt: new Date(1_700_000_000_000),
        data: { chatId: "42", messageId: 7, username: "ada", languageCode: "en" },
      },
    });
  });

  it("names a user without a first or last name by @username", () => {
    const parsed = parseUpdate(
      message({ text: "hi" }, { id: 43, is_bot: false, first_name: "", username: "bob" }),
      INBOX,
    );
    expect(parsed.kind === "message" && parsed.inbound.from.displayName).toBe("@bob");
  });

  it("takes the largest photo size, with the caption as text", () => {
    const parsed = parseUpdate(
      message({
        caption: "broken",
        photo: [
          { file_id: "s", file_unique_id: "s", width: 90, height: 90, file_size: 1_000 },
          { file_id: "l", file_unique_id: "l", width: 1280, height: 1280, file_size: 90_000 },
          { file_id: "m", file_unique_id: "m", width: 320, height: 320, file_size: 9_000 },
        ],
      }),
      INBOX,
    );
    expect(parsed.kind).toBe("message");
    if (parsed.kind !== "message") return;
    expect(parsed.file).toEqual({ fileId: "l", name: "photo-7.jpg", contentType: "image/jpeg", size: 90_000 });
    expect(parsed.inbound).toMatchObject({ kind: "media", text: "broken" });
  });

  it("keeps a voice note's OGG type, a document's name and type, and an animation before its document copy", () => {
    const file = (content: Record<string, unknown>) => {
      const parsed = parseUpdate(message(content), INBOX);
      return parsed.kind === "message" ? parsed.file : undefined;
    };
    expect(file({ voice: { file_id: "v", file_unique_id: "v", duration: 2, mime_type: "audio/ogg" } })).toEqual({
      fileId: "v",
      name: "voice-7.ogg",
      contentType: "audio/ogg",
    });
    expect(
      file({ document: { file_id: "d", file_unique_id: "d", file_name: "a.pdf", mime_type: "application/pdf" } }),
    ).toMatchObject({ name: "a.pdf", contentType: "application/pdf" });
    expect(file({ document: { file_id: "d", file_unique_id: "d" } })).toMatchObject({
      name: "document-7",
      contentType: "application/octet-stream",
    });
    const gif = { file_id: "g", file_unique_id: "g", width: 1, height: 1, duration: 1, mime_type: "video/mp4" };
    expect(file({ animation: gif, document: { file_id: "g", file_unique_id: "g" } })).toMatchObject({
      fileId: "g",
      name: "animation-7.mp4",
    });
  });

  it("reads /start (with a deep-link payload or the bot's name) as the greeting's cue", () => {
    expect(parseUpdate(message({ text: "/start" }), INBOX)).toMatchObject({ kind: "start", externalId: "42:7" });
    expect(parseUpdate(message({ text: "/start@acme_bot promo-7" }), INBOX)).toMatchObject({
      kind: "start",
      payload: "promo-7",
      languageCode: "en",
    });
    expect(parseUpdate(message({ text: "/started it" }), INBOX).kind).toBe("message");
    expect(parseUpdate(message({ text: "please /start" }), INBOX).kind).toBe("message");
  });

  it("shows a location, a venue and a shared contact as text; a sticker or a poll as an unsupported line", () => {
    const text = (content: Record<string, unknown>) => {
      const parsed = parseUpdate(message(content), INBOX);
      return parsed.kind === "message" ? [parsed.inbound.text, parsed.inbound.data?.unsupported] : [];
    };
    expect(text({ location: { latitude: 1.5, longitude: 2 } })).toEqual([
      "📍 (1.5, 2) https://maps.google.com/?q=1.5,2",
      undefined,
    ]);
    expect(text({ location: { latitude: 1, longitude: 2 }, venue: { title: "Shop", address: "Main St 1" } })[0]).toBe(
      "📍 Shop, Main St 1 (1, 2) https://maps.google.com/?q=1,2",
    );
    expect(text({ contact: { phone_number: "+4930123", first_name: "Eve" } })[0]).toBe("👤 Eve: +4930123");
    expect(text({ sticker: { emoji: "👍" } })).toEqual(["[Sticker 👍: stickers cannot be shown here]", "sticker"]);
    expect(text({ poll: { id: "1", question: "?" } })).toEqual([
      "[Unsupported poll: this content cannot be shown here]",
      "poll",
    ]);
  });

  it("keeps an edit as its own message, keyed by its edit time and pointing at the original", () => {
    const edit = {
      update_id: 901,
      edited_message: {
        message_id: 7,
        date: 1_700_000_000,
        edit_date: 1_700_000_060,
        chat: { id: 42, type: "private" },
        from: ada,
        text: "/start again",
      },
    };
    const parsed = parseUpdate(edit, INBOX);
    expect(parsed.kind).toBe("message");
    if (parsed.kind !== "message") return;
    expect(parsed.inbound.externalId).toBe("42:7:edited:1700000060");
    expect(parsed.inbound.data).toMatchObject({ edited: true, editOf: "42:7" });
    expect(parsed.inbound.sentAt).toEqual(new Date(1_700_000_060_000));
  });

  it("ignores groups, channels, bots and other update types", () => {
    const group = message({ text: "hi" }) as any;
    group.message.chat = { id: -1001, type: "supergroup", title: "Fans" };
    expect(parseUpdate(group, INBOX)).toEqual({ kind: "ignored", reason: "a supergroup chat" });
    expect(parseUpdate(message({ text: "hi" }, { ...ada, is_bot: true }), INBOX).kind).toBe("ignored");
    expect(parseUpdate({ update_id: 5, callback_query: { id: "x" } }, INBOX).kind).toBe("ignored");
  });

  it("refuses what is not an update, naming the field", () => {
    expect(() => parseUpdate({ update_id: -1 }, INBOX)).toThrow(expect.objectContaining({ field: "update_id" }));
    expect(() => parseUpdate(message({ photo: "not a list" }), INBOX)).toThrow(
      expect.objectContaining({ field: "message.photo" }),
    );
    expect(() => parseUpdate(null, INBOX)).toThrow(expect.objectContaining({ status: 400 }));
  });
});

describe("greetingFor", () => {
  it("answers in the customer's language, the inbox's words first, then the default", () => {
    const both = { greeting: { en: "Welcome!", "zh-CN": "欢迎！" } };
    expect(greetingFor(both, "zh-hans")).toBe("欢迎！");
    expect(greetingFor(both, "en-GB")).toBe("Welcome!");
    expect(greetingFor(both, undefined)).toBe("Welcome!");
    expect(greetingFor({ greeting: { en: "Only English" } }, "zh")).toBe("Only English");
    expect(greetingFor({}, "zh-TW")).toBe(DEFAULT_GREETING["zh-CN"]);
    expect(greetingFor({ greeting: { en: "  " } }, "de")).toBe(DEFAULT_GREETING.en);
  });
});
