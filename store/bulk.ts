/**
 * Many rows in one statement with one bound parameter: `INSERT … SELECT … FROM json_each(?)`.
 * D1 allows only 100 bound parameters a statement, so row-per-parameter inserts cost one
 * statement per handful of rows; this costs one statement per chunk, on D1 and libSQL alike.
 */
import { getTableColumns, getTableName, type Table } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { utf8Length } from "../domain/limits.js";
import type { Db } from "./db.js";

interface ColumnMeta {
  name: string;
  dataType: string;
  mapToDriverValue(v: unknown): unknown;
}

/** Rows per statement at most. */
export const BULK_ROWS = 200;
/**
 * UTF-8 bytes of one statement's JSON parameter at most: D1 refuses a value over 2 MB
 * (SQLITE_TOOBIG), and 200 events of the largest allowed size would be 3.2 MB.
 */
export const BULK_PARAM_BYTES = 1_000_000;

/**
 * Statements inserting `rows` (TypeScript field names) into `table`, as few as the row and byte
 * caps allow. With `upsertOn`, a row whose key exists replaces every other column; otherwise an
 * existing key makes the statement fail.
 */
export function bulkInsert<T extends Table>(db: Db, table: T, rows: readonly T["$inferInsert"][], opts: { upsertOn?: string } = {}): BatchItem<"sqlite">[] {
  const columns = Object.entries(getTableColumns(table) as Record<string, ColumnMeta>);
  const encoded = rows.map((row) => {
    const r = row as Record<string, unknown>;
    // JSON columns travel as JSON values (json_extract hands them back as JSON text); others as driver values.
    return JSON.stringify(columns.map(([key, col]) => (r[key] === undefined ? null : col.dataType === "json" ? r[key] : col.mapToDriverValue(r[key]))));
  });
  const names = columns.map(([, c]) => `"${c.name}"`).join(", ");
  const picks = columns.map((_, i) => `json_extract(value, '$[${i}]')`).join(", ");
  let text = `INSERT INTO "${getTableName(table)}" (${names}) SELECT ${picks} FROM json_each(?) WHERE true`;
  if (opts.upsertOn) {
    const sets = columns
      .filter(([, c]) => c.name !== opts.upsertOn)
      .map(([, c]) => `"${c.name}" = excluded."${c.name}"`)
      .join(", ");
    text += ` ON CONFLICT("${opts.upsertOn}") DO UPDATE SET ${sets}`;
  }
  const out: BatchItem<"sqlite">[] = [];
  let part: string[] = [];
  let bytes = 2;
  for (const row of encoded) {
    const size = utf8Length(row) + 1;
    if (part.length && (part.length >= BULK_ROWS || bytes + size > BULK_PARAM_BYTES)) {
      out.push(rawStatement(db, text, [`[${part.join(",")}]`]));
      part = [];
      bytes = 2;
    }
    part.push(row);
    bytes += size;
  }
  if (part.length) out.push(rawStatement(db, text, [`[${part.join(",")}]`]));
  return out;
}

/**
 * A parameterised statement for `db.batch`. drizzle 0.45's D1 session cannot batch `db.run(sql)`
 * with parameters (it looks for a prepared D1 statement that raw queries lack), so this hands
 * both drivers what their batch reads: the SQL and parameters, and on D1 a prepared statement.
 */
export function rawStatement(db: Db, text: string, params: unknown[]): BatchItem<"sqlite"> {
  const client = (db as unknown as { $client?: { prepare?: (q: string) => unknown } }).$client;
  const prepared = {
    getQuery: () => ({ sql: text, params }),
    stmt: typeof client?.prepare === "function" ? client.prepare(text) : undefined,
    mapResult: (result: unknown) => result,
  };
  return { _prepare: () => prepared } as unknown as BatchItem<"sqlite">;
}
