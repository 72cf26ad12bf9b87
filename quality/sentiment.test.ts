import { describe, expect, it } from "bun:test";
import { messageSentiment, sentimentTrend } from "./sentiment.ts";

describe("sentiment", () => {
  it("scores Chinese and English words by the lexicon", () => {
    expect(messageSentiment("非常满意，谢谢")).toBeGreaterThan(0);
    expect(messageSentiment("太失望了，垃圾服务")).toBeLessThan(0);
    expect(messageSentiment("Great, thanks!")).toBeGreaterThan(0);
    expect(messageSentiment("This is terrible")).toBeLessThan(0);
    expect(messageSentiment("订单号 12345")).toBe(0);
  });
  it("flips a word after a negator: 不太满意, 不开心, not happy, isn't helpful; 不错 stays positive", () => {
    expect(messageSentiment("我不太满意")).toBeLessThan(0);
    expect(messageSentiment("不开心")).toBeLessThan(0);
    expect(messageSentiment("没有帮助")).toBeLessThan(0);
    expect(messageSentiment("I am not happy")).toBeLessThan(0);
    expect(messageSentiment("that isn't helpful")).toBeLessThan(0);
    expect(messageSentiment("not bad")).toBeGreaterThan(0);
    expect(messageSentiment("服务不错")).toBeGreaterThan(0);
  });
  it("gives the trend from the first third of the messages to the last", () => {
    expect(sentimentTrend(["订单号多少"])).toBeNull();
    const t = sentimentTrend(["太慢了", "很生气", "好的", "解决了，谢谢"])!;
    expect(t.start).toBeLessThan(0);
    expect(t.end).toBeGreaterThan(0);
    expect(t.trend).toBeCloseTo(t.end - t.start, 2);
  });
});
