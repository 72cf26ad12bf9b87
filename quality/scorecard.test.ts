import { describe, expect, it } from "bun:test";
import { DEFAULT_SCORECARD, parseRuleConfig } from "./rule-kind.ts";
import {
  runScorecard,
  scoreOf,
  type CallFacts,
  type ConversationFacts,
  type Line,
  type ScorecardRule,
} from "./scorecard.ts";
import { phraseMatcher } from "./phrase.ts";

const rules: ScorecardRule[] = DEFAULT_SCORECARD.map((r, i) => ({ ...r, id: `r${i}`, enabled: true }));
const only = (kind: string) => rules.filter((r) => r.kind === kind);

let n = 0;
const T0 = Date.parse("2026-01-05T09:00:00Z");
function line(role: Line["role"], text: string, atS = n * 10): Line {
  n++;
  return { itemId: `i${n}`, key: `i${n}`, role, text, at: T0 + atS * 1000, agentId: role === "agent" ? "ann" : null };
}
function chat(lines: Line[], extra: Partial<ConversationFacts> = {}): ConversationFacts {
  return {
    messages: lines,
    calls: [],
    resolved: false,
    assignments: [],
    assigneeId: "ann",
    now: T0 + 3600_000,
    ...extra,
  };
}
const kinds = (kind: string, facts: ConversationFacts) => runScorecard(only(kind), facts).findings;

describe("phrase matching", () => {
  it("matches Chinese as substrings and English on word boundaries, case-insensitively", () => {
    const m = phraseMatcher(["您好", "hi", "calm down"]);
    expect(m.find("先生您好，请问")?.phrase).toBe("您好");
    expect(m.find("Hi there")?.phrase).toBe("Hi");
    expect(m.find("this is it")).toBeUndefined();
    expect(m.find("Please CALM   down!")?.index).toBe(7);
  });
});

describe("greeting", () => {
  it("passes a first agent message with 您好 or Hello, flags one without, and ignores later messages", () => {
    expect(kinds("greeting", chat([line("customer", "在吗"), line("agent", "您好，请问有什么可以帮您？")]))).toEqual(
      [],
    );
    expect(kinds("greeting", chat([line("customer", "hey"), line("agent", "Hello! How can I help?")]))).toEqual([]);
    const zh = kinds("greeting", chat([line("customer", "在吗"), line("agent", "订单号多少"), line("agent", "您好")]));
    expect(zh).toHaveLength(1);
    expect(zh[0]).toMatchObject({ rule: "Greeting", severity: "warning", excerpt: "订单号多少", agentId: "ann" });
    expect(kinds("greeting", chat([line("customer", "hi"), line("agent", "What is your order number?")]))).toHaveLength(
      1,
    );
    // "this" holds "hi" but is no greeting.
    expect(kinds("greeting", chat([line("agent", "this is Ann")]))).toHaveLength(1);
  });
  it("judges a call by its first agent segment", () => {
    const call: CallFacts = {
      itemId: "call1",
      agentId: "ann",
      ended: true,
      holdSeconds: 0,
      startedAt: T0,
      segments: [
        { speaker: "customer", startS: 0, endS: 2, text: "喂" },
        { speaker: "agent", startS: 3, endS: 5, text: "什么事" },
      ],
    };
    const found = kinds("greeting", { ...chat([]), calls: [call] });
    expect(found).toMatchObject([{ itemId: "call1", itemKey: "call1#1" }]);
  });
});

describe("closing", () => {
  it("is judged on the last agent message once resolved, in zh and en", () => {
    const ok = [line("customer", "好的"), line("agent", "感谢您的耐心，再见")];
    expect(kinds("closing", chat(ok, { resolved: true }))).toEqual([]);
    const enOk = [line("agent", "Is there anything else I can do?")];
    expect(kinds("closing", chat(enOk, { resolved: true }))).toEqual([]);
    const bad = [line("agent", "您好"), line("agent", "已处理")];
    expect(kinds("closing", chat(bad, { resolved: false }))).toEqual([]);
    expect(kinds("closing", chat(bad, { resolved: true }))).toMatchObject([{ excerpt: "已处理", severity: "info" }]);
    expect(kinds("closing", chat([line("agent", "Done.")], { resolved: true }))).toHaveLength(1);
  });
});

describe("forbidden phrases and promises", () => {
  it("flags each agent message with a forbidden phrase, never the customer's", () => {
    const f = kinds(
      "forbidden_phrase",
      chat([
        line("customer", "我不知道订单号"),
        line("agent", "这个我也不知道"),
        line("agent", "Please calm down, sir"),
        line("agent", "I know what you mean"),
      ]),
    );
    expect(f.map((x) => x.excerpt)).toEqual(["这个我也不知道", "Please calm down, sir"]);
  });
  it("flags promises that need approval in zh and en, not near-misses", () => {
    const f = kinds(
      "promise",
      chat([
        line("agent", "我保证明天到"),
        line("agent", "We guarantee it"),
        line("agent", "You will get a full refund"),
        line("agent", "我们会尽快处理"),
        line("agent", "guaranteed-looking wording is not a promise: guaranteeing"),
      ]),
    );
    expect(f).toHaveLength(3);
  });
});

describe("complaint keywords", () => {
  it("flags the customer's 投诉, 12315 and 'cancel my account' as critical", () => {
    const f = kinds(
      "complaint",
      chat([
        line("customer", "我要投诉你们"),
        line("customer", "再不处理我打12315"),
        line("customer", "Please cancel my account now"),
        line("customer", "I want to cancel my order"),
        line("agent", "您可以投诉"),
      ]),
    );
    expect(f.map((x) => x.severity)).toEqual(["critical", "critical", "critical"]);
    expect(f[2]!.excerpt).toBe("Please cancel my account now");
  });
});

