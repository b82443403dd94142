/**
 * A node's side of replication: what it has to push, its acknowledgement and pull cursor, and
 * applying what it pulled. Applying twice changes nothing; the cursor moves in the same batch
 * as the changes it covers.
 */
import { and, asc, count, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { approvalRevocations, calendarDays, calendarYears, caseEvents, conflicts, delegations, departments, serviceItems, settings } from "../schema/tables.js";
import { applyEvent, type CaseSnapshot } from "../domain/lifecycle.js";
import { GENESIS_HASH, type ChainedEvent } from "../domain/events.js";
import type { PullResponse } from "../domain/sync-protocol.js";
import { serialized, type Db } from "./db.js";
import { chainHead, eventSideEffects } from "./cases.js";
import { heldSeqs, insertEventStatements, loadCases, writeCaseStatements } from "./sync.js";

type Stmt = BatchItem<"sqlite">;

const KEYS = { ackedSeq: "sync.ackedSeq", ackedHash: "sync.ackedHash", cursor: "sync.cursor" } as const;

/** The node's own code, recorded at its first start (so tools on its data directory know whose it is). */
export const NODE_CODE_SETTING = "node.code";

/** Records the node's code the first time; returns the code the data directory belongs to. */
export async function recordNodeCode(db: Db, code: string, at: Date): Promise<string> {
  await db.insert(settings).values({ key: NODE_CODE_SETTING, value: code, updatedAt: at.toISOString() }).onConflictDoNothing();
  return (await getSettings(db, [NODE_CODE_SETTING])).get(NODE_CODE_SETTING)!;
}

/** Sets one setting (as a statement for a batch). */
export function setSetting(db: Db, key: string, value: string, at: string): Stmt {
  return db.insert(settings).values({ key, value, updatedAt: at }).onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: at } });
}

/** Reads settings by key. */
export async function getSettings(db: Db, keys: readonly string[]): Promise<Map<string, string>> {
  const rows = await db.select().from(settings).where(inArray(settings.key, [...keys]));
  return new Map(rows.map((r) => [r.key, r.value]));
}

export interface ReplicaState {
  ackedSeq: number;
  ackedHash: string;
  /** null until the first pull has been applied. */
  cursor: number | null;
  headSeq: number;
  headHash: string;
}

/** The node's replication state: what the city acknowledged, where its pull cursor is, its own head. */
export async function replicaState(db: Db, origin: string): Promise<ReplicaState> {
  const [s, head] = await Promise.all([getSettings(db, Object.values(KEYS)), chainHead(db, origin)]);
  return {
    ackedSeq: Number(s.get(KEYS.ackedSeq) ?? 0),
    ackedHash: s.get(KEYS.ackedHash) ?? GENESIS_HASH,
    cursor: s.has(KEYS.cursor) ? Number(s.get(KEYS.cursor)) : null,
    headSeq: head.seq,
    headHash: head.hash,
  };
}

/** The hash of one of the node's events, or null. */
export async function eventHashAt(db: Db, origin: string, seq: number): Promise<string | null> {
  if (seq === 0) return GENESIS_HASH;
  const rows = await db.select({ hash: caseEvents.hash }).from(caseEvents).where(and(eq(caseEvents.origin, origin), eq(caseEvents.seq, seq)));
  return rows[0]?.hash ?? null;
}

/** Records the city's acknowledgement. */
export async function storeAck(db: Db, seq: number, hash: string, at: Date): Promise<void> {
  const iso = at.toISOString();
  await serialized(db, () => db.batch([setSetting(db, KEYS.ackedSeq, String(seq), iso), setSetting(db, KEYS.ackedHash, hash, iso)]));
}

/** Case numbers among `caseNos` that have own events the city has not acknowledged yet. */
export async function casesNotAtCity(db: Db, origin: string, ackedSeq: number, caseNos: readonly string[]): Promise<Set<string>> {
  if (caseNos.length === 0) return new Set();
  // Unary plus keeps SQLite on the case_no index: the (origin, seq) key would scan every
  // unacknowledged event, which after weeks offline is tens of thousands per request.
  const rows = await db
    .selectDistinct({ caseNo: caseEvents.caseNo })
    .from(caseEvents)
    .where(sql`${caseEvents.caseNo} IN (SELECT value FROM json_each(${JSON.stringify([...new Set(caseNos)])})) AND +${caseEvents.origin} = ${origin} AND +${caseEvents.seq} > ${ackedSeq}`);
  return new Set(rows.map((r) => r.caseNo));
}

