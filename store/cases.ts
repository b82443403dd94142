/**
 * Cases and their event log. Every change is an event appended to its origin's hash chain and
 * applied to the `cases` projection in one `db.batch` — atomic on D1 and on libSQL alike.
 * Concurrency is optimistic: `(origin, seq)` and `case_no` are unique, so of two writers that
 * read the same chain head only one commits; the other re-reads and decides again.
 */
import { and, asc, count, desc, eq, gte, lt, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { approvals, caseEvents, cases, changes, conflicts } from "../schema/tables.js";
import {
  applyEvent,
  clockStopped,
  decide,
  mayActOn,
  openCase,
  type CaseCommand,
  type CaseEventDraft,
  type CaseSnapshot,
  type CaseState,
  type DomainError,
  type IntakeInput,
  type Role,
} from "../domain/lifecycle.js";
import { chainEvent, GENESIS_HASH, type ChainedEvent, type Sha256 } from "../domain/events.js";
import { eventLimitProblem, type EventLimitProblem } from "../domain/limits.js";
import { readReference, type ReferenceData } from "./reference.js";
import { caseNoDayPrefix, formatCaseNo, newQueryCode } from "../domain/case-number.js";
import { lightAt, type Light, type TimeWarning, type WorkCalendar } from "../domain/time.js";
import { isWriteConflict, serialized, type Db } from "./db.js";
import { rawStatement } from "./bulk.js";
import { getItemRow, itemForCase, type ItemRow } from "./catalog.js";
import { loadCalendar } from "./calendar.js";

const MAX_ATTEMPTS = 8;

export type StoredEvent = ChainedEvent & { receivedAt: string | null };

/** Outcome of a write: the case after it, or why nothing was written. */
export type WriteResult =
  | { ok: true; case: CaseSnapshot; event: StoredEvent; warnings: TimeWarning[] }
  | { ok: false; error: DomainError | { code: "not_found"; what: "case" | "item"; id: string } };

/** One case, or null. */
export async function getCase(db: Db, caseNo: string): Promise<StoredCase | null> {
  const rows = await db.select().from(cases).where(eq(cases.caseNo, caseNo)).limit(1);
  return (rows[0] as StoredCase | undefined) ?? null;
}

/** A stored event with the reason it was flagged, when it was (a flagged event was never applied). */
export type LoggedEvent = StoredEvent & { conflict: string | null };

/** A case's events in the order they happened (by origin clock, then origin and seq), flags included. */
export async function getCaseEvents(db: Db, caseNo: string): Promise<LoggedEvent[]> {
  const rows = await db
    .select({ e: caseEvents, conflict: conflicts.reason })
    .from(caseEvents)
    .leftJoin(conflicts, and(eq(conflicts.origin, caseEvents.origin), eq(conflicts.seq, caseEvents.seq)))
    .where(eq(caseEvents.caseNo, caseNo))
    .orderBy(asc(caseEvents.occurredAt), asc(caseEvents.origin), asc(caseEvents.seq));
  return rows.map((r) => ({ ...(r.e as StoredEvent), conflict: r.conflict }));
}

/** The head of an origin's chain: its last seq, hash and time (0, the genesis hash and null when empty). */
export async function chainHead(db: Db, origin: string): Promise<{ seq: number; hash: string; occurredAt: string | null }> {
  const rows = await db
    .select({ seq: caseEvents.seq, hash: caseEvents.hash, occurredAt: caseEvents.occurredAt })
    .from(caseEvents)
    .where(eq(caseEvents.origin, origin))
    .orderBy(desc(caseEvents.seq))
    .limit(1);
  return rows[0] ?? { seq: 0, hash: GENESIS_HASH, occurredAt: null };
}

/** A case row as stored: the projection plus the version its last write claimed. */
export type StoredCase = CaseSnapshot & { version: number };

/** The next version of a case row after `before` (1 for a new case). */
export function withVersion(after: CaseSnapshot, before: CaseSnapshot | null): StoredCase {
  return { ...after, version: ((before as StoredCase | null)?.version ?? 0) + 1 };
}

/** The version a writer read: the row's, or -1 when there was no row. */
export const readVersion = (before: CaseSnapshot | null) => (before ? ((before as StoredCase).version ?? 0) : -1);

/**
 * A statement that fails its batch (CHECK case_version_guard) unless every listed case still has
 * the version its writer read (-1: still no row).
 */
export function caseVersionGuard(db: Db, expected: readonly (readonly [caseNo: string, version: number])[]): BatchItem<"sqlite"> {
  const list = expected.map(([caseNo, v]) => [caseNo, v]);
  return rawStatement(
    db,
    `INSERT INTO "case_write_guard" ("stale") SELECT 1 FROM json_each(?) j LEFT JOIN "cases" c ON c."case_no" = json_extract(j.value, '$[0]') ` +
      `WHERE coalesce(c."version", -1) <> json_extract(j.value, '$[1]') LIMIT 1`,
    [JSON.stringify(list)],
  );
}

/** An event that would break the event limits: nothing was written. */
export class EventLimitError extends Error {
  constructor(readonly problem: EventLimitProblem) {
    super(problem.message);
  }
}

/** A write refused for breaking the event limits, as a domain error the edge can answer with. */
async function withinLimits<T>(write: () => Promise<T>): Promise<T | { ok: false; error: DomainError }> {
  try {
    return await write();
  } catch (err) {
    if (!(err instanceof EventLimitError)) throw err;
    return { ok: false, error: { code: "invalid_command", field: err.problem.field, message: `超出事件限制：${err.problem.message}` } };
  }
}

/** Appends one event at `origin` and writes the case it produces, atomically. Throws on a lost race. */
async function commit(
  db: Db,
  origin: string,
  actor: string,
  at: Date,
  before: CaseSnapshot | null,
  draft: CaseEventDraft,
  sha256?: Sha256,
): Promise<{ case: CaseSnapshot; event: StoredEvent }> {
  const head = await chainHead(db, origin);
  const body = { origin, seq: head.seq + 1, caseNo: draft.caseNo, type: draft.type, payload: draft.payload, actor, occurredAt: at.toISOString() };
  // The limits hold before an event enters the chain, so this origin can never push one the city must refuse.
  const limit = eventLimitProblem(body, { chained: false });
  if (limit) throw new EventLimitError(limit);
  const event = await chainEvent(head.hash, body, sha256);
  const after = withVersion(applyEvent(before, draft), before);
  const stmts: BatchItem<"sqlite">[] = [
    db.insert(caseEvents).values({ ...event, payload: event.payload as Record<string, unknown>, receivedAt: null }),
    caseVersionGuard(db, [[after.caseNo, readVersion(before)]]),
    before ? db.update(cases).set(after).where(eq(cases.caseNo, after.caseNo)) : db.insert(cases).values(after),
    ...eventSideEffects(db, [event]),
  ];
  if (before && before.origin !== origin) {
    // An event made here on another origin's case (the city deciding a township case)
    // goes into that origin's pull feed in the same batch.
    stmts.push(db.insert(changes).values({ kind: "event", key: `${origin}:${event.seq}`, node: before.origin, at: event.occurredAt }));
  }
  await db.batch(stmts as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  return { case: after, event: { ...event, receivedAt: null } };
}

/**
 * Tables kept beside the log that some events feed, written in the same batch as the events
 * wherever they are stored (made here, pushed to the city, or pulled by a node).
 */
export function eventSideEffects(db: Db, events: readonly { type: string; caseNo: string; payload: unknown }[]): BatchItem<"sqlite">[] {
  const out: BatchItem<"sqlite">[] = [];
  for (const e of events) {
    if (e.type !== "approval-issued") continue;
    const p = e.payload as { id?: unknown; token?: unknown; kid?: unknown; issuer?: unknown; licenceId?: unknown; issuedAt?: unknown; expiresAt?: unknown };
    if (typeof p.id !== "string" || typeof p.token !== "string") continue;
    out.push(
      db
        .insert(approvals)
        .values({
          id: p.id,
          caseNo: e.caseNo,
          token: p.token,
          kid: String(p.kid ?? ""),
          issuer: String(p.issuer ?? ""),
          licenceId: typeof p.licenceId === "string" ? p.licenceId : null,
          issuedAt: String(p.issuedAt ?? ""),
          expiresAt: String(p.expiresAt ?? ""),
        })
        .onConflictDoNothing(),
    );
  }
  return out;
}

/** Appends an event that `make` builds from the current case (null: nothing to do), like a command without the table. */
export async function recordEvent(
  db: Db,
  caseNo: string,
  req: { origin: string; actor: string; at: Date; sha256?: Sha256 },
  make: (current: CaseSnapshot) => Promise<CaseEventDraft | null> | CaseEventDraft | null,
): Promise<{ case: CaseSnapshot; event: StoredEvent } | null> {
  return retrying(db, async () => {
    const current = await getCase(db, caseNo);
    if (!current) return null;
    const draft = await make(current);
    if (!draft) return null;
    return commit(db, req.origin, req.actor, req.at, current, draft, req.sha256);
  });
}

/** Runs a read-decide-write attempt until it does not lose a race on a unique key. */
function retrying<T>(db: Db, attempt: () => Promise<T>): Promise<T> {
  return serialized(db, async () => {
    for (let i = 1; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        if (!isWriteConflict(err) || i >= MAX_ATTEMPTS) throw err;
        // Another isolate won: back off a little, with jitter, and decide again on fresh state.
        await new Promise((r) => setTimeout(r, Math.random() * 10 * i));
      }
    }
  });
}

/** The next free case number of an origin's local day. */
async function nextCaseNo(db: Db, origin: string, at: Date): Promise<string> {
  const prefix = caseNoDayPrefix(origin, at);
  const day = and(gte(cases.caseNo, prefix), lt(cases.caseNo, `${prefix}\uffff`));
  // The primary key hands over the day's highest number directly while numbers have four digits.
  const [top] = await db.select({ caseNo: cases.caseNo }).from(cases).where(day).orderBy(desc(cases.caseNo)).limit(1);
  let last = top ? Number(top.caseNo.slice(prefix.length)) : 0;
  if (last >= 9999) {
    // Past 9999 a day, text order is not number order: sort that day's numbers by length too.
    const [longest] = await db.select({ caseNo: cases.caseNo }).from(cases).where(day).orderBy(desc(sql`length(${cases.caseNo})`), desc(cases.caseNo)).limit(1);
    last = Number(longest!.caseNo.slice(prefix.length));
  }
  return formatCaseNo(origin, at, last + 1);
}

export interface IntakeRequest {
  origin: string;
  actor: string;
  channel: IntakeInput["channel"];
  itemCode: string;
  applicant: IntakeInput["applicant"];
  materials: string[];
  at: Date;
  /** Where the item and calendar come from (default: read from `db`). */
  reference?: ReferenceData;
  /** The chain's SHA-256 (default: Web Crypto). */
  sha256?: Sha256;
}

/** Opens a case at a window (or from an online filing): numbers it, checks materials, stores `opened`. */
export async function intake(db: Db, req: IntakeRequest): Promise<WriteResult & { item?: ItemRow }> {
  const ref = req.reference ?? readReference(db);
  const row = await ref.item(req.itemCode);
  if (!row) return { ok: false, error: { code: "not_found", what: "item", id: req.itemCode } };
  const calendar = await ref.calendar();
  return withinLimits(() => retrying(db, async () => {
    const caseNo = await nextCaseNo(db, req.origin, req.at);
    const opened = openCase(calendar, itemForCase(row), {
      caseNo,
      queryCode: newQueryCode(),
      origin: req.origin,
      channel: req.channel,
      applicant: req.applicant,
      materials: req.materials,
      at: req.at,
    });
    if (!opened.ok) return opened;
    const done = await commit(db, req.origin, req.actor, req.at, null, opened.value.event, req.sha256);
    return { ok: true as const, ...done, warnings: opened.value.warnings, item: row };
  }));
}

export interface CommandRequest {
  origin: string;
  actor: string;
  role: Role;
  at: Date;
  command: CaseCommand;
  reference?: ReferenceData;
  sha256?: Sha256;
}

/** Runs a command on a case: the transition table decides, the event and the new case are stored together. */
export async function runCommand(db: Db, caseNo: string, req: CommandRequest): Promise<WriteResult> {
  const ref = req.reference ?? readReference(db);
  const calendar = await ref.calendar();
  return withinLimits(() => retrying(db, async (): Promise<WriteResult> => {
    const current = await getCase(db, caseNo);
    if (!current) return { ok: false, error: { code: "not_found", what: "case", id: caseNo } };
    const row = await ref.item(current.itemCode);
    if (!row) return { ok: false, error: { code: "not_found", what: "item", id: current.itemCode } };
    if (!mayActOn(current.origin, req.origin, req.command.action, req.role)) {
      return { ok: false, error: { code: "not_owner", caseOrigin: current.origin, actorOrigin: req.origin, action: req.command.action } };
    }
    const decided = decide(current, req.command, { role: req.role, at: req.at, calendar, item: itemForCase(row) });
    if (!decided.ok) return decided;
    const done = await commit(db, req.origin, req.actor, req.at, current, decided.value.event, req.sha256);
    return { ok: true, ...done, warnings: decided.value.warnings };
  }));
}

/** An undecided case whose clock is stopped: it has no light until the clock runs again. */
export function isPaused(c: Pick<CaseSnapshot, "decidedAt" | "suspensions">): boolean {
  return !c.decidedAt && clockStopped(c);
}

/** The light of a case: against now while open, against the decision once decided; none without a deadline. */
export function caseLight(c: Pick<CaseSnapshot, "deadlineAt" | "decidedAt" | "state" | "suspensions">, now: Date): Light | null {
  if (!c.deadlineAt || c.state === "refused") return null;
  // While the clock is stopped (暂停计时, 补正 during review) the deadline moves on resumption: no light.
  if (isPaused(c)) return null;
  return lightAt(c.deadlineAt, c.decidedAt ?? now);
}

export interface CaseListQuery {
  state?: CaseState;
  light?: Light;
  origin?: string;
  /** Which cases the asker may see (`maySeeCase` as a filter): a hall's, a department's, an applicant's; empty: all. */
  scope?: { origin?: string; department?: string; applicantAccount?: string };
  page: number;
  pageSize: number;
  now: Date;
}

/** Lists cases, newest first, filtered by state and by light (computed in SQL from the stored deadline). */
export async function listCases(db: Db, q: CaseListQuery): Promise<{ cases: CaseSnapshot[]; total: number }> {
  const where: SQL[] = [];
  if (q.state) where.push(eq(cases.state, q.state));
  if (q.origin) where.push(eq(cases.origin, q.origin));
  if (q.scope?.origin !== undefined) where.push(eq(cases.origin, q.scope.origin));
  if (q.scope?.applicantAccount !== undefined) where.push(eq(cases.applicantAccount, q.scope.applicantAccount));
  if (q.scope?.department !== undefined) {
    const d = q.scope.department;
    where.push(sql`(${cases.departmentCode} = ${d} OR EXISTS (SELECT 1 FROM json_each(${cases.reviewDepartments}) WHERE value = ${d}))`);
  }
  if (q.light) {
    const nowIso = q.now.toISOString();
    // The light is judged at the decision for decided cases and at `now` for the rest.
    const t = sql`coalesce(${cases.decidedAt}, ${nowIso})`;
    where.push(sql`${cases.deadlineAt} IS NOT NULL AND ${cases.state} <> 'refused'`);
    where.push(sql`(${cases.decidedAt} IS NOT NULL OR ${cases.suspensions} NOT LIKE '%"to":null%')`);
    if (q.light === "red") where.push(sql`${cases.deadlineAt} < ${t}`);
    if (q.light === "yellow") where.push(sql`${cases.deadlineAt} >= ${t} AND ${cases.deadlineDate} = date(${t}, '+8 hours')`);
    if (q.light === "green") where.push(sql`${cases.deadlineAt} >= ${t} AND ${cases.deadlineDate} > date(${t}, '+8 hours')`);
  }
  const cond = where.length ? and(...where) : undefined;
  const [rows, totals] = await Promise.all([
    db
      .select()
      .from(cases)
      .where(cond)
      .orderBy(desc(cases.createdAt), desc(cases.caseNo))
      .limit(q.pageSize)
      .offset((q.page - 1) * q.pageSize),
    db.select({ n: count() }).from(cases).where(cond),
  ]);
  return { cases: rows as CaseSnapshot[], total: totals[0]?.n ?? 0 };
}
