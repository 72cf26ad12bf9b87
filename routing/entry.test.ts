import { describe, expect, it } from "bun:test";
import { chooseQueue, matches, priorityFor, type Arrival } from "./entry.ts";

const arrival = (over: Partial<Arrival> = {}): Arrival => ({
  inboxId: "chat",
  channel: "webchat",
  text: "hello",
  attributes: {},
  ...over,
});

describe("entry rules", () => {
  it("finds Chinese and English keywords inside running text", () => {
    expect(matches({ keywords: ["退款"] }, arrival({ text: "我要退款。订单号123" }))).toBe(true);
    expect(matches({ keywords: ["refund"] }, arrival({ text: "Refunds? Please!" }))).toBe(true);
    expect(matches({ keywords: ["查询订单"] }, arrival({ text: "查询物流" }))).toBe(false);
  });

  it("needs every condition of a rule to hold", () => {
    const rule = { channels: ["webchat"], attributes: { vip: true }, languages: ["zh"] };
    expect(matches(rule, arrival({ attributes: { vip: true }, language: "zh-CN" }))).toBe(true);
    expect(matches(rule, arrival({ attributes: { vip: "true" }, language: "zh" }))).toBe(true);
    expect(matches(rule, arrival({ attributes: { vip: false }, language: "zh-CN" }))).toBe(false);
    expect(matches(rule, arrival({ attributes: { vip: true }, language: "en" }))).toBe(false);
    expect(matches(rule, arrival({ channel: "email", attributes: { vip: true }, language: "zh" }))).toBe(false);
    expect(matches({ inboxIds: ["mail"] }, arrival())).toBe(false);
  });

  it("takes the first matching rule in order, and an empty rule catches everything", () => {
    const rules = [
      { queueId: "refunds", conditions: { keywords: ["退款", "refund"] } },
      { queueId: "general", conditions: {} },
    ];
    expect(chooseQueue(rules, arrival({ text: "退款" }))?.queueId).toBe("refunds");
    expect(chooseQueue(rules, arrival({ text: "hi" }))?.queueId).toBe("general");
    expect(chooseQueue([], arrival())).toBeUndefined();
  });

  it("gives the highest priority of the rules a contact matches", () => {
    const rules = [
      { attribute: "vip", equals: true, priority: 10 },
      { attribute: "complaints", equals: 3, priority: 5 },
    ];
    expect(priorityFor(rules, { vip: true, complaints: 3 })).toBe(10);
    expect(priorityFor(rules, { complaints: "3" })).toBe(5);
    expect(priorityFor(rules, {})).toBe(0);
  });
});