/** How many conflicts are waiting for a person. */
export async function conflictCount(db: Db): Promise<number> {
  const rows = await db.select({ n: count() }).from(conflicts).where(isNull(conflicts.resolvedAt));
  return rows[0]?.n ?? 0;
}

/** Applies a pull response and advances the cursor, all in one batch. Returns what changed. */
export async function applyPull(db: Db, res: PullResponse, at: Date): Promise<{ events: number; items: number; calendar: number; conflicts: number }> {
  return serialized(db, async () => {
    const iso = at.toISOString();
    const stmts: Stmt[] = [];
    for (const d of res.departments as (typeof departments.$inferInsert)[]) {
      stmts.push(db.insert(departments).values(d).onConflictDoUpdate({ target: departments.code, set: d }));
    }
    for (const i of res.items as (typeof serviceItems.$inferInsert)[]) {
      stmts.push(db.insert(serviceItems).values(i).onConflictDoUpdate({ target: serviceItems.code, set: i }));
    }
    for (const d of res.calendarDays) {
      if (d.deleted) stmts.push(db.delete(calendarDays).where(eq(calendarDays.date, d.date)));
      else {
        const row = { date: d.date, kind: d.kind, name: d.name, updatedAt: d.updatedAt };
        stmts.push(db.insert(calendarDays).values(row).onConflictDoUpdate({ target: calendarDays.date, set: row }));
      }
    }
    for (const y of res.calendarYears) stmts.push(db.insert(calendarYears).values(y).onConflictDoUpdate({ target: calendarYears.year, set: y }));

    // Events made elsewhere on this node's cases: skip those already held, apply the rest in order.
    let applied = 0;
    if (res.events.length) {
      const held = new Set<string>();
      for (const origin of new Set(res.events.map((e) => e.origin))) {
        const seqs = await heldSeqs(db, origin, res.events.filter((e) => e.origin === origin).map((e) => e.seq));
        for (const seq of seqs) held.add(`${origin}:${seq}`);
      }
      const fresh = res.events.filter((e) => !held.has(`${e.origin}:${e.seq}`));
      const current = await loadCases(db, fresh.map((e) => e.caseNo));
      const changed = new Map<string, { before: CaseSnapshot | null; after: CaseSnapshot }>();
      for (const e of fresh) {
        const before = changed.get(e.caseNo)?.after ?? current.get(e.caseNo) ?? null;
        if (!before && e.type !== "opened") continue;
        const after = applyEvent(before, e as { caseNo: string; type: string; payload: Record<string, any> });
        changed.set(e.caseNo, { before: changed.get(e.caseNo)?.before ?? current.get(e.caseNo) ?? null, after });
      }
      stmts.push(...insertEventStatements(db, fresh.map((e) => ({ ...(e as ChainedEvent), receivedAt: iso }))));
      stmts.push(...eventSideEffects(db, fresh));
      stmts.push(...writeCaseStatements(db, [...changed.values()]));
      applied = fresh.length;
    }
    for (const d of res.delegations ?? []) stmts.push(db.insert(delegations).values(d).onConflictDoNothing());
    for (const r of res.revocations ?? []) {
      stmts.push(db.insert(approvalRevocations).values({ approvalId: r.id, reason: r.reason, revokedAt: r.revokedAt, revokedBy: "CITY" }).onConflictDoNothing());
    }
    for (const c of res.conflicts) {
      stmts.push(db.insert(conflicts).values({ ...c, node: "", resolvedAt: null, resolution: null }).onConflictDoNothing());
    }
    stmts.push(setSetting(db, KEYS.cursor, String(res.cursor), iso));
    await db.batch(stmts as [Stmt, ...Stmt[]]);
    return { events: applied, items: res.items.length, calendar: res.calendarDays.length + res.calendarYears.length, conflicts: res.conflicts.length };
  });
}
