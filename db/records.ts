import { getTableColumns, getTableName, sql, type SQL } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";

/**
 * An INSERT of rows sent as one JSON parameter that Postgres reads back with jsonb_to_recordset,
 * where drizzle's insert has a parameter for every field of every row. Building that statement
 * costs drizzle more CPU than the database spends inserting a few rows (on PGlite both share one
 * thread), and its text changes with the number of rows; this one's text is built once per set of
 * columns and its single parameter is encoded by JSON.stringify.
 *
 * Takes what drizzle's insert takes: the table's rows as its own types (camelCase keys; Dates, objects
 * for jsonb; plain values, not sql`` expressions), and a column no row gives gets its default. The
 * statement has no ON CONFLICT or RETURNING: callers add what they need behind it.
 */
export function insertRecords<T extends PgTable>(table: T, rows: T["$inferInsert"][]): SQL {
  if (!rows.length) throw new Error(`insertRecords(${getTableName(table)}): no rows`);
  const columns = getTableColumns(table) as Record<string, PgColumn>;
  // The columns some row gives. A row without one of them gets null, which is drizzle's default for
  // a column without a default of its own; for a column with one, rows must agree.
  const keys = Object.keys(columns).filter((k) => rows.some((row: Record<string, unknown>) => row[k] !== undefined));
  const mixed = keys.find(
    (k) => columns[k]!.hasDefault && rows.some((row: Record<string, unknown>) => row[k] === undefined),
  );
  if (mixed)
    throw new Error(
      `insertRecords(${getTableName(table)}): some rows give ${mixed} and others leave it to its default`,
    );
  const signature = keys.join(",");
  const text = statementOf(table, columns, keys, signature);
  const records = rows.map((row: Record<string, unknown>) => {
    const record: Record<string, unknown> = {};
    for (const k of keys) record[columns[k]!.name] = row[k] ?? null;
    return record;
  });
  return sql`${sql.raw(text.head)}${JSON.stringify(records)}${sql.raw(text.tail)}`;
}

const texts = new WeakMap<PgTable, Map<string, { head: string; tail: string }>>();

/** The statement around the parameter, for a table and a set of its columns (built once). */
function statementOf(table: PgTable, columns: Record<string, PgColumn>, keys: string[], signature: string) {
  let byColumns = texts.get(table);
  if (!byColumns) texts.set(table, (byColumns = new Map()));
  let text = byColumns.get(signature);
  if (!text) {
    const names = keys.map((k) => `"${columns[k]!.name}"`).join(", ");
    const definitions = keys.map((k) => `"${columns[k]!.name}" ${columns[k]!.getSQLType()}`).join(", ");
    text = {
      head: `INSERT INTO "${getTableName(table)}" (${names}) SELECT ${names} FROM jsonb_to_recordset(`,
      tail: `::jsonb) AS r(${definitions})`,
    };
    byColumns.set(signature, text);
  }
  return text;
}
