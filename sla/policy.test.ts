import { describe, expect, it } from "bun:test";
import type { ConditionSubject } from "../conversations/condition.ts";
import type { RuleCondition } from "../db/schema/index.ts";
import { choosePolicy, targetMs } from "./policy.ts";

const policy = (id: string, position: number, conditions: RuleCondition[], active = true) => ({
  id,
  position,
  conditions,
  active,
});
const subject = (s: Partial<ConditionSubject>): ConditionSubject => ({ kind: "conversation", ...s });

describe("choosing a policy", () => {
  const vip = policy("vip", 0, [{ field: "vip", op: "equals", value: true }]);
  const urgentTickets = policy("urgent-tickets", 1, [
    { field: "kind", op: "equals", value: "ticket" },
    { field: "priority", op: "gte", value: "high" },
  ]);
  const email = policy("email", 2, [{ field: "channel", op: "in", value: ["email", "sms"] }]);
  const rest = policy("rest", 3, []);
  const all = [rest, email, urgentTickets, vip];

  it("takes the first by position whose conditions all hold", () => {
    expect(choosePolicy(all, subject({ vip: true, channel: "email" }))?.id).toBe("vip");
    expect(choosePolicy(all, subject({ kind: "ticket", priority: "urgent" }))?.id).toBe("urgent-tickets");
    expect(choosePolicy(all, subject({ kind: "ticket", priority: "normal", channel: "email" }))?.id).toBe("email");
  });

  it("falls to the policy without conditions, and to none when there is none", () => {
    expect(choosePolicy(all, subject({ channel: "webchat", priority: "normal" }))?.id).toBe("rest");
    expect(choosePolicy([vip, email], subject({ channel: "webchat" }))).toBeNull();
  });

  it("skips inactive policies and re-reads conditions that changed", () => {
    expect(choosePolicy([policy("vip", 0, vip.conditions, false), rest], subject({ vip: true }))?.id).toBe("rest");
    const changed = policy("vip", 0, [{ field: "queue", op: "equals", value: "q1" }]);
    expect(choosePolicy([changed, rest], subject({ vip: true }))?.id).toBe("rest");
    expect(choosePolicy([changed, rest], subject({ queueId: "q1" }))?.id).toBe("vip");
  });

  it("turns fractional minutes into milliseconds, and a missing target into none", () => {
    const p = { firstResponseMinutes: 0.5, nextResponseMinutes: null, resolutionMinutes: 90 };
    expect(targetMs(p, "first_response")).toBe(30_000);
    expect(targetMs(p, "next_response")).toBeNull();
    expect(targetMs(p, "resolution")).toBe(5_400_000);
  });
});
