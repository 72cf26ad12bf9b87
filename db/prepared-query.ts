import { is } from "drizzle-orm";
import { PgTransaction } from "drizzle-orm/pg-core";
import type { Executor } from "./connect.ts";

type Values = Record<string, unknown>;
type Runnable<R> = { execute(values?: Values): Promise<R> };

/**
 * A fixed-shape query whose SQL text drizzle builds once per database, its values (`sql.placeholder`)
 * bound at each run. drizzle otherwise builds the text again every time: for a select of a wide row
 * that costs as much CPU as the database spends running it, on the same thread under PGlite, and
 * the webhooks that read a call or its queue entry run one every few milliseconds.
 *
 * Inside a transaction the query is built as usual: a prepared query runs on the session it was
 * prepared on (the database's own is, on PostgreSQL, any pooled connection, outside the transaction),
 * and a transaction is over before a second run would pay back preparing it.
 */
export function preparedQuery<R>(
  name: string,
  build: (db: Executor) => Runnable<R> & { prepare(name: string): Runnable<R> },
) {
  const byDb = new WeakMap<object, Runnable<R>>();
  return (db: Executor, values: Values): Promise<R> => {
    if (is(db, PgTransaction)) return build(db).execute(values);
    let query = byDb.get(db);
    if (!query) byDb.set(db, (query = build(db).prepare(name)));
    return query.execute(values);
  };
}
