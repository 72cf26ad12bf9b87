import { z } from "zod";
import { Invalid } from "../platform/errors.ts";
import type { QaSeverity } from "../db/schema/quality.ts";

/**
 * The kinds of QA rule and each kind's settings. Phrase lists hold Chinese and English together:
 * Chinese phrases match as substrings, others on word boundaries (phrase.ts).
 */
export const qaRuleKinds = [
  "greeting",
  "closing",
  "forbidden_phrase",
  "promise",
  "response_gap",
  "silence",
  "hold",
  "sentiment",
  "complaint",
] as const;
export type QaRuleKind = (typeof qaRuleKinds)[number];

// A user's pattern runs on every message of every conversation: short, and without the nested
// quantifiers that make backtracking explode, as automation's regex conditions (conversations/condition.ts).
const MAX_PATTERN = 200;
const NESTED_QUANTIFIER = /\([^()]*[+*][^()]*\)\s*[+*{]/;

const Phrase = z.string().trim().min(1).max(100);
const Phrases = z.object({
  phrases: z.array(Phrase).min(1).max(200),
  /** Optional regular expressions, matched case-insensitively besides the phrases. */
  patterns: z.array(z.string().max(MAX_PATTERN)).max(20).optional(),
});
const Seconds = (max: number) => z.object({ maxSeconds: z.number().int().min(1).max(max) });

export const ruleConfigSchemas = {
  greeting: Phrases,
  closing: Phrases,
  forbidden_phrase: Phrases,
  promise: Phrases,
  complaint: Phrases,
  response_gap: Seconds(7 * 86_400),
  silence: Seconds(3600),
  hold: Seconds(3600),
  // The customer's closing sentiment (-1 … 1) at or below which the conversation is flagged.
  sentiment: z.object({ threshold: z.number().min(-1).max(1) }),
} satisfies Record<QaRuleKind, z.ZodType>;

export type RuleConfig = { phrases?: string[]; patterns?: string[]; maxSeconds?: number; threshold?: number };

/** A rule's settings checked against its kind; a bad one is a 400 naming `config.<key>`. */
export function parseRuleConfig(kind: QaRuleKind, raw: unknown): RuleConfig {
  const parsed = ruleConfigSchemas[kind].safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Invalid(`${issue.message} (${kind})`, ["config", ...issue.path].join("."));
  }
  const config = parsed.data as RuleConfig;
  config.patterns?.forEach((p, i) => compilePattern(p, `config.patterns.${i}`));
  return config;
}

export function compilePattern(pattern: string, field: string) {
  if (pattern.length > MAX_PATTERN) throw new Invalid(`Pattern longer than ${MAX_PATTERN} characters`, field);
  if (NESTED_QUANTIFIER.test(pattern))
    throw new Invalid("Pattern has a nested quantifier, which can take forever to match", field);
  try {
    return new RegExp(pattern, "iu");
  } catch (err) {
    throw new Invalid(`Not a valid pattern: ${(err as Error).message}`, field);
  }
}

export type DefaultRule = {
  name: string;
  kind: QaRuleKind;
  config: RuleConfig;
  severity: QaSeverity;
  weight: number;
  appliesTo: "all" | "chat" | "call";
  alert: boolean;
};

/** The scorecard a workspace starts with (seeded the first time it is scored or its rules are read). */
export const DEFAULT_SCORECARD: DefaultRule[] = [
  {
    name: "Greeting",
    kind: "greeting",
    config: {
      phrases: [
        "您好",
        "你好",
        "欢迎",
        "很高兴为您服务",
        "Hello",
        "Hi",
        "Hey",
        "Good morning",
        "Good afternoon",
        "Good evening",
        "Welcome",
        "Thanks for contacting",
      ],
    },
    severity: "warning",
    weight: 10,
    appliesTo: "all",
    alert: false,
  },
  {
    name: "Closing",
    kind: "closing",
    config: {
      phrases: [
        "再见",
        "感谢",
        "谢谢",
        "祝您",
        "还有什么",
        "其他问题",
        "Goodbye",
        "Bye",
        "Thank you",
        "Thanks",
        "Have a nice day",
        "Have a great day",
        "anything else",
        "Take care",
      ],
    },
    severity: "info",
    weight: 5,
    appliesTo: "all",
    alert: false,
  },
  {
    name: "Forbidden phrases",
    kind: "forbidden_phrase",
    config: {
      phrases: [
        "不知道",
        "没办法",
        "不归我管",
        "你自己看",
        "不可能",
        "跟我没关系",
        "not my problem",
        "calm down",
        "I don't know",
        "nothing I can do",
        "not my job",
        "you should have",
        "whatever",
      ],
    },
    severity: "warning",
    weight: 15,
    appliesTo: "all",
    alert: false,
  },
  {
    name: "Promises needing approval",
    kind: "promise",
    config: {
      phrases: [
        "保证",
        "一定退款",
        "肯定给您",
        "全额退款",
        "马上赔偿",
        "I promise",
        "guarantee",
        "full refund",
        "I will refund",
        "compensate you",
      ],
    },
    severity: "warning",
    weight: 10,
    appliesTo: "all",
    alert: false,
  },
  {
    name: "Response time",
    kind: "response_gap",
    config: { maxSeconds: 300 },
    severity: "warning",
    weight: 5,
    appliesTo: "chat",
    alert: false,
  },
  {
    name: "Long silence",
    kind: "silence",
    config: { maxSeconds: 20 },
    severity: "info",
    weight: 5,
    appliesTo: "call",
    alert: false,
  },
  {
    name: "Long hold",
    kind: "hold",
    config: { maxSeconds: 120 },
    severity: "warning",
    weight: 10,
    appliesTo: "call",
    alert: false,
  },
  {
    name: "Customer sentiment",
    kind: "sentiment",
    config: { threshold: -0.3 },
    severity: "warning",
    weight: 10,
    appliesTo: "all",
    alert: false,
  },
  {
    name: "Complaint",
    kind: "complaint",
    config: {
      phrases: [
        "投诉",
        "12315",
        "曝光",
        "律师",
        "起诉",
        "消协",
        "举报",
        "媒体",
        "cancel my account",
        "file a complaint",
        "lawyer",
        "sue you",
        "legal action",
        "report you",
        "consumer protection",
      ],
    },
    severity: "critical",
    weight: 20,
    appliesTo: "all",
    alert: true,
  },
];
