import { describe, expect, it } from "bun:test";
import { Invalid } from "../platform/errors.ts";
import { linkStateOf, MAX_COMMENT, parseAnswer } from "./response.ts";
import { csatLangOf, csatSettingsOf, linkMessage, questionText } from "./settings.ts";

describe("an answer", () => {
  it("takes a whole rating from 1 to 5 and trims the comment, an empty one to null", () => {
    expect(parseAnswer(1, "  ")).toEqual({ rating: 1, comment: null });
    expect(parseAnswer(5, "  great ")).toEqual({ rating: 5, comment: "great" });
  });

  it("refuses 0, 6, 2.5, a string and a missing rating naming the field, and an overlong comment", () => {
    for (const rating of [0, 6, 2.5, "4", undefined, Number.NaN]) {
      const err = (() => {
        try {
          parseAnswer(rating, null);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(Invalid);
      expect((err as Invalid).field).toBe("rating");
    }
    expect(() => parseAnswer(3, "x".repeat(MAX_COMMENT + 1))).toThrow("comment");
  });
});

describe("a survey link", () => {
  const now = new Date("2026-01-01T12:00:00Z");
  it("is open until it expires or is answered", () => {
    const later = new Date(now.getTime() + 1000);
    expect(linkStateOf({ status: "sent", expiresAt: later }, now)).toBe("open");
    expect(linkStateOf({ status: "sent", expiresAt: now }, now)).toBe("expired");
    expect(linkStateOf({ status: "expired", expiresAt: later }, now)).toBe("expired");
    expect(linkStateOf({ status: "answered", expiresAt: now }, now)).toBe("answered");
  });
});

describe("an inbox's survey settings", () => {
  it("are off when never set or set wrongly, and keep the default question where the inbox has none", () => {
    expect(csatSettingsOf({}).enabled).toBe(false);
    expect(csatSettingsOf({ csat: { enabled: true, scale: "stars", delayMinutes: 5000 } }).enabled).toBe(false);
    const s = csatSettingsOf({ csat: { enabled: true, scale: "thumbs", question: { en: "Happy?" }, delayMinutes: 0 } });
    expect(s).toMatchObject({ enabled: true, scale: "thumbs", expiresHours: 72 });
    expect(questionText(s, "en")).toBe("Happy?");
    expect(questionText(s, "zh-CN")).toBe("您对本次服务满意吗？");
    expect(csatLangOf("zh-TW")).toBe("zh-CN");
    expect(csatLangOf(undefined)).toBe("en");
    expect(linkMessage(s, "zh-CN", "https://x/csat/t")).toBe("您对本次服务满意吗？\n请点击链接评价： https://x/csat/t");
  });
});
