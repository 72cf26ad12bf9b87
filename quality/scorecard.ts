import type { QaSeverity, TranscriptSegment } from "../db/schema/quality.ts";
import { excerptAround, phraseMatcher, type PhraseMatcher } from "./phrase.ts";
import { compilePattern, type QaRuleKind, type RuleConfig } from "./rule-kind.ts";
import { sentimentTrend } from "./sentiment.ts";

/**
 * The QA scorecard as a pure function: a conversation's lines (chat messages and call transcript
 * segments) and its workspace's rules in, findings and a 0–100 score out. No database, no clock but
 * the `now` it is given, so every rule is unit-tested with zh and en examples (scorecard.test.ts).
 */

/** One thing someone said: a chat message, or a segment of a call's transcript. */
export type Line = {
  /** The timeline item: the message, or the call's item for a transcript segment. */
  itemId: string;
  /** Unique within the conversation: the item id, `<call item id>#<segment index>` for a segment. */
  key: string;
  role: "agent" | "customer";
  text: string;
  /** Epoch ms (a segment: its call's start plus its offset). */
  at: number;
  agentId: string | null;
};

export type CallFacts = {
  itemId: string;
  agentId: string | null;
  ended: boolean;
  holdSeconds: number;
  startedAt: number;
  segments: TranscriptSegment[];
};

export type ConversationFacts = {
  /** Chat lines in time order (notes and bot messages excluded by the caller). */
  messages: Line[];
  calls: CallFacts[];
  resolved: boolean;
  /** Who the conversation was assigned to and when ("assigned" timeline events), in time order. */
  assignments: { at: number; assigneeId: string | null }[];
  assigneeId: string | null;
  now: number;
};

export type ScorecardRule = {
  id: string;
  name: string;
  kind: QaRuleKind;
  config: RuleConfig;
  severity: QaSeverity;
  weight: number;
  appliesTo: string;
  enabled: boolean;
  /** Its findings are pushed to supervisors the moment they are first found. */
  alert?: boolean;
};

export type Finding = {
  ruleId: string;
  rule: string;
  kind: QaRuleKind;
  severity: QaSeverity;
  weight: number;
  /** "" when the finding is about the whole conversation. */
  itemKey: string;
  itemId: string | null;
  excerpt: string;
  agentId: string | null;
  alert: boolean;
};

export type Scorecard = {
  findings: Finding[];
  sentiment: { start: number; end: number; trend: number } | null;
};

/** A thread is judged on its own for greeting and closing: the chat, or one call. */
type Thread = { lines: Line[]; finished: boolean; source: "chat" | "call" };

const matcherCache = new WeakMap<RuleConfig, { find(text: string): { index: number } | undefined }>();

/** The rule's phrases and patterns as one matcher, compiled once per config object. */
function matcherOf(config: RuleConfig) {
  let m = matcherCache.get(config);
  if (!m) {
    const phrases: PhraseMatcher = phraseMatcher(config.phrases ?? []);
    const patterns = (config.patterns ?? []).map((p, i) => compilePattern(p, `config.patterns.${i}`));
    m = {
      find(text) {
        const hit = phrases.find(text);
        if (hit) return hit;
        for (const re of patterns) {
          const r = re.exec(text);
          if (r) return { index: r.index };
        }
        return undefined;
      },
    };
    matcherCache.set(config, m);
  }
  return m;
}

/**
 * Whether a customer's new line could raise an alert at once: an alerting complaint rule whose phrases it
 * holds, or an alerting sentiment rule (the trend moves with every line). Only such lines are scored within
 * the listener's debounce; the rest wait for the agent's next action, the sweep or a read of the score
 * (which scores a stale conversation on demand), so a flood of customers' messages does not rescore every
 * conversation on every message.
 */
export function customerLineMayAlert(rules: ScorecardRule[], text: string) {
  return rules.some(
    (r) =>
      r.enabled &&
      r.alert &&
      r.appliesTo !== "call" &&
      (r.kind === "sentiment" || (r.kind === "complaint" && matcherOf(r.config).find(text) !== undefined)),
  );
}

/** The call's transcript segments as lines, in time order. */
export function callLines(call: CallFacts): Line[] {
  return call.segments.map((s, i) => ({
    itemId: call.itemId,
    key: `${call.itemId}#${i}`,
    role: s.speaker,
    text: s.text,
    at: call.startedAt + s.startS * 1000,
    agentId: s.speaker === "agent" ? call.agentId : null,
  }));
}

function threadsOf(facts: ConversationFacts, appliesTo: string): Thread[] {
  const threads: Thread[] = [];
  if (appliesTo !== "call" && facts.messages.length)
    threads.push({ lines: facts.messages, finished: facts.resolved, source: "chat" });
  if (appliesTo !== "chat")
    for (const c of facts.calls)
      if (c.segments.length) threads.push({ lines: callLines(c), finished: c.ended, source: "call" });
  return threads;
}

/** Milliseconds the conversation was assigned to someone between two instants. */
export function assignedMs(facts: ConversationFacts, from: number, to: number) {
  // No assignment recorded (imported, or assigned before events were kept): its assignee now counts.
  if (!facts.assignments.length) return facts.assigneeId ? Math.max(0, to - from) : 0;
  let total = 0;
  for (let i = 0; i < facts.assignments.length; i++) {
    const a = facts.assignments[i]!;
    if (!a.assigneeId) continue;
    const start = Math.max(a.at, from);
    const end = Math.min(facts.assignments[i + 1]?.at ?? Infinity, to);
    if (end > start) total += end - start;
  }
  return total;
}

