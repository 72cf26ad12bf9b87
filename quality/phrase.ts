/**
 * Phrase matching for QA rules. Chinese is written without spaces, so a phrase containing CJK
 * characters matches as a substring; any other phrase matches on word boundaries, case-insensitively
 * ("hi" must not fire inside "this", "calm down" must fire in "Please calm down!").
 */
const CJK = /[\u3400-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]/u;

export const isCjk = (phrase: string) => CJK.test(phrase);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A compiled list of phrases: `find` returns the first phrase found in a text and where. */
export type PhraseMatcher = { find(text: string): { phrase: string; index: number } | undefined };

export function phraseMatcher(phrases: readonly string[]): PhraseMatcher {
  const cjk = phrases.filter(isCjk).map((p) => p.toLowerCase());
  const words = phrases.filter((p) => p.trim() && !isCjk(p));
  // Latin letters and digits are the word characters ("café" counts); a Chinese character next to a
  // phrase is no word of it, so 打12315 still matches "12315". One regex for all non-Chinese phrases.
  const re = words.length
    ? new RegExp(
        `(?<![\\p{Script=Latin}\\p{N}])(?:${words.map((w) => escape(w.trim()).replace(/\s+/g, "\\s+")).join("|")})(?![\\p{Script=Latin}\\p{N}])`,
        "iu",
      )
    : undefined;
  return {
    find(text) {
      const lower = text.toLowerCase();
      let best: { phrase: string; index: number } | undefined;
      for (const p of cjk) {
        const i = lower.indexOf(p);
        if (i >= 0 && (!best || i < best.index)) best = { phrase: p, index: i };
      }
      const m = re?.exec(text);
      if (m && (!best || m.index < best.index)) best = { phrase: m[0], index: m.index };
      return best;
    },
  };
}

/** A short excerpt of `text` around `index`, for a finding: what a reviewer reads before opening the item. */
export function excerptAround(text: string, index = 0, width = 80) {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= width) return flat;
  const start = Math.max(0, Math.min(index - Math.floor(width / 3), flat.length - width));
  return `${start > 0 ? "…" : ""}${flat.slice(start, start + width)}${start + width < flat.length ? "…" : ""}`;
}
