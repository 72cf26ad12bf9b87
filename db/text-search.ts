import { sql, type AnyColumn, type SQL } from "drizzle-orm";

/**
 * `%`, `_` and `\` typed by a user are literal characters, not LIKE wildcards: a search for "50%"
 * finds "50%", not "500".
 */
export function likeContains(q: string) {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Case-insensitive "contains" for a search box; backslash is the escape character it relies on. */
export function containsText(column: AnyColumn | SQL, q: string): SQL {
  return sql`${column} ILIKE ${likeContains(q)} ESCAPE '\\'`;
}
