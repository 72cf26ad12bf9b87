import { parse, protocol, type PGlite, type QueryOptions, type Results, type Transaction } from "@electric-sql/pglite";

/** The type parsers drizzle gives PGlite: dates, times and intervals (and their arrays) stay text. */
const AS_TEXT = (value: string) => value;
const DRIZZLE_PARSERS = Object.fromEntries(
  [1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182].map((oid) => [oid, AS_TEXT]),
);
/** Prepared statements kept per database; the least recently used beyond this are closed. */
const CACHED_STATEMENTS = 500;

type Queryable = Pick<Transaction, "query">;
type Query = Queryable["query"];
/** PGlite's own locks: one for transactions (and queries outside them), one for each statement. */
type Locks = {
  _runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>;
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
};

/**
 * PGlite as drizzle should see it.
 * - drizzle passes its type parsers with every query, and PGlite then copies its own table of
 *   several hundred parsers to merge them in, for every result: a sixth of the CPU of a voice
 *   webhook went there. The same parsers set once on the client give the same rows.
 * - Statements with parameters are prepared once and then only bound and executed (PreparedStatements
 *   below): PGlite's own `query` parses, plans and describes every statement every time, in six
 *   calls into Postgres. About a quarter less CPU per statement (`bun run bench voice-cost`).
 */
export function drizzleReadyPglite(client: PGlite, cachedStatements = CACHED_STATEMENTS): PGlite {
  // After start-up, which fills in the array types' parsers (the timestamp arrays among them).
  Object.assign(client.parsers, DRIZZLE_PARSERS);
  return withPreparedQueries(client, new PreparedStatements(client, cachedStatements));
}

/** The client (or, with `tx`, one of its transactions) with its queries through `statements`. */
function withPreparedQueries<T extends Queryable>(client: T, statements: PreparedStatements, tx?: Transaction): T {
  const query: Query = (text, params, options) => statements.query(text, params, options, tx);
  return new Proxy(client, {
    get(target, prop) {
      if (prop === "query") return query;
      if (prop === "transaction") {
        return (work: (tx: Transaction) => Promise<unknown>) =>
          (target as unknown as PGlite).transaction((tx) => work(withPreparedQueries(tx, statements, tx)));
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Named prepared statements, one per distinct SQL text with parameters, sent to PGlite's protocol
 * directly. A statement is parsed and described once; each run is then one call into Postgres
 * (bind, describe, execute, sync) with no parsing, and Postgres may reuse its plan. Statements
 * without parameters (DDL, migrations, one-off SQL) go through PGlite's own path unchanged.
 */
class PreparedStatements {
  private readonly byText = new Map<string, { name: string; types: number[] }>();
  /** Statements evicted from the cache, closed with the next statement sent. */
  private closing: string[] = [];
  private next = 0;

  constructor(
    private readonly pg: PGlite,
    private readonly capacity: number,
  ) {}

  /** A statement on the client, or inside its transaction `tx`. */
  query<R>(
    text: string,
    params: unknown[] | undefined,
    options: QueryOptions | undefined,
    tx?: Transaction,
  ): Promise<Results<R>> {
    const { parsers: _, ...rest } = options ?? {};
    if (!params?.length || options?.blob) return (tx ?? this.pg).query<R>(text, params, rest);
    const locks = this.pg as unknown as Locks;
    const run = () => locks._runExclusiveQuery(() => this.run<R>(text, params, rest, !!tx));
    // Outside a transaction a statement also waits for any transaction to end, as PGlite's own does.
    return tx ? run() : locks._runExclusiveTransaction(run);
  }

  private async run<R>(
    text: string,
    params: unknown[],
    options: QueryOptions,
    inTransaction: boolean,
    retried = false,
  ): Promise<Results<R>> {
    const prepared = await this.prepared(text, options);
    const values = params.map((param, i) => {
      if (param === null || param === undefined) return null;
      const oid = prepared.types[i]!;
      const serialize = options.serializers?.[oid] ?? this.pg.serializers[oid];
      return serialize ? serialize(param) : String(param);
    });
    let messages;
    try {
      messages = await this.send(
        [
          protocol.serialize.bind({ statement: prepared.name, values }),
          protocol.serialize.describe({ type: "P" }),
          protocol.serialize.execute({}),
          protocol.serialize.sync(),
        ],
        options,
      );
    } catch (err) {
      // A table changed under the statement ("cached plan must not change result type"): prepare it
      // again. Outside a transaction that can be done at once; inside, the error has ended it.
      if ((err as { code?: string }).code === "0A000") {
        this.forget(text);
        if (!inTransaction && !retried) return this.run<R>(text, params, options, inTransaction, true);
      }
      throw Object.assign(err as object, { query: text, params });
    }
    if (!inTransaction) await this.pg.syncToFs();
    return parse.parseResults(messages, this.pg.parsers, options)[0] as Results<R>;
  }

  private async prepared(text: string, options: QueryOptions) {
    const known = this.byText.get(text);
    if (known) {
      // Most recently used last: eviction takes the first.
      this.byText.delete(text);
      this.byText.set(text, known);
      return known;
    }
    const name = `sb${this.next++}`;
    let described;
    try {
      described = await this.send(
        [
          protocol.serialize.parse({ name, text, types: options.paramTypes }),
          protocol.serialize.describe({ type: "S", name }),
          protocol.serialize.sync(),
        ],
        options,
      );
    } catch (err) {
      throw Object.assign(err as object, { query: text });
    }
    const statement = { name, types: parse.parseDescribeStatementResults(described) };
    this.byText.set(text, statement);
    if (this.byText.size > this.capacity) this.forget(this.byText.keys().next().value!);
    return statement;
  }

  private forget(text: string) {
    const statement = this.byText.get(text);
    if (!statement) return;
    this.byText.delete(text);
    this.closing.push(statement.name);
  }

  private send(messages: Uint8Array[], options: QueryOptions) {
    const closes = this.closing.map((name) => protocol.serialize.close({ type: "S", name }));
    this.closing = [];
    const all = [...closes, ...messages];
    const buffer = new Uint8Array(all.reduce((n, m) => n + m.length, 0));
    let at = 0;
    for (const m of all) {
      buffer.set(m, at);
      at += m.length;
    }
    return this.pg.execProtocolStream(buffer, { syncToFs: false, onNotice: options.onNotice });
  }
}
