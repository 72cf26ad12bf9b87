import { describe, expect, it } from "bun:test";
import { Invalid } from "../platform/errors.ts";
import { compileConditions, priorityName, type ConditionSubject } from "./condition.ts";

const chat: ConditionSubject = {
  kind: "conversation",
  channel: "webchat",
  text: "我想开一张发票 please",
  language: "zh-CN",
  priority: "high",
  labels: ["vip", "billing"],
  vip: true,
  businessHours: false,
  contact: { plan: "Gold", city: "上海" },
};

const matches = (conditions: unknown, s = chat) => compileConditions(conditions).matches(s);

describe("conditions", () => {
  it("matches Chinese and English text, case-insensitively, with any of a list", () => {
    expect(matches([{ field: "text", op: "contains", value: "发票" }])).toBe(true);
    expect(matches([{ field: "text", op: "contains", value: "PLEASE" }])).toBe(true);
    expect(matches([{ field: "text", op: "contains", value: ["退款", "refund"] }])).toBe(false);
    expect(matches([{ field: "text", op: "not_contains", value: "退款" }])).toBe(true);
    expect(matches([{ field: "text", op: "regex", value: "发票|invoice" }])).toBe(true);
  });

  it("needs every condition to hold, and no conditions match everything", () => {
    expect(matches([])).toBe(true);
    expect(
      matches([
        { field: "channel", op: "equals", value: "webchat" },
        { field: "vip", op: "equals", value: false },
      ]),
    ).toBe(false);
  });

  it("reads labels as a set, contact attributes by name, priority by rank", () => {
    expect(matches([{ field: "labels", op: "equals", value: "billing" }])).toBe(true);
    expect(matches([{ field: "labels", op: "in", value: ["x", "VIP"] }])).toBe(true);
    expect(matches([{ field: "contact.plan", op: "equals", value: "gold" }])).toBe(true);
    expect(matches([{ field: "contact.city", op: "in", value: ["北京"] }])).toBe(false);
    expect(matches([{ field: "priority", op: "gte", value: "high" }])).toBe(true);
    expect(matches([{ field: "priority", op: "gt", value: "high" }])).toBe(false);
    expect(matches([{ field: "businessHours", op: "equals", value: false }])).toBe(true);
    expect(matches([{ field: "queue", op: "absent" }])).toBe(true);
  });

  it("names the part of a bad condition, and refuses slow patterns", () => {
    const fieldOf = (raw: unknown) => {
      try {
        compileConditions(raw);
      } catch (err) {
        expect(err).toBeInstanceOf(Invalid);
        return (err as Invalid).field;
      }
      return "accepted";
    };
    expect(fieldOf([{ field: "colour", op: "equals", value: "red" }])).toBe("conditions.0.field");
    expect(fieldOf([{ field: "text", op: "sounds_like", value: "x" }])).toBe("conditions.0.op");
    expect(
      fieldOf([
        { field: "text", op: "equals", value: "a" },
        { field: "text", op: "contains" },
      ]),
    ).toBe("conditions.1.value");
    expect(fieldOf([{ field: "text", op: "regex", value: "(a+)+$" }])).toBe("conditions.0.value");
    expect(fieldOf([{ field: "text", op: "regex", value: "[unclosed" }])).toBe("conditions.0.value");
    expect(fieldOf([{ field: "channel", op: "in", value: "webchat" }])).toBe("conditions.0.value");
  });

  it("names a conversation's numeric priority", () => {
    expect([priorityName(-10), priorityName(0), priorityName(10), priorityName(25)]).toEqual([
      "low",
      "normal",
      "high",
      "urgent",
    ]);
  });
});
