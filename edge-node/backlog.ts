/**
 * Reading the node's backlog for a push, on the push thread's own synchronous libSQL connection.
 * SQLite encodes the events to JSON itself and hands over the UTF-8 bytes (a BLOB): no row
 * object per event and no JavaScript string of half a megabyte to re-encode, so a month of
 * offline work is read without feeding the garbage collector. The stored payload text is
 * spliced in as it is.
 */

/** The part of a libSQL (better-sqlite3 style) connection this needs; BLOBs come back as Buffers. */
export interface SyncConnection {
  prepare(sql: string): { get(...params: unknown[]): unknown };
}

/** A run of the node's own events, encoded as the comma-separated JSON objects of a push's `events`. */
export interface EventRun {
  /** `{...},{...}` in chain order as UTF-8; empty when there is nothing after `afterSeq`. */
  json: Uint8Array;
  count: number;
  lastSeq: number;
  /** UTF-8 length of `json`. */
  bytes: number;
}

const EVENT_JSON = `'{"origin":' || json_quote(origin) || ',"seq":' || seq || ',"caseNo":' || json_quote(case_no) || ',"type":' || json_quote(type)
  || ',"payload":' || payload || ',"actor":' || json_quote(actor) || ',"occurredAt":' || json_quote(occurred_at)
  || ',"prevHash":' || json_quote(prev_hash) || ',"hash":' || json_quote(hash) || '}'`;

// Ordered group_concat (and octet_length, below) need SQLite 3.44, which the node's libSQL has.
const RUN = `
  SELECT CAST(group_concat(j, ',' ORDER BY seq) AS BLOB) AS json, count(*) AS n, max(seq) AS last
  FROM (SELECT seq, ${EVENT_JSON} AS j FROM case_events WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3)`;

// The same, cut where the running size passes the cap (but never before the first event).
const CAPPED_RUN = `
  SELECT CAST(group_concat(j, ',' ORDER BY seq) AS BLOB) AS json, count(*) AS n, max(seq) AS last
  FROM (
    SELECT seq, j, sum(octet_length(j) + 1) OVER (ORDER BY seq) AS cum, row_number() OVER (ORDER BY seq) AS rn
    FROM (SELECT seq, ${EVENT_JSON} AS j FROM case_events WHERE origin = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3)
  )
  WHERE cum <= ?4 + 1 OR rn = 1`;

type Row = { json: Uint8Array | null; n: number; last: number | null } | undefined;

/** Reads events of `origin` after `afterSeq`: at most `limit`, and at most `maxBytes` unless the first alone is larger. */
export function readEventRun(conn: SyncConnection, origin: string, afterSeq: number, limit: number, maxBytes: number): EventRun {
  const toRun = (r: Row): EventRun =>
    !r || !r.n || !r.json ? { json: new Uint8Array(0), count: 0, lastSeq: afterSeq, bytes: 0 } : { json: r.json, count: Number(r.n), lastSeq: Number(r.last), bytes: r.json.byteLength };
  // Events are a few hundred bytes, so a run almost never reaches the cap: the plain query is a
  // third cheaper, and only a run that came out too large is read again with the running total.
  const run = toRun(conn.prepare(RUN).get(origin, afterSeq, limit) as Row);
  if (run.bytes <= maxBytes || run.count <= 1) return run;
  return toRun(conn.prepare(CAPPED_RUN).get(origin, afterSeq, limit, maxBytes) as Row);
}
