import { describe, expect, it } from "bun:test";
import { noticeLanguage, noticeText } from "./notice.ts";

const ticket = { number: 1042, title: "Broken kettle" };

describe("what the customer is told of their ticket", () => {
  it("reads the built-in text in the customer's language, any Chinese as zh-CN", () => {
    expect(noticeText({}, "open", "en", ticket)).toBe("Your ticket #1042 is now being worked on.");
    expect(noticeText({}, "open", noticeLanguage("zh-Hans-CN")!, ticket)).toBe("您的工单 #1042 正在处理中。");
    expect(noticeText({}, "solved", noticeLanguage("zh")!, ticket)).toBe(
      "您的工单 #1042 已解决。如仍有问题，请直接回复。",
    );
  });

  it("prefers the workspace's own text, filling in number and title, and falls back to English", () => {
    const own = { closed: { "zh-CN": "工单 #{number}（{title}）已关闭。", fr: "Ticket #{number} fermé." } };
    expect(noticeText(own, "closed", "zh-CN", ticket)).toBe("工单 #1042（Broken kettle）已关闭。");
    expect(noticeText(own, "closed", "fr-FR", ticket)).toBe("Ticket #1042 fermé.");
    expect(noticeText(own, "closed", "de", ticket)).toBe("Your ticket #1042 is now closed. Thank you.");
  });

  it("takes no language from an empty or missing tag", () => {
    expect(noticeLanguage("")).toBeUndefined();
    expect(noticeLanguage(undefined)).toBeUndefined();
    expect(noticeLanguage(" en-GB ")).toBe("en-GB");
  });
});
