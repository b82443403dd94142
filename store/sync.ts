/**
 * The city's side of replication: ingesting a node's pushed batch, recording each pull (what it
 * is answered is built in `pull-feed.ts`), and the reconciliation view. Everything a push changes
 * is written in one `db.batch`.
 */
import { and, asc, count, eq, gt, gte, isNull, lt, lte, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import {
  calendarDays,
  calendarYears,
  caseEvents,
  cases,
  changes,
  conflicts,
  divergences,
  nodeContacts,
  nodes,
  serviceItems,
  syncBatches,
} from "../schema/tables.js";
import { checkBatch, planIngest, type IngestInput } from "../domain/ingest.js";
import type { RecheckContext } from "../domain/recheck.js";
import { itemForCase } from "./catalog.js";
import { referenceAsOf, referenceChangedSince } from "./reference-history.js";
import { makeCalendar } from "../domain/time.js";
import type { PulledReference } from "../domain/ingest.js";
import type { CaseSnapshot } from "../domain/lifecycle.js";
import { verifyChain, GENESIS_HASH, type ChainBreak, type ChainedEvent } from "../domain/events.js";
import { MAX_CLOCK_SKEW_MS, MAX_MESSAGE_AGE_MS, type PushPayload, type PushResponse } from "../domain/sync-protocol.js";
import { PROTOCOL_VERSION, type ProtocolVersion } from "../domain/protocol-versions.js";
import { isWriteConflict, serializedBy, type Db } from "./db.js";
import { caseVersionGuard, chainHead, eventSideEffects, readVersion, withVersion } from "./cases.js";
import { BULK_ROWS, bulkInsert } from "./bulk.js";

/** D1 allows 100 bound parameters a statement: keep IN lists and multi-row inserts under it. */
export const PARAM_CHUNK = 90;

/** Splits a list into pieces of at most `size`. */
export function chunked<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

type Stmt = BatchItem<"sqlite">;

/** Insert statements for chained events, a few hundred rows a statement. */
export function insertEventStatements(db: Db, events: readonly (ChainedEvent & { receivedAt: string | null })[]): Stmt[] {
  return bulkInsert(db, caseEvents, events.map((e) => ({ ...e, payload: e.payload as Record<string, unknown> })));
}

/**
 * Statements writing changed case rows: a guard that fails the batch if any row changed since it
 * was read (so a concurrent writer can never be overwritten silently), then the upserts.
 */
export function writeCaseStatements(db: Db, changed: readonly { before: CaseSnapshot | null; after: CaseSnapshot }[]): Stmt[] {
  const rows = changed.map((c) => withVersion(c.after, c.before));
  const expected = changed.map((c) => [c.after.caseNo, readVersion(c.before)] as const);
  return [
    ...chunked(expected, BULK_ROWS * 4).map((part) => caseVersionGuard(db, part)),
    ...bulkInsert(db, cases, rows, { upsertOn: "case_no" }),
  ];
}

/** The cases with these numbers, keyed by number (missing ones map to null). One statement, one parameter. */
export async function loadCases(db: Db, caseNos: readonly string[]): Promise<Map<string, CaseSnapshot | null>> {
  const unique = [...new Set(caseNos)];
  const out = new Map<string, CaseSnapshot | null>(unique.map((n) => [n, null]));
  if (unique.length === 0) return out;
  const rows = await db
    .select()
    .from(cases)
    .where(sql`${cases.caseNo} IN (SELECT value FROM json_each(${JSON.stringify(unique)}))`);
  for (const r of rows) out.set(r.caseNo, r as CaseSnapshot);
  return out;
}

/** Which of these seqs of `origin` are stored here. */
export async function heldSeqs(db: Db, origin: string, seqs: readonly number[]): Promise<Set<number>> {
  if (seqs.length === 0) return new Set();
  const rows = await db
    .select({ seq: caseEvents.seq })
    .from(caseEvents)
    .where(and(eq(caseEvents.origin, origin), sql`${caseEvents.seq} IN (SELECT value FROM json_each(${JSON.stringify(seqs)}))`));
  return new Set(rows.map((r) => r.seq));
}

export type IngestResult =
  | { kind: "ok"; response: PushResponse }
  | { kind: "replayed" }
  | { kind: "gap"; ackedSeq: number; chainHead: string; firstSeq: number }
  | { kind: "invalid"; reason: string; seq: number };

/**
 * Ingests a verified, fresh push from `node`. Idempotent: events already held are acknowledged
 * again; racing pushes of the same events settle on the `(origin, seq)` key and the loser
 * re-plans. The push's id is stored in the same batch as what it changes, so a replay (of a
 * heartbeat too) is refused and a refused push leaves nothing behind.
 */
export async function ingestPush(db: Db, node: string, p: PushPayload, now: Date, check?: IngestInput["check"]): Promise<IngestResult> {
  const nowIso = now.toISOString();
  const skewMs = Date.parse(p.sentAt) - now.getTime();
  const problem = await checkBatch(node, p.events as ChainedEvent[]);
  if (problem) return { kind: "invalid", reason: problem.reason, seq: problem.seq };
  for (let attempt = 1; ; attempt++) {
    try {
      // Pipelined pushes of one node queue here, so the second is planned after the first is written.
      return await serializedBy(`ingest:${node}`, () => ingestOnce(db, node, p, nowIso, skewMs, check));
    } catch (err) {
      if (!isWriteConflict(err) || attempt >= 6) throw err;
      // A concurrent push (a retry racing its original, in another isolate) stored these seqs first: plan again,
      // unless it was this very message, replayed.
      if (await messageSeen(db, node, p.batchId)) return { kind: "replayed" };
    }
  }
}

async function ingestOnce(db: Db, node: string, p: PushPayload, nowIso: string, skewMs: number, check?: IngestInput["check"]): Promise<IngestResult> {
  if (await messageSeen(db, node, p.batchId)) return { kind: "replayed" };
  const head = await chainHead(db, node);
  const events = p.events as ChainedEvent[];
  const held = new Map<number, string>();
  if (events.length && events[0]!.seq <= head.seq) {
    const rows = await db
      .select({ seq: caseEvents.seq, hash: caseEvents.hash })
      .from(caseEvents)
      .where(and(eq(caseEvents.origin, node), gte(caseEvents.seq, events[0]!.seq), lte(caseEvents.seq, Math.min(head.seq, events.at(-1)!.seq))));
    for (const r of rows) held.set(r.seq, r.hash);
  }
  const fresh = events.filter((e) => e.seq > head.seq);
  const known = await loadCases(db, fresh.map((e) => e.caseNo));
  const codes = [...fresh.map((e) => (e.payload as { itemCode?: unknown }).itemCode), ...[...known.values()].map((c) => c?.itemCode)].filter((c): c is string => typeof c === "string");
  // A heartbeat, or a retry of events already held, has nothing to re-check.
  const [today, pulled] = fresh.length ? await recheckContexts(db, node, codes, nowIso) : [null, null];
  const plan = await planIngest({
    origin: node,
    head,
    held,
    cases: known,
    events,
    recheck: today ?? { origin: node, role: "clerk", calendar: makeCalendar([], []), item: () => null },
    recheckAsOfLastPull: pulled,
    sentAt: p.sentAt,
    check,
    checked: true,
  });
  if (plan.kind === "gap") return { kind: "gap", ackedSeq: head.seq, chainHead: head.hash, firstSeq: plan.firstSeq };
  if (plan.kind === "invalid") return { kind: "invalid", reason: plan.reason, seq: plan.seq };

  const contact = { code: node, lastContactAt: nowIso, reportedHeadSeq: p.headSeq, skewMs, lastPushAt: events.length ? nowIso : null, pushSincePullAt: nowIso, protocolVersion: p.v };
  const stmts: Stmt[] = [
    ...claimStatements(db, node, { batchId: p.batchId, sentAt: p.sentAt, events: events.length }, new Date(nowIso)),
    db
      .insert(nodeContacts)
      .values(contact)
      .onConflictDoUpdate({
        target: nodeContacts.code,
        set: {
          lastContactAt: nowIso,
          reportedHeadSeq: p.headSeq,
          skewMs,
          protocolVersion: p.v,
          ...(events.length ? { lastPushAt: nowIso } : {}),
          // The first push since the node last pulled starts the clock on the reference it worked with.
          pushSincePullAt: sql`coalesce(${nodeContacts.pushSincePullAt}, ${nowIso})`,
        },
      }),
    ...insertEventStatements(db, plan.accepted.map((a) => ({ ...a.event, receivedAt: nowIso }))),
    ...eventSideEffects(db, plan.accepted.filter((a) => !a.conflict).map((a) => a.event)),
    ...writeCaseStatements(db, [...plan.cases.values()]),
  ];
  const flagged = plan.accepted.filter((a) => a.conflict);
  // The flag travels back to the node whose event it is, and only to it: a node acting on another
  // hall's case is the supervisors' business, not that hall's window (nor a way to fill its feed).
  if (flagged.length) {
    stmts.push(
      ...bulkInsert(db, conflicts, flagged.map((a) => ({ origin: node, seq: a.event.seq, caseNo: a.event.caseNo, type: a.event.type, node, reason: a.conflict!, detectedAt: nowIso, resolvedAt: null, resolution: null }))),
      ...bulkInsert(db, changes, flagged.map((a) => ({ kind: "conflict" as const, key: `${node}:${a.event.seq}`, node, at: nowIso }))),
    );
  }
  // One divergence is kept per seq: it stops the node's chain there, and more of them would only fill the table.
  if (plan.divergence && !(await divergenceAt(db, node, plan.divergence.seq))) {
    const d = plan.divergence;
    stmts.push(
      db
        .insert(divergences)
        .values({ origin: node, seq: d.seq, heldHash: d.heldHash, receivedHash: d.received.hash, received: d.received as unknown as Record<string, unknown>, detectedAt: nowIso })
        .onConflictDoNothing(),
    );
  }
  await db.batch(stmts as [Stmt, ...Stmt[]]);
  return {
    kind: "ok",
    response: {
      // Answered in the version the node spoke (push answers are alike in every version so far).
      v: p.v,
      ackedSeq: plan.head.seq,
      chainHead: plan.head.hash,
      stored: plan.accepted.length,
      duplicates: plan.duplicates,
      conflicts: flagged.map((a) => ({ origin: node, seq: a.event.seq, caseNo: a.event.caseNo, reason: a.conflict! })),
      divergence: plan.divergence ? { seq: plan.divergence.seq, heldHash: plan.divergence.heldHash, receivedHash: plan.divergence.received.hash } : null,
      serverTime: nowIso,
      skewMs,
      clockFlagged: Math.abs(skewMs) > MAX_CLOCK_SKEW_MS,
    },
  };
}

/**
 * What the city knows to re-check a node's events: its catalog rows for the items involved, its
 * working calendar, and the role a township window acts in.
 */
async function recheckContexts(db: Db, node: string, itemCodes: readonly string[], nowIso: string): Promise<[RecheckContext, PulledReference | null]> {
  const codes = [...new Set(itemCodes)];
  const [rows, days, years, contact] = await Promise.all([
    codes.length ? db.select().from(serviceItems).where(sql`${serviceItems.code} IN (SELECT value FROM json_each(${JSON.stringify(codes)}))`) : Promise.resolve([]),
    db.select({ date: calendarDays.date, kind: calendarDays.kind }).from(calendarDays),
    db.select({ year: calendarYears.year }).from(calendarYears),
    db.select({ cursor: nodeContacts.pulledCursor, since: nodeContacts.pushSincePullAt }).from(nodeContacts).where(eq(nodeContacts.code, node)).limit(1),
  ]);
  const items = new Map(rows.map((r) => [r.code, itemForCase(r)]));
  const today: RecheckContext = { origin: node, role: "clerk", calendar: makeCalendar(days, years.map((y) => y.year)), item: (code) => items.get(code) ?? null };
  // What the node last said it had applied (a node that never pulled works with the catalog it shipped with: cursor 0).
  const cursor = contact[0]?.cursor ?? 0;
  if (!(await referenceChangedSince(db, codes, cursor))) return [today, null];
  const then = await referenceAsOf(db, cursor, { items, days: new Map(days.map((d) => [d.date, d.kind])) }, codes);
  // A node in contact that does not pull cannot keep an old reference for long: only work made before its
  // first push since its last pull (and within a round's grace after it) may use it.
  const until = new Date(Date.parse(contact[0]?.since ?? nowIso) + PULLED_REFERENCE_GRACE_MS).toISOString();
  return [today, { context: { ...today, calendar: then.calendar, item: (code) => then.items.get(code) ?? null }, until }];
}

/** How long after its first push since a pull a node's work may still be judged by the reference of that pull. */
export const PULLED_REFERENCE_GRACE_MS = 5 * 60_000;

/** Whether a divergence of `origin` at `seq` is already recorded. */
async function divergenceAt(db: Db, origin: string, seq: number): Promise<boolean> {
  const rows = await db.select({ n: count() }).from(divergences).where(and(eq(divergences.origin, origin), eq(divergences.seq, seq)));
  return (rows[0]?.n ?? 0) > 0;
}

/** Whether the city has already taken a signed message of `node` with this id. */
async function messageSeen(db: Db, node: string, batchId: string): Promise<boolean> {
  const seen = await db.select({ n: count() }).from(syncBatches).where(and(eq(syncBatches.node, node), eq(syncBatches.batchId, batchId)));
  return (seen[0]?.n ?? 0) > 0;
}

/**
 * Statements recording a signed message (push, heartbeat or pull) of `node` by its id, so the same
 * message is refused if it comes again (its insert fails the batch on the key). Ids are kept for
 * twice the freshness window — an older message is refused as stale before it gets here — so the
 * table stays small.
 */
function claimStatements(db: Db, node: string, m: { batchId: string; sentAt: string; events: number }, now: Date): Stmt[] {
  return [
    db.delete(syncBatches).where(and(eq(syncBatches.node, node), lt(syncBatches.receivedAt, new Date(now.getTime() - 2 * MAX_MESSAGE_AGE_MS).toISOString()))),
    db.insert(syncBatches).values({ node, batchId: m.batchId, sentAt: m.sentAt, receivedAt: now.toISOString(), events: m.events }),
  ];
}

/**
 * Records a pull's id once (false when it was taken before: a replay), and the cursor it came with:
 * the catalog and calendar changes the node had applied before asking — the reference its offline
 * work is judged by — and that its next push starts a fresh grace period.
 */
export async function claimPull(db: Db, node: string, m: { v: ProtocolVersion; batchId: string; sentAt: string; cursor: number | null }, now: Date): Promise<boolean> {
  try {
    const stmts: Stmt[] = [
      ...claimStatements(db, node, { batchId: m.batchId, sentAt: m.sentAt, events: 0 }, now),
      db.update(nodeContacts).set({ lastPullAt: now.toISOString(), pulledCursor: m.cursor ?? 0, pushSincePullAt: null, protocolVersion: m.v }).where(eq(nodeContacts.code, node)),
    ];
    await db.batch(stmts as [Stmt, ...Stmt[]]);
    return true;
  } catch (err) {
    if (isWriteConflict(err)) return false;
    throw err;
  }
}

export interface NodeReconciliation {
  code: string;
  name: string;
  revoked: boolean;
  ackedSeq: number;
  chainHead: string;
  reportedHeadSeq: number | null;
  lastContactAt: string | null;
  pending: number | null;
  conflicts: number;
  divergences: number;
  skewMs: number | null;
  clockFlagged: boolean;
  /** The sync protocol version of the node's last message (null: none recorded yet). */
  protocolVersion: number | null;
  /** The node speaks an older version than the city: it keeps syncing, but should be upgraded. */
  upgradeNeeded: boolean;
}

/** Per enrolled node: what the city holds of its chain and what the node last reported. */
export async function reconcile(db: Db): Promise<NodeReconciliation[]> {
  const [all, contacts, conflictCounts, divergenceCounts] = await Promise.all([
    db.select().from(nodes).orderBy(asc(nodes.code)),
    db.select().from(nodeContacts),
    db.select({ origin: conflicts.origin, n: count() }).from(conflicts).where(isNull(conflicts.resolvedAt)).groupBy(conflicts.origin),
    db.select({ origin: divergences.origin, n: count() }).from(divergences).groupBy(divergences.origin),
  ]);
  const out: NodeReconciliation[] = [];
  for (const n of all) {
    const head = await chainHead(db, n.code);
    const c = contacts.find((x) => x.code === n.code);
    out.push({
      code: n.code,
      name: n.name,
      revoked: n.revokedAt !== null,
      ackedSeq: head.seq,
      chainHead: head.hash,
      reportedHeadSeq: c?.reportedHeadSeq ?? null,
      lastContactAt: c?.lastContactAt ?? null,
      pending: c ? Math.max(0, c.reportedHeadSeq - head.seq) : null,
      conflicts: conflictCounts.find((x) => x.origin === n.code)?.n ?? 0,
      divergences: divergenceCounts.find((x) => x.origin === n.code)?.n ?? 0,
      skewMs: c?.skewMs ?? null,
      clockFlagged: c ? Math.abs(c.skewMs) > MAX_CLOCK_SKEW_MS : false,
      protocolVersion: c?.protocolVersion ?? null,
      upgradeNeeded: c?.protocolVersion != null && c.protocolVersion < PROTOCOL_VERSION,
    });
  }
  return out;
}

/** Re-walks every stored chain from its genesis and lists every break. */
export async function verifyAllChains(db: Db): Promise<{ ok: boolean; origins: number; events: number; breaks: ChainBreak[] }> {
  const origins = await db.selectDistinct({ origin: caseEvents.origin }).from(caseEvents);
  const breaks: ChainBreak[] = [];
  let total = 0;
  for (const { origin } of origins) {
    let from = { seq: 0, hash: GENESIS_HASH };
    for (;;) {
      const page = (await db
        .select()
        .from(caseEvents)
        .where(and(eq(caseEvents.origin, origin), gt(caseEvents.seq, from.seq)))
        .orderBy(asc(caseEvents.seq))
        .limit(2000)) as ChainedEvent[];
      if (page.length === 0) break;
      breaks.push(...(await verifyChain(page, from)));
      total += page.length;
      from = { seq: page.at(-1)!.seq, hash: page.at(-1)!.hash };
    }
  }
  return { ok: breaks.length === 0, origins: origins.length, events: total, breaks };
}

