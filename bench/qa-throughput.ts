/**
 * QA scoring throughput: the pure scorecard (quality/scorecard.ts) over synthetic zh and en
 * conversations on one core, no database — what one node spends to score a conversation once.
 * `bun run bench qa`; `qaThroughput()` is also called by `bun run bench reports`.
 */
import { DEFAULT_SCORECARD } from "../quality/rule-kind.ts";
import { runScorecard, scoreOf, type ConversationFacts, type Line, type ScorecardRule } from "../quality/scorecard.ts";

const ZH_CUSTOMER = [
  "你好，我的订单还没到",
  "已经等了三天了",
  "太慢了，我很不满意",
  "好的，谢谢",
  "能退款吗？",
  "我要投诉",
];
const ZH_AGENT = [
  "您好，请问有什么可以帮您？",
  "我帮您查一下订单",
  "非常抱歉让您久等了",
  "已为您催促快递",
  "感谢您的耐心，再见",
];
const EN_CUSTOMER = [
  "Hi, my package is late",
  "It has been a week",
  "This is ridiculous, I am not happy",
  "ok thanks",
  "I want a full refund",
];
const EN_AGENT = [
  "Hello, how can I help?",
  "Let me check your order",
  "Sorry for the wait",
  "I guarantee it ships today",
  "Anything else? Goodbye",
];

/** A conversation of `lines` messages alternating customer and agent, Chinese or English. */
function synthetic(i: number, lines = 20): ConversationFacts {
  const zh = i % 2 === 0;
  const [customer, agent] = zh ? [ZH_CUSTOMER, ZH_AGENT] : [EN_CUSTOMER, EN_AGENT];
  const t0 = Date.UTC(2026, 0, 1) + i * 60_000;
  const messages: Line[] = Array.from({ length: lines }, (_, k) => {
    const role = k % 2 === 0 ? "customer" : "agent";
    const list = role === "customer" ? customer : agent;
    return {
      itemId: `i${i}-${k}`,
      key: `i${i}-${k}`,
      role,
      text: list[(i + k) % list.length]!,
      at: t0 + k * 45_000 * (1 + (i % 5)),
      agentId: role === "agent" ? "a1" : null,
    };
  });
  return {
    messages,
    calls: [],
    resolved: i % 3 !== 0,
    assignments: [{ at: t0, assigneeId: "a1" }],
    assigneeId: "a1",
    now: t0 + 3_600_000,
  };
}

export async function qaThroughput(options: { conversations?: number } = {}): Promise<{
  convPerSec: number;
  cpuMsPerConv: number;
  wallConvPerSec: number;
}> {
  const n = options.conversations ?? 20_000;
  const rules: ScorecardRule[] = DEFAULT_SCORECARD.map((r, i) => ({ ...r, id: `r${i}`, enabled: true }));
  const conversations = Array.from({ length: n }, (_, i) => synthetic(i));
  // Warm-up: compile the rules' matchers and let the JIT settle.
  for (const c of conversations.slice(0, 500)) runScorecard(rules, c);
  let findings = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (const c of conversations) {
    const card = runScorecard(rules, c);
    findings += card.findings.length;
    scoreOf(card.findings);
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (!findings) throw new Error("the synthetic conversations found nothing: the benchmark measures no work");
  const cpuMs = (cpu.user + cpu.system) / 1000;
  // Per CPU-second of this one thread: on a shared machine the wall clock also counts other processes'
  // turns, which is why the wall-clock rate is printed beside it, not used.
  return {
    convPerSec: Math.round(n / (cpuMs / 1000)),
    cpuMsPerConv: Math.round((cpuMs / n) * 1000) / 1000,
    wallConvPerSec: Math.round(n / (wallMs / 1000)),
  };
}

export async function benchQa({ json }: { json: boolean }) {
  const r = await qaThroughput();
  if (json) console.log(JSON.stringify(r));
  else
    console.log(
      `QA scoring: ${r.convPerSec} conversations per CPU-second on one core, ${r.cpuMsPerConv} ms CPU each ` +
        `(20 messages, 9 rules; wall clock here: ${r.wallConvPerSec}/s)`,
    );
}
