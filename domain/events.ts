/**
 * Canonical event encoding and the per-origin hash chain (DESIGN.md "Replication invariants" 1):
 * `hash = SHA-256(prevHash ‖ canonical(event))`, hex encoded. Web Crypto only.
 */

/** prevHash of an origin's first event. */
export const GENESIS_HASH = "0".repeat(64);

/** The fields of an event that its hash covers. */
export interface ChainedEventBody {
  origin: string;
  seq: number;
  caseNo: string;
  type: string;
  payload: unknown;
  actor: string;
  occurredAt: string;
}

export interface ChainedEvent extends ChainedEventBody {
  prevHash: string;
  hash: string;
}

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, `undefined` members dropped,
 * Dates as ISO strings. Two replicas that hold the same event always produce the same bytes.
 * Written as a tight loop: the city re-hashes every pushed event, so this is on the hot path.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("non-finite number in event");
      return String(value);
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i) out += ",";
          const v = value[i];
          out += v === undefined || typeof v === "function" ? "null" : canonicalJson(v);
        }
        return out + "]";
      }
      if (value instanceof Date) return JSON.stringify(value.toISOString());
      const obj = value as Record<string, unknown>;
      const keys = Object.keys(obj).sort();
      let out = "{";
      let first = true;
      for (const k of keys) {
        const v = obj[k];
        if (v === undefined || typeof v === "function") continue;
        out += (first ? "" : ",") + JSON.stringify(k) + ":" + canonicalJson(v);
        first = false;
      }
      return out + "}";
    }
    default:
      return "null";
  }
}

/** The canonical bytes of an event's hashed fields. */
export function canonicalEvent(e: ChainedEventBody): string {
  return canonicalJson({
    actor: e.actor,
    caseNo: e.caseNo,
    occurredAt: e.occurredAt,
    origin: e.origin,
    payload: e.payload,
    seq: e.seq,
    type: e.type,
  });
}

const encoder = new TextEncoder();

/**
 * Lower-case hex SHA-256 of a string's UTF-8 bytes. A shell may pass its own (a node uses
 * Node's synchronous one: Web Crypto's round trip through the thread pool costs a window
 * request more than the hash itself).
 */
export type Sha256 = (text: string) => string | Promise<string>;

/** Lower-case hex SHA-256 of a string's UTF-8 bytes, with Web Crypto. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let out = "";
  for (const b of digest) out += b.toString(16).padStart(2, "0");
  return out;
}

/** The chain hash of an event after `prevHash`. */
export async function eventHash(prevHash: string, e: ChainedEventBody, sha256: Sha256 = sha256Hex): Promise<string> {
  return sha256(prevHash + canonicalEvent(e));
}

/** Places an event in its origin's chain. */
export async function chainEvent(prevHash: string, e: ChainedEventBody, sha256: Sha256 = sha256Hex): Promise<ChainedEvent> {
  return { ...e, prevHash, hash: await eventHash(prevHash, e, sha256) };
}

export interface ChainBreak {
  origin: string;
  seq: number;
  reason: "gap" | "prev_hash_mismatch" | "hash_mismatch";
}

/** Re-walks one origin's events (sorted by seq) and lists every break in the chain. */
export async function verifyChain(events: readonly ChainedEvent[], from: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH }): Promise<ChainBreak[]> {
  const breaks: ChainBreak[] = [];
  let expectSeq = from.seq + 1;
  let prev = from.hash;
  for (const e of events) {
    if (e.seq !== expectSeq) breaks.push({ origin: e.origin, seq: e.seq, reason: "gap" });
    if (e.prevHash !== prev) breaks.push({ origin: e.origin, seq: e.seq, reason: "prev_hash_mismatch" });
    if ((await eventHash(e.prevHash, e)) !== e.hash) breaks.push({ origin: e.origin, seq: e.seq, reason: "hash_mismatch" });
    expectSeq = e.seq + 1;
    prev = e.hash;
  }
  return breaks;
}
