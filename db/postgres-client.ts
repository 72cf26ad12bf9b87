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
 * - A transaction's BEGIN goes out with its first statement (`transaction` below).
 */
export function preparedPostgres(pg: postgres.Sql): postgres.Sql {
  return withPreparedStatements(pg, new StatementTexts());
}

/** The client, or a transaction's client within it, deciding per statement. */
function withPreparedStatements<T extends object>(client: T, texts: StatementTexts, inTransaction = false): T {
  const sql = client as unknown as postgres.Sql;
  const own = new Map<PropertyKey, unknown>([
    [
      "unsafe",
      (text: string, params?: unknown[], options?: { prepare?: boolean }) =>
        sql.unsafe(text, params as never, {
          ...options,
          prepare: options?.prepare || (!!params?.length && texts.prepare(text)),
        }),
    ],
  ]);
  // drizzle runs a transaction's statements on the client its callback is handed.
  if (inTransaction)
    own.set("savepoint", (work: (inner: object) => unknown) =>
      savepoint(sql, work, (inner) => withPreparedStatements(inner, texts, true)),
    );
  else {
    own.set("begin", (...args: unknown[]) => {
      const work = args.at(-1) as (inner: object) => unknown;
      const options = args.length > 1 ? String(args[0]) : "";
      return transaction(sql, options, work, (inner) => withPreparedStatements(inner, texts, true));
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
 * A transaction on a connection of its own whose BEGIN goes out with its first statement. postgres.js's
 * own `begin` sends BEGIN and waits for its answer before the first statement: a round trip of its
 * own, each time, which on a busy machine waits for a core. A BEGIN refused would leave the
 * statements behind it outside a transaction, but a plain BEGIN on a connection in no transaction
 * (a reserved one never is in one) is refused only when the connection is lost, and that fails
 * them too.
 */
export async function transaction<T>(
  pg: postgres.Sql,
  options: string,
  work: (tx: object) => T | Promise<T>,
  wrap: (tx: object) => object = (tx) => tx,
): Promise<T> {
  const connection = await pg.reserve();
  try {
    const begun = connection.unsafe(options ? `BEGIN ${options.replace(/[^a-z ]/gi, "")}` : "BEGIN").execute();
    // Read with the answers to the statements behind it; a failure surfaces below. BEGIN with
    // options (an isolation level) could be refused for them: then nothing goes out behind it.
    begun.catch(() => undefined);
    if (options) await begun;
    let result: T;
    try {
      result = await work(wrap(connection));
      await begun;
    } catch (err) {
      await connection.unsafe("ROLLBACK");
      throw err;
    }
    await connection.unsafe("COMMIT");
    return result;
  } finally {
    connection.release();
  }
}

let savepoints = 0;
/** A nested transaction (drizzle's `tx.transaction`): a savepoint, released or rolled back to. */
async function savepoint<T>(
  tx: postgres.Sql,
  work: (inner: object) => T | Promise<T>,
  wrap: (tx: object) => object,
): Promise<T> {
  const name = `sp${savepoints++}`;
  await tx.unsafe(`SAVEPOINT ${name}`);
  try {
    const result = await work(wrap(tx));
    await tx.unsafe(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (err) {
    await tx.unsafe(`ROLLBACK TO SAVEPOINT ${name}`);
    throw err;
  }
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
