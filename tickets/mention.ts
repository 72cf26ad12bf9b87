/** A workspace user as @mentions know them. */
export type Mentionable = { id: string; name: string; email: string };

const isWordChar = (ch: string | undefined) => ch !== undefined && /[\p{L}\p{N}_.-]/u.test(ch);
const isHan = (ch: string | undefined) => ch !== undefined && /\p{Script=Han}/u.test(ch);

/**
 * The users a comment @mentions, by their name (`@Li Lei`, `@王芳`) or the part of their email before
 * the @ (`@lilei`), case-insensitive. Names are tried longest first so `@Anna Li` is not taken for
 * `@Anna`. A Latin handle must end at a word boundary (`@ann` is not `@anna`); a Chinese name needs
 * none, since Chinese runs on without spaces (`@王芳请看一下`).
 */
export function mentionedUsers(body: string, users: Mentionable[]): string[] {
  const handles = users
    .flatMap((u) => [
      { id: u.id, handle: u.name.trim() },
      { id: u.id, handle: u.email.slice(0, u.email.indexOf("@")) },
    ])
    .filter((h) => h.handle.length > 0)
    .sort((a, b) => b.handle.length - a.handle.length);
  const found = new Set<string>();
  const lower = body.toLowerCase();
  for (let at = lower.indexOf("@"); at !== -1; at = lower.indexOf("@", at + 1)) {
    // An email address in the text (someone@example.com) mentions nobody.
    if (isWordChar(lower[at - 1]) && !isHan(lower[at - 1])) continue;
    for (const { id, handle } of handles) {
      const h = handle.toLowerCase();
      if (!lower.startsWith(h, at + 1)) continue;
      const next = lower[at + 1 + h.length];
      if (isHan(h[h.length - 1]) || !isWordChar(next) || (next === "." && !isWordChar(lower[at + 2 + h.length]))) {
        found.add(id);
        break;
      }
    }
  }
  return [...found];
}
