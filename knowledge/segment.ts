/**
 * Text → search terms, the same way for documents and queries (pure, no database). Chinese (and other
 * CJK scripts) has no spaces: `Intl.Segmenter` splits it into words and every pair of neighbouring
 * characters is added as a bigram, so a query still matches when the segmenter cut the document
 * differently. Latin-script text is left to Postgres' 'english' configuration, which stems it.
 */

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CJK_RUN = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const LATIN_WORD = /[\p{L}\p{N}]+/gu;

const segmenter = new Intl.Segmenter("zh", { granularity: "word" });

/** Longest query we look at: longer input is cut, never refused (pasted e-mails, logs). */
export const MAX_QUERY_CHARS = 500;
const MAX_QUERY_TERMS = 32;

/** Words the coverage score ignores: they say nothing about which article is meant. */
const STOP = new Set(
  (
    "a am an and are be can could do does for from get got have hello help hi how i in is it me my need of on or please the there this to want was what when where which why will with would you your " +
    "的 了 吗 呢 吧 啊 我 你 您 是 在 有 和 就 都 要 想 我想 怎么 怎样 如何 什么 请问 可以 能 能不能 帮 帮我 一下 好 你好 您好 谢谢 请"
  ).split(" "),
);

function cjkWords(run: string): string[] {
  const words: string[] = [];
  for (const s of segmenter.segment(run)) if (s.isWordLike && CJK.test(s.segment)) words.push(s.segment);
  return words;
}

function bigrams(run: string): string[] {
  const chars = [...run];
  const out: string[] = [];
  for (let i = 0; i + 1 < chars.length; i++) out.push(chars[i]! + chars[i + 1]!);
  return out;
}

/** A field's text split for indexing: Latin text for 'english', CJK words and bigrams for 'simple'. */
export function indexText(text: string): { latin: string; cjk: string } {
  const cjk: string[] = [];
  for (const run of text.match(CJK_RUN) ?? []) {
    cjk.push(...cjkWords(run));
    if ([...run].length > 1) cjk.push(...bigrams(run));
  }
  return { latin: text.replace(CJK_RUN, " "), cjk: cjk.join(" ") };
}

export type QueryTerms = {
  /** Lower-cased Latin-script words (letters and digits only: nothing tsquery could read as syntax). */
  latin: string[];
  /** CJK words from the segmenter plus bigrams. */
  cjk: string[];
  /** The words that carry meaning (no stop words, no bigrams): what "coverage" counts. */
  key: string[];
};

/** A user's query, however long or odd, as a bounded list of safe terms. */
export function queryTerms(q: string): QueryTerms {
  const text = q.slice(0, MAX_QUERY_CHARS).normalize("NFKC");
  const latin = unique(
    (text.replace(CJK_RUN, " ").match(LATIN_WORD) ?? []).map((w) => w.toLowerCase()).filter((w) => w.length <= 40),
  );
  const cjk: string[] = [];
  const cjkKey: string[] = [];
  for (const run of text.match(CJK_RUN) ?? []) {
    const words = cjkWords(run);
    cjkKey.push(...words);
    cjk.push(...words);
    if ([...run].length > 1) cjk.push(...bigrams(run));
  }
  const key = unique([...latin, ...cjkKey]).filter((w) => !STOP.has(w));
  return {
    latin: latin.slice(0, MAX_QUERY_TERMS),
    cjk: unique(cjk).slice(0, MAX_QUERY_TERMS),
    key: key.slice(0, MAX_QUERY_TERMS),
  };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

/** Latin words worth remembering for typo correction (knowledge_terms). */
export function vocabulary(text: string, max = 2000): string[] {
  const words = new Set<string>();
  for (const m of text.replace(CJK_RUN, " ").matchAll(LATIN_WORD)) {
    const w = m[0].toLowerCase();
    if (w.length >= 3 && w.length <= 30 && !/^\d+$/.test(w)) words.add(w);
    if (words.size >= max) break;
  }
  return [...words];
}

/** How a term is found in running text: Latin words by their first letters (stems), CJK as is. */
function needle(term: string) {
  if (CJK.test(term)) return term;
  return term.length > 5 ? term.slice(0, Math.max(4, term.length - 3)) : term;
}

/** Share of the query's key words that occur in `text` (0…1): the bot's confidence in an article. */
export function coverage(terms: QueryTerms, text: string): number {
  if (terms.key.length === 0) return 0;
  const hay = text.toLowerCase();
  const found = terms.key.filter((t) => hay.includes(needle(t))).length;
  return found / terms.key.length;
}

export type Snippet = { snippet: string; highlights: [number, number][] };

/**
 * About `width` characters of `text` around the first query term found, and where each term occurs
 * in it (offsets into `snippet`) so a page can mark them without trusting any markup.
 */
export function snippetOf(text: string, terms: QueryTerms, width = 160): Snippet {
  const flat = text.replace(/\s+/g, " ").trim();
  const lower = flat.toLowerCase();
  const needles = unique([...terms.latin.filter((t) => !STOP.has(t)), ...terms.cjk].map(needle)).filter(
    (n) => n.length > 0,
  );
  let first = -1;
  for (const n of needles) {
    const at = lower.indexOf(n);
    if (at >= 0 && (first < 0 || at < first)) first = at;
  }
  const start = first < 0 ? 0 : Math.max(0, first - Math.floor(width / 3));
  const end = Math.min(flat.length, start + width);
  const prefix = start > 0 ? "…" : "";
  const snippet = prefix + flat.slice(start, end) + (end < flat.length ? "…" : "");
  const hay = snippet.toLowerCase();
  const ranges: [number, number][] = [];
  for (const n of needles) {
    for (let at = hay.indexOf(n); at >= 0; at = hay.indexOf(n, at + n.length)) {
      let end = at + n.length;
      // A Latin stem is marked to the end of its word: "deliv" marks "delivery".
      if (!CJK.test(n)) while (end < hay.length && /[\p{L}\p{N}]/u.test(hay[end]!) && !CJK.test(hay[end]!)) end++;
      ranges.push([at, end]);
    }
  }
  ranges.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  return { snippet, highlights: merged };
}
