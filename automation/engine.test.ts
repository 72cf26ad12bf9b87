import { describe, expect, it } from "bun:test";
import type { ConditionSubject } from "../conversations/condition.ts";
import type { DomainEvent } from "../conversations/event.ts";
import type { AutomationRule } from "../db/schema/index.ts";
import { causeOf, compileRule, decide } from "./engine.ts";
import { parseActions } from "./action.ts";

const rule = (id: string, position: number, conditions: AutomationRule["conditions"]): AutomationRule => ({
  id,
  workspaceId: "w",
  name: id,
  event: "message.created",
  conditions,
  actions: [{ type: "label", value: id }],
  afterMinutes: null,
  position,
  active: true,
  createdBy: null,
  createdAt: new Date(),
  updatedAt: new Date(),
});
const subject: ConditionSubject = { kind: "conversation", text: "我要开发票 please", channel: "webchat", labels: [] };
const rules = [
  rule("a", 0, [{ field: "text", op: "contains", value: "发票" }]),
  rule("b", 1, [{ field: "channel", op: "equals", value: "email" }]),
  rule("c", 2, [{ field: "text", op: "regex", value: "^我要.*please$" }]),
].map(compileRule);
const none = { ruleId: null, depth: -1 };

describe("deciding which rules run", () => {
  it("keeps the matching rules in their order", () => {
    expect(decide(rules, subject, none).map((r) => r.rule.id)).toEqual(["a", "c"]);
  });

  it("never runs a rule on an event its own action caused", () => {
    expect(decide(rules, subject, { ruleId: "a", depth: 0 }).map((r) => r.rule.id)).toEqual(["c"]);
  });

  it("stops a chain at depth 3", () => {
    expect(decide(rules, subject, { ruleId: "x", depth: 1 }).map((r) => r.rule.id)).toEqual(["a", "c"]);
    expect(decide(rules, subject, { ruleId: "x", depth: 2 })).toEqual([]);
  });

  it("reads the cause from a change's `by` or an item's data.rule", () => {
    const event = (payload: DomainEvent["payload"]): DomainEvent => ({
      workspaceId: "w",
      seq: 1,
      type: "conversation.updated",
      conversationId: "c",
      public: false,
      payload,
    });
    expect(causeOf(event({ by: { type: "rule", id: "r1", name: "R", depth: 1 } }))).toEqual({ ruleId: "r1", depth: 1 });
    expect(causeOf(event({ item: { data: { rule: { id: "r2", name: "R", depth: 0 } } } }))).toEqual({
      ruleId: "r2",
      depth: 0,
    });
    expect(causeOf(event({ by: { type: "agent", id: "u", name: "Ann" } }))).toEqual(none);
  });
});

describe("action validation", () => {
  const fieldOf = (raw: unknown) => {
    try {
      parseActions(raw);
      return "ok";
    } catch (err) {
      return (err as { field?: string }).field;
    }
  };
  it("names the action and field at fault", () => {
    expect(fieldOf([{ type: "label", value: "x" }, { type: "nope" }])).toBe("actions.1.type");
    expect(fieldOf([{ type: "set_priority", value: "asap" }])).toBe("actions.0.value");
    expect(fieldOf([{ type: "assign_queue", queueId: "q1" }])).toBe("actions.0.queueId");
    expect(fieldOf([{ type: "reply" }])).toBe("actions.0.body");
    expect(fieldOf([])).toBe("actions");
    expect(fieldOf([{ type: "reply", body: "您好 {{contact.name}}" }, { type: "close" }])).toBe("ok");
  });
  it("keeps macros to what an agent does to a conversation", () => {
    expect(() => parseActions([{ type: "webhook", webhookId: crypto.randomUUID() }], ["label"])).toThrow(
      "A macro cannot webhook",
    );
  });
});
