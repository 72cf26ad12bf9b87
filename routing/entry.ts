import type { EntryConditions, PriorityRule } from "../db/schema/index.ts";

/** What entry rules look at when a conversation arrives. */
export type Arrival = {
  inboxId: string;
  channel: string;
  text: string | null;
  attributes: Record<string, unknown>;
  /** BCP 47 tag if known (from the widget's locale, a mailbox's setting…). */
  language?: string | null;
};

/**
 * Keywords match as substrings, case-insensitively: Chinese has no spaces between words, so "退款"
 * must match "我要退款。" — and "refund" should match "Refunds?".
 */
function mentions(text: string, keywords: string[]) {
  const haystack = text.toLocaleLowerCase();
  return keywords.some((k) => haystack.includes(k.toLocaleLowerCase()));
}

function sameValue(actual: unknown, expected: string | number | boolean) {
  return actual === expected || (actual !== undefined && actual !== null && String(actual) === String(expected));
}

export function matches(conditions: EntryConditions, arrival: Arrival) {
  const c = conditions;
  if (c.inboxIds?.length && !c.inboxIds.includes(arrival.inboxId)) return false;
  if (c.channels?.length && !c.channels.includes(arrival.channel)) return false;
  if (c.keywords?.length && !mentions(arrival.text ?? "", c.keywords)) return false;
  if (c.attributes && !Object.entries(c.attributes).every(([k, v]) => sameValue(arrival.attributes[k], v)))
    return false;
  if (c.languages?.length) {
    const lang = arrival.language?.toLowerCase();
    if (!lang || !c.languages.some((l) => lang === l.toLowerCase() || lang.startsWith(`${l.toLowerCase()}-`)))
      return false;
  }
  return true;
}

/** The first rule (in order) whose conditions all hold, or undefined. */
export function chooseQueue<R extends { queueId: string; conditions: EntryConditions }>(
  rules: R[],
  arrival: Arrival,
): R | undefined {
  return rules.find((r) => matches(r.conditions, arrival));
}

/** The highest priority any matching rule gives (0 when none matches). */
export function priorityFor(rules: PriorityRule[], attributes: Record<string, unknown>) {
  return rules.reduce(
    (best, r) => (sameValue(attributes[r.attribute], r.equals) ? Math.max(best, r.priority) : best),
    0,
  );
}
