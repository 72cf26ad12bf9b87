import { describe, expect, it } from "bun:test";
import { waitNoticeText } from "./wait-notice.ts";

describe("the wait notice a WeChat customer reads", () => {
  it("says in Chinese how many are ahead and about how many minutes", () => {
    expect(waitNoticeText(undefined, { position: 4, estimatedWaitS: 540 })).toBe(
      "您前面还有 3 位，预计等待约 9 分钟。",
    );
    expect(waitNoticeText("zh-CN", { position: 1, estimatedWaitS: 20 })).toBe("您是下一位，预计等待约 1 分钟。");
  });

  it("gives no number when nobody who could take the chat is signed in", () => {
    expect(waitNoticeText("zh-CN", { position: 2, estimatedWaitS: null })).toBe(
      "您前面还有 1 位，我们会尽快为您服务。",
    );
  });

  it("speaks English for an English inbox", () => {
    expect(waitNoticeText("en", { position: 2, estimatedWaitS: 330 })).toBe(
      "There is 1 person ahead of you; the estimated wait is about 6 min.",
    );
    expect(waitNoticeText("en-GB", { position: 1, estimatedWaitS: null })).toBe(
      "You are next in line. We'll be with you as soon as we can.",
    );
  });
});
