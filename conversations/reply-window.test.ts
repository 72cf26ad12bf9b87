import { describe, expect, it } from "bun:test";
import {
  replyAlternatives,
  replyWindowAt,
  replyWindowRuleOf,
  ReplyWindowClosed,
  WECHAT_REPLY_WINDOW_MS,
  WHATSAPP_REPLY_WINDOW_MS,
  windowClosedMessage,
} from "./reply-window.ts";

const HOUR = 3_600_000;
const official = replyWindowRuleOf({ channel: "wechat", settings: { kind: "official" } })!;

describe("which inboxes have a reply window", () => {
  it("gives WeChat Official Accounts (kind missing too) and WeCom customer service 48 hours", () => {
    expect(official).toEqual({ code: "wechat_48h", lengthMs: 48 * HOUR });
    expect(replyWindowRuleOf({ channel: "wechat", settings: {} })).toEqual(official);
    expect(replyWindowRuleOf({ channel: "wechat", settings: { kind: "wecom" } })).toEqual(official);
  });

  it("gives WhatsApp 24 hours", () => {
    expect(replyWindowRuleOf({ channel: "whatsapp", settings: {} })).toEqual({
      code: "whatsapp_24h",
      lengthMs: 24 * HOUR,
    });
  });

  it("gives none to Wechaty (a person's own account) nor to other channels", () => {
    expect(replyWindowRuleOf({ channel: "wechat", settings: { kind: "wechaty" } })).toBeNull();
    for (const channel of ["webchat", "email", "voice", "sms", "slack", "telegram", "api"])
      expect(replyWindowRuleOf({ channel, settings: {} })).toBeNull();
  });
});

describe("the 48-hour window", () => {
  const last = new Date("2025-03-01T08:00:00Z");

  it("is open until 48 hours after the customer's last message, closed at exactly 48 hours", () => {
    const closesAt = new Date(last.getTime() + WECHAT_REPLY_WINDOW_MS);
    expect(replyWindowAt(official, last, new Date(last.getTime() + HOUR))).toEqual({ open: true, closesAt });
    expect(replyWindowAt(official, last, new Date(closesAt.getTime() - 1)).open).toBe(true);
    expect(replyWindowAt(official, last, closesAt)).toEqual({ open: false, closesAt });
    expect(replyWindowAt(official, last, new Date(closesAt.getTime() + 1)).open).toBe(false);
  });

  it("is 24 hours on WhatsApp", () => {
    const whatsapp = replyWindowRuleOf({ channel: "whatsapp", settings: {} })!;
    const closesAt = new Date(last.getTime() + WHATSAPP_REPLY_WINDOW_MS);
    expect(replyWindowAt(whatsapp, last, new Date(closesAt.getTime() - 1))).toEqual({ open: true, closesAt });
    expect(replyWindowAt(whatsapp, last, closesAt).open).toBe(false);
  });

  it("is closed with no closing time when the customer has not written yet", () => {
    expect(replyWindowAt(official, null, last)).toEqual({ open: false, closesAt: null });
  });
});

describe("other ways to reach the contact", () => {
  const identities = [
    { kind: "wechat", value: "oOpenId" },
    { kind: "phone", value: "+8613800000001" },
    { kind: "email", value: "wang@example.test" },
  ];

  it("offers email, a callback and SMS only where the workspace has such an inbox", () => {
    expect(replyAlternatives(identities, new Set(["email", "voice", "sms"]))).toEqual([
      { kind: "email", value: "wang@example.test", action: "email" },
      { kind: "phone", value: "+8613800000001", action: "callback" },
      { kind: "phone", value: "+8613800000001", action: "sms" },
    ]);
    expect(replyAlternatives(identities, new Set(["voice"]))).toEqual([
      { kind: "phone", value: "+8613800000001", action: "callback" },
    ]);
    expect(replyAlternatives(identities, new Set(["webchat", "wechat"]))).toEqual([]);
    expect(replyAlternatives([{ kind: "wechat", value: "o" }], new Set(["email", "voice"]))).toEqual([]);
  });

  it("explains the refusal with the closing time and the alternatives, as a 409 on the text field", () => {
    const closesAt = new Date("2025-03-03T08:00:00Z");
    const message = windowClosedMessage(official, closesAt, [
      { kind: "phone", value: "+8613800000001", action: "callback" },
    ]);
    expect(message).toContain("WeChat accepts replies only within 48 hours");
    expect(message).not.toContain("template");
    expect(message).toContain("2025-03-03T08:00:00.000Z");
    expect(message).toContain("call +8613800000001 back");
    expect(message).toContain("notes");
    expect(windowClosedMessage(official, null, [])).toContain("not written");
    const error = new ReplyWindowClosed(message);
    expect([error.status, error.code, error.field]).toEqual([409, "reply_window_closed", "text"]);
  });

  it("names WhatsApp's 24 hours and says an approved template can still be sent", () => {
    const whatsapp = replyWindowRuleOf({ channel: "whatsapp", settings: {} })!;
    const message = windowClosedMessage(whatsapp, new Date("2025-03-02T08:00:00Z"), [
      { kind: "email", value: "wang@example.test", action: "email" },
    ]);
    expect(message).toContain("WhatsApp accepts replies only within 24 hours");
    expect(message).toContain("2025-03-02T08:00:00.000Z");
    expect(message).toContain("An approved WhatsApp template can still be sent");
    expect(message).toContain("email wang@example.test");
    expect(windowClosedMessage(whatsapp, null, [])).toContain("have not written through this number yet");
  });
});
