import { isCjk } from "./phrase.ts";

/**
 * A small lexicon-based sentiment scorer for Chinese and English customer messages.
 *
 * Source of the lexicon: a short list hand-curated for Switchboard by its authors (about 40 words a
 * language, chosen from what customers write to a contact center). It is not drawn from HowNet, NTUSD,
 * AFINN or Bing Liu's opinion lexicon, so no third-party licence applies; docs/quality.md says how to
 * swap in a larger one. Each word carries a polarity from -2 (strongly negative) to +2.
 */
export const SENTIMENT_LEXICON_SOURCE = "hand-curated for Switchboard (docs/quality.md)";

const ZH: Record<string, number> = {
  满意: 2,
  谢谢: 1,
  感谢: 1,
  好的: 1,
  很好: 2,
  太好了: 2,
  不错: 1,
  开心: 1,
  高兴: 1,
  解决了: 2,
  方便: 1,
  专业: 1,
  耐心: 1,
  及时: 1,
  棒: 2,
  喜欢: 1,
  帮助: 1,
  放心: 1,
  不满: -2,
  失望: -2,
  生气: -2,
  愤怒: -2,
  垃圾: -2,
  太差: -2,
  差劲: -2,
  糟糕: -2,
  骗子: -2,
  欺骗: -2,
  麻烦: -1,
  慢: -1,
  着急: -1,
  退款: -1,
  问题: -1,
  故障: -1,
  坏了: -1,
  错误: -1,
  投诉: -2,
  恶心: -2,
  烦: -1,
  无语: -1,
  离谱: -2,
  难用: -2,
};
const EN: Record<string, number> = {
  thanks: 1,
  thank: 1,
  great: 2,
  good: 1,
  happy: 1,
  glad: 1,
  perfect: 2,
  excellent: 2,
  helpful: 1,
  resolved: 1,
  love: 2,
  awesome: 2,
  appreciate: 1,
  satisfied: 2,
  fast: 1,
  quick: 1,
  nice: 1,
  kind: 1,
  bad: -1,
  terrible: -2,
  awful: -2,
  angry: -2,
  upset: -2,
  disappointed: -2,
  frustrated: -2,
  annoyed: -1,
  useless: -2,
  worst: -2,
  horrible: -2,
  slow: -1,
  broken: -1,
  problem: -1,
  issue: -1,
  wrong: -1,
  ridiculous: -2,
  unacceptable: -2,
  scam: -2,
  hate: -2,
  complaint: -2,
  refund: -1,
  waiting: -1,
  unhappy: -2,
};
// A negator right before a word flips it: 不满意, 没有帮助, "not happy", "never helpful".
const ZH_NEGATORS = ["并不", "不太", "没有", "不是", "不", "没", "别", "未", "无"];
const EN_NEGATORS = new Set([
  "not",
  "no",
  "never",
  "hardly",
  "isn't",
  "wasn't",
  "don't",
  "didn't",
  "doesn't",
  "aren't",
  "won't",
  "can't",
  "cannot",
  "nothing",
]);

const zhWords = Object.keys(ZH).sort((a, b) => b.length - a.length);

/** Polarities found in one text, negation applied. */
function hits(text: string): number[] {
  const out: number[] = [];
  if (isCjk(text)) {
    let i = 0;
    while (i < text.length) {
      const word = zhWords.find((w) => text.startsWith(w, i));
      if (!word) {
        i++;
        continue;
      }
      const before = text.slice(Math.max(0, i - 2), i);
      const negated = ZH_NEGATORS.some((n) => before.endsWith(n)) && !word.startsWith("不");
      out.push(negated ? -ZH[word]! : ZH[word]!);
      i += word.length;
    }
  }
  const tokens = text.toLowerCase().match(/[a-z']+/g) ?? [];
  tokens.forEach((t, i) => {
    const p = EN[t] ?? EN[t.replace(/'s$/, "")];
    if (p === undefined) return;
    const negated = tokens.slice(Math.max(0, i - 3), i).some((w) => EN_NEGATORS.has(w) || w.endsWith("n't"));
    out.push(negated ? -p : p);
  });
  return out;
}

/** One message's sentiment, -1 … 1 (0 when no lexicon word is in it). */
export function messageSentiment(text: string): number {
  const h = hits(text);
  if (!h.length) return 0;
  return Math.max(-1, Math.min(1, h.reduce((a, b) => a + b, 0) / (2 * h.length)));
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const round = (x: number) => Math.round(x * 100) / 100;

/**
 * The customer's sentiment over a conversation: the mean of the first third of their messages that
 * carry any sentiment, of the last third, and the trend (end − start). Null without such messages.
 */
export function sentimentTrend(texts: string[]): { start: number; end: number; trend: number } | null {
  const scores = texts.map(messageSentiment).filter((s) => s !== 0);
  if (!scores.length) return null;
  const third = Math.max(1, Math.ceil(scores.length / 3));
  const start = mean(scores.slice(0, third));
  const end = mean(scores.slice(-third));
  return { start: round(start), end: round(end), trend: round(end - start) };
}
