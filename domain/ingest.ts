/**
 * What the city does with a pushed batch, decided without I/O (DESIGN.md "Replication
 * invariants" 3 and 5): which events it already holds, where a chain diverges or has a gap,
 * which new events still apply to the city's cases and which are conflicts to flag.
 */
import { eventHash, type ChainedEvent } from "./events.js";
import { applyEvent, snapshotProblem, type CaseSnapshot } from "./lifecycle.js";
import { recheckEvent, timeProblem, type RecheckContext } from "./recheck.js";
import { MAX_CLOCK_SKEW_MS } from "./sync-protocol.js";

export interface IngestInput {
  origin: string;
  /** The city's chain head for this origin, with the time of its last event (null before the first). */
  head: { seq: number; hash: string; occurredAt?: string | null };
  /** Hashes the city holds for the batch's seqs at or below the head. */
  held: ReadonlyMap<number, string>;
  /** The city's current cases for every caseNo in the batch (null when unknown). */
  cases: ReadonlyMap<string, CaseSnapshot | null>;
  /**
   * The city's catalog, calendar and the role the origin acts in. A township node is a window:
   * its events count as the clerk's whatever their payload claims, so it can never take a
   * department's decision.
   */
  recheck: RecheckContext;
  /**
   * The catalog and calendar of the cursor the node last pulled with, when they have changed since:
   * a node offline across an edit worked with those, so its events made until `until` are also
   * judged by them.
   */
  recheckAsOfLastPull?: PulledReference | null;
  /** The node's clock when it signed the batch: no event in it can be later. */
  sentAt: string;
  events: readonly ChainedEvent[];
  /**
   * A further check the shell can make (the city verifies pushed approvals with its keys), given
   * the events of this batch accepted before this one.
   */
  check?: (e: ChainedEvent, before: CaseSnapshot | null, earlier: readonly AcceptedEvent[]) => Promise<string | null>;
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
  | BatchProblem;

export type BatchProblem = { kind: "invalid"; reason: "wrong_origin" | "not_contiguous" | "bad_event_hash"; seq: number };

/**
 * What can be checked of a batch without the city's state: one origin, consecutive seqs, each
 * event linked to the one before and every hash recomputed. Run before waiting for the node's
 * turn, so it overlaps with the write of the batch ahead.
 */
export async function checkBatch(origin: string, events: readonly ChainedEvent[]): Promise<BatchProblem | null> {
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    if (e.origin !== origin) return { kind: "invalid", reason: "wrong_origin", seq: e.seq };
    if (i > 0 && (e.seq !== events[i - 1]!.seq + 1 || e.prevHash !== events[i - 1]!.hash)) {
      return { kind: "invalid", reason: "not_contiguous", seq: e.seq };
    }
  }
  const hashes = await Promise.all(events.map((e) => eventHash(e.prevHash, e)));
  for (let i = 0; i < events.length; i++) {
    if (hashes[i] !== events[i]!.hash) return { kind: "invalid", reason: "bad_event_hash", seq: events[i]!.seq };
  }
  return null;
}

/** The city's reason against an event under today's reference, unless the node's last-pulled reference re-makes it. */
function recheckUnderEither(input: IngestInput, before: CaseSnapshot | null, e: ChainedEvent & { payload: Record<string, unknown> }): string | null {
  const now = recheckEvent(input.recheck, before, e);
  const pulled = input.recheckAsOfLastPull;
  if (now === null || !pulled || e.occurredAt > pulled.until) return now;
  return recheckEvent(pulled.context, before, e) === null ? null : now;
}

/** The reference of the node's last pull, and until when (the node's clock) its work may still use it. */
export interface PulledReference {
  context: RecheckContext;
  until: string;
}

/** Plans a batch's ingestion against the city's state (checking the batch itself unless `checked`). */
export async function planIngest(input: IngestInput & { checked?: boolean }): Promise<IngestPlan> {
  const { events, origin } = input;
  if (!input.checked) {
    const problem = await checkBatch(origin, events);
    if (problem) return problem;
  }

  let head = { seq: input.head.seq, hash: input.head.hash };
  let prevAt = input.head.occurredAt ?? null;
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
    let conflict =
      timeProblem(e.occurredAt, prevAt, input.sentAt, MAX_CLOCK_SKEW_MS) ??
      recheckUnderEither(input, before, e as ChainedEvent & { payload: Record<string, unknown> }) ??
      (input.check ? await input.check(e, before, accepted) : null);
    prevAt = e.occurredAt;
    if (!conflict) {
      // A signed event can still be malformed (a buggy node): keep it, flag it, never crash on it.
      let after: CaseSnapshot | null = null;
      try {
        after = applyEvent(before, e as { caseNo: string; type: string; payload: Record<string, any> });
      } catch {
        after = null;
      }
      const problem = after ? snapshotProblem(after) : "事件内容无法应用";
      if (problem || !after) conflict = `事件内容不完整或格式错误（${problem ?? "无法应用"}），未应用到办件`;
      else cases.set(e.caseNo, { before: cases.get(e.caseNo)?.before ?? input.cases.get(e.caseNo) ?? null, after });
    }
    accepted.push({ event: e, conflict });
    head = { seq: e.seq, hash: e.hash };
  }
  return { kind: "ok", duplicates, accepted, cases, divergence: null, head };
}
