import { can, type Role } from "./permission.ts";

/**
 * Personal data found in free text (docs/privacy.md): mainland China resident ID numbers (GB 11643, with
 * its ISO 7064 MOD 11-2 check character and a real birth date), bank-card numbers (Luhn, a card network's
 * leading digits), phone numbers (mainland mobiles, E.164) and email addresses. Pure and fast: it runs on
 * every message an agent without `pii` reads, and on every log line.
 */
export const piiKinds = ["id", "card", "phone", "email"] as const;
export type PiiKind = (typeof piiKinds)[number];
export type PiiSpan = { kind: PiiKind; start: number; end: number; text: string };

/** Without `pii`: what the inbox hides (ID and card numbers; phones and emails serve the conversation). */
export const VIEW_MASK: readonly PiiKind[] = ["id", "card"];
/** Exports, reports and logs hide all four. */
export const EXPORT_MASK: readonly PiiKind[] = piiKinds;

// Nothing can be personal data unless it has two groups of four digits, an '@' or a '+' before a digit:
// one cheap test that lets most messages skip the detectors.
const MAYBE = /\d{4}[ -]?\d{4}|@|\+\d/;

// Digit runs are taken whole: a number inside a longer run of letters or digits (an order number, a
// SID) is not a match, and neither is any part of it.
// Written whole, or as 6-8-4 groups (region, birth date, sequence and check) split by spaces or dashes.
const ID = /(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{6}([ -])\d{8}\1\d{3}[\dXx])(?![0-9A-Za-z])/g;
// A run of digit groups separated by single spaces or dashes; cards are looked for among its groups.
// Bounded (at most 40 groups, groups of at most 19 digits) so an adversarial run costs linear time.
const DIGIT_GROUPS = /(?<![0-9A-Za-z+-])\d{1,19}(?:[ -]\d{1,19}){0,40}(?![0-9A-Za-z])/g;
const MOBILE = /(?<![0-9A-Za-z+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9A-Za-z])/g;
const E164 = /(?<![0-9A-Za-z+])\+[1-9](?:[ -]?\d){6,14}(?![0-9A-Za-z])/g;
const EMAIL =
  /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b/g;

// Province-level codes GB/T 2260 assigns (the first two digits of every resident ID).
const PROVINCES = new Set([
  11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63,
  64, 65, 71, 81, 82, 83, 91,
]);
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/** GB 11643's check character (ISO 7064 MOD 11-2) of the first 17 digits. */
export function residentIdCheck(first17: string) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

export function isResidentId(s: string) {
  if (!/^\d{17}[\dXx]$/.test(s) || !PROVINCES.has(Number(s.slice(0, 2)))) return false;
  const y = Number(s.slice(6, 10));
  const m = Number(s.slice(10, 12));
  const d = Number(s.slice(12, 14));
  const born = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || born.getUTCMonth() !== m - 1 || born.getUTCDate() !== d || born.getTime() > Date.now()) return false;
  return residentIdCheck(s) === s[17]!.toUpperCase();
}

export function luhn(digits: string) {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let n = digits.charCodeAt(i) - 48;
    if (double && (n *= 2) > 9) n -= 9;
    sum += n;
  }
  return sum % 10 === 0;
}

// Visa 4, Mastercard 51–55 and 2221–2720, Amex 34/37, JCB 35, Discover and UnionPay 6: an order number or
// a millisecond timestamp (starting 1) is never taken for a card because its digits happen to pass Luhn.
const CARD_NETWORK = /^(4|5[1-5]|2[2-7]|3[47]|35|6)/;

export function isCardNumber(s: string) {
  const digits = s.replace(/[ -]/g, "");
  return digits.length >= 13 && digits.length <= 19 && CARD_NETWORK.test(digits) && luhn(digits);
}

/**
 * Cards in one run of digit groups: the whole run when it is one number, else the first stretch of whole
 * groups written as cards are (groups of 4–6, the last of 3 or more) whose digits make a card number.
 */
function cardsIn(run: string, offset: number, into: PiiSpan[]) {
  const groups: { start: number; end: number; len: number }[] = [];
  const re = /\d+/g;
  for (let m = re.exec(run); m; m = re.exec(run))
    groups.push({ start: m.index, end: m.index + m[0].length, len: m[0].length });
  for (let i = 0; i < groups.length; i++) {
    let digits = 0;
    for (let j = i; j < groups.length; j++) {
      digits += groups[j]!.len;
      if (digits > 19) break;
      const whole = i === j;
      if (!whole && (groups[j - 1]!.len < 4 || groups[j - 1]!.len > 6 || groups[j]!.len < 3)) break;
      if (digits < 13) continue;
      const text = run.slice(groups[i]!.start, groups[j]!.end);
      if (!isCardNumber(text)) continue;
      into.push({ kind: "card", start: offset + groups[i]!.start, end: offset + groups[j]!.end, text });
      i = j;
      break;
    }
  }
}

