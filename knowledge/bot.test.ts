import { expect, it } from "bun:test";
import { answerText, asksForHuman, decide, saidYes } from "./bot.ts";
import type { SearchHit } from "./search.ts";

const hit = (title: string, summary: string, locale = "en"): SearchHit => ({
  id: "a1",
  title,
  summary,
  locale,
  snippet: summary,
  highlights: [],
  score: 0.5,
});

it("answers when the best article covers the question's key words", () => {
  const action = decide(undefined, "How do I get a refund?", [
    hit("How to get a refund", "Request a refund within 30 days."),
  ]);
  expect(action).toMatchObject({ kind: "answer", article: { id: "a1" } });
  expect(decide(undefined, "怎么查询订单", [hit("订单状态查询", "在我的订单页面查看", "zh-CN")]).kind).toBe("answer");
});

it("hands over when no article fits, or the customer asks for a person", () => {
  expect(
    decide(undefined, "Do you ship drones to Mars?", [hit("How to get a refund", "Refunds within 30 days.")]),
  ).toMatchObject({ kind: "handover", reason: "low_confidence" });
  expect(decide(undefined, "anything", [])).toMatchObject({ kind: "handover", reason: "low_confidence" });
  expect(decide(undefined, "refund, but I want a real person", [hit("How to get a refund", "Refund")])).toMatchObject({
    kind: "handover",
    reason: "asked_for_human",
  });
  expect(asksForHuman("转人工")).toBe(true);
  expect(asksForHuman("refund please")).toBe(false);
});

it("after an answer, reads yes as solved and anything else as a hand-over", () => {
  for (const yes of ["yes", "Yes!", "thanks", "是的", "解决了。", "好的"]) expect(saidYes(yes)).toBe(true);
  expect(decide("answered", "yes", [])).toEqual({ kind: "solved" });
  expect(decide("answered", "no, still broken", [])).toMatchObject({ kind: "handover", reason: "not_solved" });
  expect(decide("answered", "人工", [])).toMatchObject({ kind: "handover", reason: "asked_for_human" });
});

it("writes the answer in the article's language with the link and the question", () => {
  expect(answerText(hit("如何申请退款", "30 天内可申请", "zh-CN"), "https://x/help/d/articles/1")).toBe(
    "如何申请退款\n30 天内可申请\nhttps://x/help/d/articles/1\n\n这解决了您的问题吗？请回复“是”，或回复“否”转人工客服。",
  );
  expect(answerText(hit("Refunds", "Within 30 days"), null)).toContain('Did this solve it? Reply "yes"');
});