describe("response gaps", () => {
  const rule = only("response_gap");
  it("counts only the time assigned, from the first unanswered message to the next agent reply", () => {
    const lines = [line("customer", "hello", 0), line("customer", "anyone?", 100), line("agent", "Hi", 700)];
    // Assigned from the start: 700 s > 300 s.
    const assigned = [{ at: T0, assigneeId: "ann" }];
    expect(runScorecard(rule, chat(lines, { assignments: assigned })).findings).toMatchObject([
      { itemId: lines[0]!.itemId, excerpt: "Answered after 11 min 40 s: hello" },
    ]);
    // Queued 500 s first: only 200 s assigned.
    const late = [{ at: T0 + 500_000, assigneeId: "ann" }];
    expect(runScorecard(rule, chat(lines, { assignments: late })).findings).toEqual([]);
  });
  it("flags a message still unanswered while assigned, in Chinese too, but not once resolved", () => {
    const lines = [line("customer", "请问退货怎么办", 0)];
    const facts = chat(lines, { assignments: [{ at: T0, assigneeId: "ann" }], now: T0 + 400_000 });
    expect(runScorecard(rule, facts).findings[0]!.excerpt).toBe("Unanswered for 6 min 40 s: 请问退货怎么办");
    expect(runScorecard(rule, { ...facts, resolved: true }).findings).toEqual([]);
    expect(runScorecard(rule, { ...facts, now: T0 + 200_000 }).findings).toEqual([]);
  });
});

describe("calls: silence and hold", () => {
  const call: CallFacts = {
    itemId: "c1",
    agentId: "ann",
    ended: true,
    holdSeconds: 180,
    startedAt: T0,
    segments: [
      { speaker: "agent", startS: 0, endS: 4, text: "您好，这里是客服" },
      { speaker: "customer", startS: 5, endS: 9, text: "我的快递丢了" },
      { speaker: "agent", startS: 40, endS: 45, text: "I found it, thank you for waiting" },
      { speaker: "customer", startS: 46, endS: 50, text: "好的谢谢" },
    ],
  };
  it("flags a gap between segments longer than the rule's seconds", () => {
    expect(kinds("silence", { ...chat([]), calls: [call] })).toMatchObject([
      { itemId: "c1", excerpt: "Silence of 31 s at 9 s", itemKey: "c1#silence@40" },
    ]);
    expect(kinds("silence", { ...chat([]), calls: [{ ...call, segments: call.segments.slice(0, 2) }] })).toEqual([]);
  });
  it("flags hold time over the limit, not under it", () => {
    expect(kinds("hold", { ...chat([]), calls: [call] })).toMatchObject([{ excerpt: "On hold for 3 min 0 s" }]);
    expect(kinds("hold", { ...chat([]), calls: [{ ...call, holdSeconds: 60 }] })).toEqual([]);
  });
  it("does not apply chat-only rules to transcripts", () => {
    const chatOnly = only("complaint").map((r) => ({ ...r, appliesTo: "chat" }));
    const complaining = { ...call, segments: [{ speaker: "customer" as const, startS: 0, endS: 1, text: "我要投诉" }] };
    expect(runScorecard(chatOnly, { ...chat([]), calls: [complaining] }).findings).toEqual([]);
    expect(kinds("complaint", { ...chat([]), calls: [complaining] })).toHaveLength(1);
  });
});

describe("sentiment trend", () => {
  it("flags a customer who ends unhappy, in zh and en, with negation", () => {
    const zh = runScorecard(
      only("sentiment"),
      chat([line("customer", "你好"), line("customer", "我很不满意，太失望了")]),
    );
    expect(zh.findings).toHaveLength(1);
    expect(zh.sentiment!.end).toBeLessThan(0);
    const en = runScorecard(
      only("sentiment"),
      chat([line("customer", "thanks, great"), line("customer", "I am not happy at all")]),
    );
    expect(en.findings).toHaveLength(1);
    expect(en.sentiment!.trend).toBeLessThan(0);
    const fine = runScorecard(
      only("sentiment"),
      chat([line("customer", "有问题"), line("customer", "解决了，谢谢，很满意")]),
    );
    expect(fine.findings).toEqual([]);
    expect(fine.sentiment!.trend).toBeGreaterThan(0);
  });
});

describe("score", () => {
  it("is 100 minus the weights of findings not dismissed, floored at 0", () => {
    expect(scoreOf([])).toBe(100);
    expect(scoreOf([{ weight: 10 }, { weight: 20 }, { weight: 15, dismissed: true }])).toBe(70);
    expect(scoreOf(Array.from({ length: 12 }, () => ({ weight: 10 })))).toBe(0);
  });
});

describe("rule settings", () => {
  it("refuses settings that do not fit the kind, naming the field", () => {
    const fieldOf = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as { field?: string }).field;
      }
    };
    expect(fieldOf(() => parseRuleConfig("greeting", { phrases: [] }))).toBe("config.phrases");
    expect(fieldOf(() => parseRuleConfig("silence", { maxSeconds: "x" }))).toBe("config.maxSeconds");
    expect(() => parseRuleConfig("hold", { maxSeconds: -1 })).toThrow();
    expect(() => parseRuleConfig("complaint", { phrases: ["x"], patterns: ["(a+)+$"] })).toThrow(/nested quantifier/);
    expect(() => parseRuleConfig("complaint", { phrases: ["x"], patterns: ["(["] })).toThrow(/Not a valid pattern/);
    expect(parseRuleConfig("sentiment", { threshold: -0.5 })).toEqual({ threshold: -0.5 });
  });
});
