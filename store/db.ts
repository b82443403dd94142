/**
 * The database handle that all shared repository code takes: drizzle's async SQLite API with
 * `batch`, which both drizzle-orm/d1 (the city) and drizzle-orm/libsql (a node) provide.
 */
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { BaseSQLiteDatabase } from "drizzle-orm/sqlite-core";
import * as tables from "../schema/tables.js";

export { tables };
export type Tables = typeof tables;

/** Any drizzle async SQLite database over the Tongban schema that supports atomic batches. */
export type Db = BaseSQLiteDatabase<"async", unknown, Tables> & {
  batch<U extends BatchItem<"sqlite">, T extends Readonly<[U, ...U[]]>>(batch: T): Promise<BatchResponse<T>>;
};

/**
 * Whether an error (possibly wrapped by drizzle) means another writer got there first: a unique
 * key taken, or the case version guard tripped. The loser re-reads and decides again.
 */
export function isWriteConflict(err: unknown): boolean {
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    const msg = String((e as { message?: unknown }).message ?? "");
    if (/UNIQUE constraint failed|SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)|case_version_guard/.test(msg)) return true;
  }
  return false;
}

/** Chains `fn` behind the previous run queued under `key` in `queues`; the queue entry is dropped once idle. */
function enqueue<K, T>(queues: { get(k: K): Promise<unknown> | undefined; set(k: K, v: Promise<unknown>): unknown; delete(k: K): unknown }, key: K, fn: () => Promise<T>): Promise<T> {
  const run = (queues.get(key) ?? Promise.resolve()).then(fn, fn);
  const settled = run.catch(() => undefined);
  queues.set(key, settled);
  void settled.then(() => {
    if (queues.get(key) === settled) queues.delete(key);
  });
  return run;
}

const byHandle = new WeakMap<object, Promise<unknown>>();
const byName = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` after every earlier writer of the same database handle in this process has finished.
 * A node has one handle, so its writers never race; the city's isolates still race one another,
 * which the unique keys, the case version guard and the retries settle.
 */
export function serialized<T>(db: Db, fn: () => Promise<T>): Promise<T> {
  return enqueue(byHandle, db, fn);
}

/** Like `serialized`, for a name: at the city, pushes from one node are ingested one at a time per isolate. */
export function serializedBy<T>(key: string, fn: () => Promise<T>): Promise<T> {
  return enqueue(byName, key, fn);
}
