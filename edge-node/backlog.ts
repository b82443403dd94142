/**
 * Reading the node's backlog for a push, on the push thread's own synchronous libSQL connection.
 * SQLite encodes the events to JSON itself: one string crosses into JavaScript per slice instead
 * of a row object per event, so a month of offline work is read without feeding the garbage
 * collector. The stored payload text is spliced in as it is.
 */

/** The part of a libSQL (better-sqlite3 style) connection this needs. */
export interface SyncConnection {
  prepare(sql: string): { get(...params: unknown[]): unknown };
}

/** A run of the node's own events, encoded as the comma-separated JSON objects of a push's `events`. */
export interface EventRun {
  /** `{...},{...}` in chain order; empty when there is nothing after `afterSeq`. */
  json: string;
  count: number;
  lastSeq: number;
  /** UTF-8 length of `json`. */
  bytes: number;
}

// Ordered group_concat and octet_length need SQLite 3.44, which the node's libSQL has.
const EVENT_RUN_SQL = `
  SELECT group_concat(j, ',' ORDER BY seq) AS json, count(*) AS n, max(seq) AS last, sum(octet_length(j)) + count(*) - 1 AS bytes
  FROM (
    SELECT seq, j, sum(octet_length(j) + 1) OVER (ORDER BY seq) AS cum, row_number() OVER (ORDER BY seq) AS rn
    FROM (
      SELECT seq, '{"origin":' || json_quote(origin) || ',"seq":' || seq || ',"caseNo":' || json_quote(case_no) || ',"type":' || json_quote(type)
        || ',"payload":' || payload || ',"actor":' || json_quote(actor) || ',"occurredAt":' || json_quote(occurred_at)
        || ',"prevHash":' || json_quote(prev_hash) || ',"hash":' || json_quote(hash) || '}' AS j
      FROM case_events WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3
    )
  )
  WHERE cum <= ?4 + 1 OR rn = 1`;

/** Reads events of `origin` after `afterSeq`: at most `limit`, and at most `maxBytes` unless the first alone is larger. */
export function readEventRun(conn: SyncConnection, origin: string, afterSeq: number, limit: number, maxBytes: number): EventRun {
  const r = conn.prepare(EVENT_RUN_SQL).get(origin, afterSeq, limit, maxBytes) as { json: string | null; n: number; last: number | null; bytes: number | null } | undefined;
  if (!r || !r.n) return { json: "", count: 0, lastSeq: afterSeq, bytes: 0 };
  return { json: r.json ?? "", count: Number(r.n), lastSeq: Number(r.last), bytes: Number(r.bytes) };
}
