/**
 * What the city does with a pushed batch, decided without I/O (DESIGN.md "Replication
 * invariants" 3 and 5): which events it already holds, where a chain diverges or has a gap,
 * which new events still apply to the city's cases and which are conflicts to flag.
 */
import { eventHash, type ChainedEvent } from "./events.js";
import { applyEvent, conflictOf, type CaseSnapshot } from "./lifecycle.js";

export interface IngestInput {
  origin: string;
  /** The city's chain head for this origin. */
  head: { seq: number; hash: string };
  /** Hashes the city holds for the batch's seqs at or below the head. */
  held: ReadonlyMap<number, string>;
  /** The city's current cases for every caseNo in the batch (null when unknown). */
  cases: ReadonlyMap<string, CaseSnapshot | null>;
  events: readonly ChainedEvent[];
}

export interface AcceptedEvent {
  event: ChainedEvent;
  /** Why the event no longer applies at the city, or null when it was applied. */
  conflict: string | null;
}

export type IngestPlan =
  | {
      kind: "ok";
      duplicates: number;
      accepted: AcceptedEvent[];
      /** Cases changed by the accepted events, in their final state, with whether they are new. */
      cases: Map<string, { before: CaseSnapshot | null; after: CaseSnapshot }>;
      divergence: { seq: number; heldHash: string; received: ChainedEvent } | null;
      head: { seq: number; hash: string };
    }
  | { kind: "gap"; head: { seq: number; hash: string }; firstSeq: number }
  | { kind: "invalid"; reason: "wrong_origin" | "not_contiguous" | "bad_event_hash"; seq: number };

/** Checks a batch and plans its ingestion against the city's state. */
export async function planIngest(input: IngestInput): Promise<IngestPlan> {
  const { events, origin } = input;
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.origin !== origin) return { kind: "invalid", reason: "wrong_origin", seq: e.seq };
    if (i > 0 && (e.seq !== events[i - 1]!.seq + 1 || e.prevHash !== events[i - 1]!.hash)) {
      return { kind: "invalid", reason: "not_contiguous", seq: e.seq };
    }
    if ((await eventHash(e.prevHash, e)) !== e.hash) return { kind: "invalid", reason: "bad_event_hash", seq: e.seq };
  }

  let head = input.head;
  let duplicates = 0;
  const accepted: AcceptedEvent[] = [];
  const cases = new Map<string, { before: CaseSnapshot | null; after: CaseSnapshot }>();
  const current = (caseNo: string) => (cases.has(caseNo) ? cases.get(caseNo)!.after : (input.cases.get(caseNo) ?? null));

  for (const e of events) {
    if (e.seq <= input.head.seq) {
      const held = input.held.get(e.seq);
      if (held === e.hash) {
        duplicates++;
        continue;
      }
      // A different event under a seq the city holds: record it, store nothing after it.
      return { kind: "ok", duplicates, accepted, cases, divergence: { seq: e.seq, heldHash: held ?? "", received: e }, head };
    }
    if (e.seq !== head.seq + 1) return { kind: "gap", head: input.head, firstSeq: e.seq };
    if (e.prevHash !== head.hash) {
      // The node's history below this event is not the one the city holds.
      return { kind: "ok", duplicates, accepted, cases, divergence: { seq: e.seq, heldHash: head.hash, received: e }, head };
    }
    const before = current(e.caseNo);
    const conflict = conflictOf(before, e as { caseNo: string; type: string; payload: Record<string, unknown> });
    if (!conflict) {
      const after = applyEvent(before, e as { caseNo: string; type: string; payload: Record<string, any> });
      cases.set(e.caseNo, { before: cases.get(e.caseNo)?.before ?? input.cases.get(e.caseNo) ?? null, after });
    }
    accepted.push({ event: e, conflict });
    head = { seq: e.seq, hash: e.hash };
  }
  return { kind: "ok", duplicates, accepted, cases, divergence: null, head };
}