function collect(text: string, re: RegExp, kind: PiiKind, valid: (s: string) => boolean, into: PiiSpan[]) {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text))
    if (valid(m[0])) into.push({ kind, start: m.index, end: m.index + m[0].length, text: m[0] });
}

/** Every piece of personal data in `text`, in order, never overlapping (an ID before a card, before a phone). */
export function findPii(text: string, kinds: readonly PiiKind[] = piiKinds): PiiSpan[] {
  if (!text || !MAYBE.test(text)) return [];
  const found: PiiSpan[] = [];
  const want = new Set(kinds);
  // In order of precedence: an 18-digit ID that also passes Luhn is an ID.
  if (want.has("id") || want.has("card")) collect(text, ID, "id", (s) => isResidentId(s.replace(/[ -]/g, "")), found);
  if (want.has("card")) {
    DIGIT_GROUPS.lastIndex = 0;
    for (let m = DIGIT_GROUPS.exec(text); m; m = DIGIT_GROUPS.exec(text))
      if (m[0].length >= 13) cardsIn(m[0], m.index, found);
  }
  if (want.has("phone")) {
    collect(text, MOBILE, "phone", () => true, found);
    collect(text, E164, "phone", () => true, found);
  }
  if (want.has("email")) collect(text, EMAIL, "email", () => true, found);
  const spans: PiiSpan[] = [];
  for (const span of found) {
    if (spans.some((s) => span.start < s.end && s.start < span.end)) continue;
    if (want.has(span.kind)) spans.push(span);
    // An ID that was looked for only to keep it from reading as a card still blocks the card.
    else spans.push({ ...span, kind: "id", text: "" });
  }
  return spans.filter((s) => s.text !== "").sort((a, b) => a.start - b.start);
}

/** Stars over every digit of `s` outside the first `head` and last `tail` digits; separators stay. */
function starDigits(s: string, head: number, tail: number) {
  const total = s.replace(/[^\dXx]/g, "").length;
  let seen = 0;
  return s.replace(/[\dXx]/g, (ch) => {
    seen++;
    return seen <= head || seen > total - tail ? ch : "*";
  });
}

/** How each kind is shown masked: ID 110105********1234, card 411111******1111, phone 138****5678, z***@example.com. */
export function maskSpan(span: Pick<PiiSpan, "kind" | "text">) {
  const t = span.text;
  switch (span.kind) {
    case "id":
      return starDigits(t, 6, 4);
    case "card":
      return starDigits(t, 6, 4);
    case "phone": {
      // The mainland's +86 prefix stays readable; of the number itself the first three and last four digits.
      const prefix = /^(?:\+|00)86[ -]?/.exec(t)?.[0] ?? "";
      const rest = t.slice(prefix.length);
      const digits = rest.replace(/\D/g, "").length;
      return prefix + starDigits(rest, Math.min(3, digits - 5), 4);
    }
    case "email": {
      const at = t.indexOf("@");
      return `${t[0]}***${t.slice(at)}`;
    }
  }
}

/** `text` with the personal data of `kinds` masked; text without any comes back as the same string. */
export function maskPii(text: string, kinds: readonly PiiKind[] = piiKinds) {
  const spans = findPii(text, kinds);
  if (!spans.length) return text;
  let out = "";
  let at = 0;
  for (const s of spans) {
    out += text.slice(at, s.start) + maskSpan(s);
    at = s.end;
  }
  return out + text.slice(at);
}

// A provider's id of a message or call (a WeChat MsgId is 19 digits) is no one's personal data, and clients
// match deliveries by it: never masked.
const PROVIDER_ID_KEYS = new Set(["externalId"]);

/**
 * Every string inside a JSON value masked (keys untouched; provider ids kept); the same object when
 * nothing needed masking.
 */
export function maskDeep<T>(value: T, kinds: readonly PiiKind[] = piiKinds): T {
  if (typeof value === "string") return maskPii(value, kinds) as T;
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const m = maskDeep(v, kinds);
      changed ||= m !== v;
      return m;
    });
    return (changed ? out : value) as T;
  }
  if (value && typeof value === "object" && !(value instanceof Date)) {
    let changed = false;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const m = PROVIDER_ID_KEYS.has(k) ? v : maskDeep(v, kinds);
      changed ||= m !== v;
      out[k] = m;
    }
    return (changed ? out : value) as T;
  }
  return value;
}

/**
 * The one rule of who sees what: with `pii` everything; without it, ID and card numbers are masked in
 * what the inbox shows, and phones and emails too in exports and reports.
 */
export function maskFor(actor: { role: Role }, use: "view" | "export"): readonly PiiKind[] {
  if (can(actor, "pii")) return [];
  return use === "view" ? VIEW_MASK : EXPORT_MASK;
}
