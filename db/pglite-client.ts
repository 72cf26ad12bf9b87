import type { PGlite, Transaction } from "@electric-sql/pglite";

/** The type parsers drizzle gives PGlite: dates, times and intervals (and their arrays) stay text. */
const AS_TEXT = (value: string) => value;
const DRIZZLE_PARSERS = Object.fromEntries([1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182].map((oid) => [oid, AS_TEXT]));

type Queryable = Pick<Transaction, "query">;

/**
 * PGlite as drizzle should see it. drizzle passes its type parsers with every query, and PGlite
 * then copies its own table of several hundred parsers to merge them in, for every result: a sixth
 * of the CPU of a voice webhook went there. The same parsers set once on the client give the same
 * rows, and queries go through without them.
 */
export function drizzleReadyPglite(client: PGlite): PGlite {
  // After start-up, which fills in the array types' parsers (the timestamp arrays among them).
  Object.assign(client.parsers, DRIZZLE_PARSERS);
  return withoutQueryParsers(client);
}

function withoutQueryParsers<T extends Queryable>(client: T): T {
  const query: Queryable["query"] = (text, params, options) => {
    if (!options?.parsers) return client.query(text, params, options);
    const { parsers: _, ...rest } = options;
    return client.query(text, params, rest);
  };
  return new Proxy(client, {
    get(target, prop) {
      if (prop === "query") return query;
      if (prop === "transaction") {
        return (work: (tx: Transaction) => Promise<unknown>) => (target as unknown as PGlite).transaction((tx) => work(withoutQueryParsers(tx)));
      }
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
