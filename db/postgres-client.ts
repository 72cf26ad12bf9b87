import type postgres from "postgres";

/** Statement texts prepared per period; beyond this, new texts run unprepared until the next one. */
const PREPARED_TEXTS = 500;
/** A period's length. postgres.js closes each connection after 30–60 minutes (its max_lifetime). */
const PERIOD_MS = 30 * 60_000;

/**
 * PostgreSQL as drizzle should see it: statements sent more than once go out as named prepared
 * statements.
 * - drizzle asks postgres.js for unnamed statements. For every statement with parameters
 *   postgres.js then sends parse and describe, waits for the answer, and only then binds and
 *   executes: two round trips per statement, none pipelined behind another, and the server parses
 *   and plans it every time. A prepared statement is bound and executed in one round trip, several
 *   go out together, and the server may reuse its plan. On `bench voice` the database's CPU per
 *   webhook fell by a quarter to two fifths, and p50 by half or more.
 * - Each connection keeps what it prepared until it closes, so which texts are prepared is bounded
 *   (StatementTexts). A statement whose table changed is prepared again by postgres.js itself.
 */
export function preparedPostgres(pg: postgres.Sql, texts = new StatementTexts()): postgres.Sql {
  return withPreparedStatements(pg, texts);
}

/** The client, or a transaction's (or savepoint's) client within it, deciding per statement. */
function withPreparedStatements<T extends object>(client: T, texts: StatementTexts): T {
  const sql = client as unknown as postgres.Sql;
  const own = new Map<PropertyKey, unknown>([
    [
      "unsafe",
      (text: string, params?: unknown[], options?: { prepare?: boolean }) =>
        sql.unsafe(text, params as never, { ...options, prepare: options?.prepare || (!!params?.length && texts.prepare(text)) }),
    ],
  ]);
  // drizzle runs a transaction's statements on the client postgres.js hands its callback.
  for (const name of ["begin", "savepoint"]) {
    const open = (client as Record<string, unknown>)[name];
    if (typeof open !== "function") continue;
    own.set(name, (...args: unknown[]) => {
      const work = args.at(-1) as (inner: object) => unknown;
      return (open as (...a: unknown[]) => unknown).apply(client, [...args.slice(0, -1), (inner: object) => work(withPreparedStatements(inner, texts))]);
    });
  }
  // Every statement reads a property or two of the client: bound once, not per read (postgres.js
  // never replaces its client's functions).
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(client, {
    get(target, prop) {
      if (own.has(prop)) return own.get(prop);
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== "function") return value;
      let fn = bound.get(prop);
      if (!fn) bound.set(prop, (fn = (value as (...args: unknown[]) => unknown).bind(target)));
      return fn;
    },
  });
}

/**
 * Which statement texts to prepare. A text is prepared from the second time it is seen, so the one
 * of a kind (a report, a batch of an unusual size) does not take a place; at most `capacity` texts
 * per period. A new period starts afresh. postgres.js closes a connection within two periods of
 * opening it, so it spans at most three, and holds at most three periods' texts (1,500).
 */
export class StatementTexts {
  private admitted = new Set<string>();
  private seen = new Set<string>();
  private periodStart: number;

  constructor(
    private readonly capacity = PREPARED_TEXTS,
    private readonly periodMs = PERIOD_MS,
    private readonly now: () => number = Date.now,
  ) {
    this.periodStart = now();
  }

  prepare(text: string): boolean {
    if (this.now() - this.periodStart >= this.periodMs) {
      this.admitted = new Set();
      this.seen = new Set();
      this.periodStart = this.now();
    }
    if (this.admitted.has(text)) return true;
    if (this.admitted.size >= this.capacity) return false;
    if (this.seen.delete(text)) {
      this.admitted.add(text);
      return true;
    }
    // Texts seen once are only a filter: forgetting them costs a text one more unprepared run.
    if (this.seen.size >= 4 * this.capacity) this.seen.clear();
    this.seen.add(text);
    return false;
  }
}
