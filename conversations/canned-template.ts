/**
 * Filling in a canned response. Pure and import-free: the inbox's browser bundle uses the same code,
 * so what an agent previews is what gets sent.
 */

/** A shortcut: letters and digits of any script (退款 works), `_` and `-`. */
export const SHORTCUT_PATTERN = /^[\p{L}\p{N}_-]{1,50}$/u;

const PLACEHOLDER = /\{\{\s*([\p{L}\p{N}_.-]+)\s*\}\}/gu;

/**
 * Replaces `{{ name }}` and `{{contact.name}}` placeholders with their value, or with nothing when
 * the value is missing; every other character stays as written.
 */
export function renderTemplate(body: string, vars: Record<string, string | null | undefined>): string {
  // Own keys only: "{{constructor}}" must not print a function from Object's prototype.
  return body.replace(PLACEHOLDER, (_, name: string) => (Object.hasOwn(vars, name) ? (vars[name] ?? "") : ""));
}
