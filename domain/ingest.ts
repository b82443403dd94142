/**
 * What the city does with a pushed batch, decided without I/O (DESIGN.md "Replication
 * invariants" 3 and 5): which events it already holds, where a chain diverges or has a gap,
 * which new events still apply to the city's cases and which are conflicts to flag.
 */
import { eventHash, type ChainedEvent } from "./events.js";
import { applyEvent, conflictOf, snapshotProblem, type CaseSnapshot, type Role } from "./lifecycle.js";

export interface IngestInput {
  origin: string;
  /** The city's chain head for this origin. */
  head: { seq: number; hash: string };
  /** Hashes the city holds for the batch's seqs at or below the head. */
  held: ReadonlyMap<number, string>;
  /** The city's current cases for every caseNo in the batch (null when unknown). */
  cases: ReadonlyMap<string, CaseSnapshot | null>;
  /**
   * The role the origin acts in. A township node is a window: its events count as the clerk's
   * whatever their payload claims, so a node can never take a department's decision.
   */
  role: Role;
  events: readonly ChainedEvent[];
  /** A further check the shell can make (the city verifies pushed approvals with its keys). */
  check?: (e: ChainedEvent, before: CaseSnapshot | null) => Promise<string | null>;
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

/** Plans a batch's ingestion against the city's state (checking the batch itself unless `checked`). */
export async function planIngest(input: IngestInput & { checked?: boolean }): Promise<IngestPlan> {
  const { events, origin } = input;
  if (!input.checked) {
    const problem = await checkBatch(origin, events);
    if (problem) return problem;
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
    let conflict =
      ownershipProblem(origin, before, e) ??
      conflictOf(before, e as { caseNo: string; type: string; payload: Record<string, unknown> }, input.role) ??
      (input.check ? await input.check(e, before) : null);
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

/** A window acts only on its own cases, and numbers new cases under its own code. */
function ownershipProblem(origin: string, before: CaseSnapshot | null, e: ChainedEvent): string | null {
  if (e.type === "opened") {
    const claimed = (e.payload as { origin?: unknown } | null)?.origin;
    if (!e.caseNo.startsWith(`${origin}-`) || claimed !== origin) return `办件编号 ${e.caseNo} 不属于节点 ${origin}，不能由其开件`;
    return null;
  }
  if (before && before.origin !== origin) return `办件 ${e.caseNo} 由 ${before.origin} 受理，节点 ${origin} 不能办理`;
  return null;
}
