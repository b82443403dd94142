/**
 * A node's side of replication: what it has to push, its acknowledgement and pull cursor, and
 * applying what it pulled. Applying twice changes nothing; the cursor moves in the same batch
 * as the changes it covers.
 */
import { and, asc, count, desc, eq, gt, inArray, isNull, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { approvalRevocations, calendarDays, calendarYears, caseEvents, conflicts, delegations, departments, pulledFlags, serviceItems, settings } from "../schema/tables.js";
import { applyEvent, type CaseSnapshot } from "../domain/lifecycle.js";
import { GENESIS_HASH, type ChainedEvent } from "../domain/events.js";
import { disableAccounts, storePulledAccounts } from "./accounts.js";
import { bulkInsert } from "./bulk.js";
import type { GuardedPull } from "./pull-guard.js";
import { serialized, type Db } from "./db.js";
import { chainHead, eventSideEffects } from "./cases.js";
import { heldSeqs, insertEventStatements, loadCases, writeCaseStatements } from "./sync.js";

type Stmt = BatchItem<"sqlite">;

const KEYS = { ackedSeq: "sync.ackedSeq", ackedHash: "sync.ackedHash", cursor: "sync.cursor", accountsComplete: "sync.accountsComplete" } as const;

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

/** What applying a pull changed. */
export interface PullApplied {
  events: number;
  items: number;
  calendar: number;
  conflicts: number;
  accounts: number;
  flagged: number;
}

/** The most of a flagged item kept (its JSON), so a huge bad item cannot fill the node's disk. */
const MAX_FLAGGED_ITEM = 8_000;

/** A flagged item as stored: its JSON without any password hash, cut to a bounded length. */
function storedItem(item: unknown): string {
  const shown = typeof item === "object" && item !== null && !Array.isArray(item) && "passwordHash" in item ? { ...(item as object), passwordHash: "（不保存）" } : item;
  let text: string;
  try {
    text = JSON.stringify(shown) ?? "null";
  } catch {
    text = String(shown);
  }
  return text.length > MAX_FLAGGED_ITEM ? `${text.slice(0, MAX_FLAGGED_ITEM)}…` : text;
}

/**
 * Applies a checked pull answer (`guardPull`) and advances the cursor, all in one batch: the items
 * that passed are written, those that did not are kept in `pulled_flags` with their reason. An
 * event that cannot be applied to its case is flagged too, and holds back its case's later events.
 * `accountsComplete`: the answer carried every account of the hall (recorded, so the node stops asking).
 */
export async function applyPull(db: Db, node: string, pull: GuardedPull, at: Date, opts: { accountsComplete?: boolean } = {}): Promise<PullApplied> {
  const res = pull.response;
  return serialized(db, async () => {
    const iso = at.toISOString();
    const flagged = [...pull.flagged];
    const stmts: Stmt[] = [];
    for (const d of res.departments) {
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
      const taken: ChainedEvent[] = [];
      const stuck = new Set<string>();
      for (const e of fresh) {
        if (stuck.has(e.caseNo)) {
          flagged.push({ kind: "events", key: `${e.origin}:${e.seq}`, caseNo: e.caseNo, reason: `事件所属办件 ${e.caseNo} 有更早的同步事件未通过校验，后续事件暂不应用`, item: e });
          continue;
        }
        const before = changed.get(e.caseNo)?.after ?? current.get(e.caseNo) ?? null;
        taken.push(e);
        if (!before && e.type !== "opened") continue;
        let after: CaseSnapshot;
        try {
          after = applyEvent(before, e as { caseNo: string; type: string; payload: Record<string, any> });
        } catch {
          taken.pop();
          stuck.add(e.caseNo);
          flagged.push({ kind: "events", key: `${e.origin}:${e.seq}`, caseNo: e.caseNo, reason: "事件无法应用到本节点的办件（内容缺项或与办件状态不符）", item: e });
          continue;
        }
        changed.set(e.caseNo, { before: changed.get(e.caseNo)?.before ?? current.get(e.caseNo) ?? null, after });
      }
      stmts.push(...insertEventStatements(db, taken.map((e) => ({ ...e, receivedAt: iso }))));
      stmts.push(...eventSideEffects(db, taken));
      stmts.push(...writeCaseStatements(db, [...changed.values()]));
      applied = taken.length;
    }
    for (const d of res.delegations) stmts.push(db.insert(delegations).values(d).onConflictDoNothing());
    for (const r of res.revocations) {
      stmts.push(db.insert(approvalRevocations).values({ approvalId: r.id, reason: r.reason, revokedAt: r.revokedAt, revokedBy: "CITY" }).onConflictDoNothing());
    }
    for (const c of res.conflicts) {
      stmts.push(db.insert(conflicts).values({ ...c, node: "", resolvedAt: null, resolution: null }).onConflictDoNothing());
    }
    stmts.push(...storePulledAccounts(db, node, res.accounts, res.departedAccounts, iso));
    stmts.push(...disableAccounts(db, pull.accountsToDisable, iso));
    if (flagged.length) {
      stmts.push(
        ...bulkInsert(
          db,
          pulledFlags,
          flagged.map((f) => ({ kind: f.kind, key: f.key, caseNo: f.caseNo, reason: f.reason, item: storedItem(f.item), cursor: res.cursor, flaggedAt: iso })),
        ),
      );
    }
    stmts.push(setSetting(db, KEYS.cursor, String(res.cursor), iso));
    if (opts.accountsComplete) stmts.push(setSetting(db, KEYS.accountsComplete, iso, iso));
    await db.batch(stmts as [Stmt, ...Stmt[]]);
    return {
      events: applied,
      items: res.items.length + res.departments.length,
      calendar: res.calendarDays.length + res.calendarYears.length,
      conflicts: res.conflicts.length,
      accounts: res.accounts.length + res.departedAccounts.length,
      flagged: flagged.length,
    };
  });
}

/** Whether the node has received every account of its hall once (a first pull, or a snapshot after upgrading from version 1). */
export async function accountsComplete(db: Db): Promise<boolean> {
  return (await getSettings(db, [KEYS.accountsComplete])).has(KEYS.accountsComplete);
}

/** How many pulled items were set aside. */
export async function pulledFlagCount(db: Db): Promise<number> {
  const rows = await db.select({ n: count() }).from(pulledFlags);
  return rows[0]?.n ?? 0;
}

/** The pulled items set aside, newest first (without the items themselves: they may hold personal data). */
export async function listPulledFlags(db: Db, limit = 200) {
  return db
    .select({ seq: pulledFlags.seq, kind: pulledFlags.kind, key: pulledFlags.key, caseNo: pulledFlags.caseNo, reason: pulledFlags.reason, cursor: pulledFlags.cursor, flaggedAt: pulledFlags.flaggedAt })
    .from(pulledFlags)
    .orderBy(desc(pulledFlags.seq))
    .limit(limit);
}
