/**
 * The `{{1}}`, `{{2}}`… placeholders of a WhatsApp template body. Imports nothing, so the agent inbox
 * bundles the same functions for its live preview that the reply uses to fill the text the customer reads.
 */

const PLACEHOLDER = /\{\{\s*(\d{1,3})\s*\}\}/g;

/** The numbers of a body's placeholders, each once, in numeric order: "Hi {{1}}, {{2}}" → ["1", "2"]. */
export function templatePlaceholders(body: string): string[] {
  const found = new Set([...body.matchAll(PLACEHOLDER)].map((m) => String(Number(m[1]))));
  return [...found].sort((a, b) => Number(a) - Number(b));
}

/** The body as the customer reads it: each placeholder replaced by its value (left as is without one). */
export function fillTemplate(body: string, variables: Record<string, string>): string {
  return body.replace(PLACEHOLDER, (whole, n: string) => variables[String(Number(n))] ?? whole);
}