const finding = (rule: ScorecardRule, f: Pick<Finding, "itemKey" | "itemId" | "excerpt" | "agentId">): Finding => ({
  alert: rule.alert ?? false,
  ruleId: rule.id,
  rule: rule.name,
  kind: rule.kind,
  severity: rule.severity,
  weight: rule.weight,
  ...f,
});

/** A finding on one line; a customer's line is put down to the agent the conversation is with. */
const fromLine = (rule: ScorecardRule, l: Line, agentId: string | null, index = 0) =>
  finding(rule, {
    itemKey: l.key,
    itemId: l.itemId,
    excerpt: excerptAround(l.text, index),
    agentId: l.agentId ?? agentId,
  });

const duration = (s: number) => (s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`);

function evaluate(rule: ScorecardRule, facts: ConversationFacts): Finding[] {
  const out: Finding[] = [];
  const threads = threadsOf(facts, rule.appliesTo);
  const lines = threads.flatMap((t) => t.lines);
  const max = rule.config.maxSeconds ?? 0;
  switch (rule.kind) {
    case "greeting":
      for (const t of threads) {
        const first = t.lines.find((l) => l.role === "agent");
        if (first && !matcherOf(rule.config).find(first.text)) out.push(fromLine(rule, first, facts.assigneeId));
      }
      break;
    case "closing":
      // Judged once the thread is over: mid-conversation every last message would fail it.
      for (const t of threads) {
        const last = t.lines.findLast((l) => l.role === "agent");
        if (t.finished && last && !matcherOf(rule.config).find(last.text))
          out.push(fromLine(rule, last, facts.assigneeId));
      }
      break;
    case "forbidden_phrase":
    case "promise":
    case "complaint": {
      const role = rule.kind === "complaint" ? "customer" : "agent";
      for (const l of lines) {
        if (l.role !== role) continue;
        const hit = matcherOf(rule.config).find(l.text);
        if (hit) out.push(fromLine(rule, l, facts.assigneeId, hit.index));
      }
      break;
    }
    case "response_gap": {
      if (rule.appliesTo === "call") break;
      // The first of the customer's unanswered messages waits until the next agent message; only the
      // time the conversation was assigned counts (a queue's wait is the ACD's, not the agent's).
      let waiting: Line | undefined;
      const judge = (until: number, answered: boolean) => {
        if (!waiting) return;
        const s = assignedMs(facts, waiting.at, until) / 1000;
        if (s > max)
          out.push(
            finding(rule, {
              itemKey: waiting.key,
              itemId: waiting.itemId,
              excerpt: `${answered ? "Answered after" : "Unanswered for"} ${duration(s)}: ${excerptAround(waiting.text, 0, 60)}`,
              agentId: facts.assigneeId,
            }),
          );
      };
      for (const l of facts.messages) {
        if (l.role === "customer") waiting ??= l;
        else {
          judge(l.at, true);
          waiting = undefined;
        }
      }
      if (!facts.resolved) judge(facts.now, false);
      break;
    }
    case "silence":
      for (const c of facts.calls) {
        const segs = [...c.segments].sort((a, b) => a.startS - b.startS);
        for (let i = 1; i < segs.length; i++) {
          const gap = segs[i]!.startS - Math.max(...segs.slice(0, i).map((s) => s.endS));
          if (gap > max)
            out.push(
              finding(rule, {
                itemKey: `${c.itemId}#silence@${segs[i]!.startS}`,
                itemId: c.itemId,
                excerpt: `Silence of ${duration(gap)} at ${duration(segs[i - 1]!.endS)}`,
                agentId: c.agentId,
              }),
            );
        }
      }
      break;
    case "hold":
      for (const c of facts.calls)
        if (c.holdSeconds > max)
          out.push(
            finding(rule, {
              itemKey: `${c.itemId}#hold`,
              itemId: c.itemId,
              excerpt: `On hold for ${duration(c.holdSeconds)}`,
              agentId: c.agentId,
            }),
          );
      break;
    case "sentiment": {
      const trend = sentimentTrend(lines.filter((l) => l.role === "customer").map((l) => l.text));
      if (trend && trend.end <= (rule.config.threshold ?? -0.3)) {
        const lastCustomer = lines.findLast((l) => l.role === "customer")!;
        out.push(
          finding(rule, {
            itemKey: "",
            itemId: lastCustomer.itemId,
            excerpt: `Customer sentiment ${trend.start} → ${trend.end}: ${excerptAround(lastCustomer.text, 0, 60)}`,
            agentId: facts.assigneeId,
          }),
        );
      }
      break;
    }
  }
  return out;
}

/** Every enabled rule over the conversation, and the customer's sentiment over all their lines. */
export function runScorecard(rules: ScorecardRule[], facts: ConversationFacts): Scorecard {
  const findings = rules.filter((r) => r.enabled).flatMap((r) => evaluate(r, facts));
  const customer = [...facts.messages, ...facts.calls.flatMap(callLines)]
    .filter((l) => l.role === "customer")
    .sort((a, b) => a.at - b.at)
    .map((l) => l.text);
  return { findings, sentiment: sentimentTrend(customer) };
}

/**
 * The score: 100 minus the weight of each finding not dismissed by a reviewer, floored at 0. A rule
 * that finds three things costs three times its weight.
 */
export function scoreOf(findings: { weight: number; dismissed?: boolean }[]) {
  return Math.max(0, 100 - findings.reduce((sum, f) => sum + (f.dismissed ? 0 : f.weight), 0));
}
