/**
 * The city's pull feed: what a node receives after its cursor, in the format of the protocol
 * version it spoke. Change rows are read before their contents, so content is never older than
 * the cursor handed out.
 */
import { and, asc, desc, eq, gt, inArray, isNull, lte, or } from "drizzle-orm";
import { approvalRevocations, calendarDays, calendarYears, caseEvents, changes, conflicts, delegations, departments, serviceItems } from "../schema/tables.js";
import type { ProtocolVersion } from "../domain/protocol-versions.js";
import type { PullResponse, PullResponseV1, WireEvent } from "../domain/sync-protocol.js";
import { accountFeed } from "./accounts.js";
import type { Db } from "./db.js";
import { chunked, PARAM_CHUNK } from "./sync.js";

/** Stored events by `origin:seq` keys, in the order of the keys. */
async function wireEvents(db: Db, keys: readonly string[]): Promise<WireEvent[]> {
  const out: WireEvent[] = [];
  for (const part of chunked(keys, 40)) {
    const conds = part.map((k) => {
      const i = k.lastIndexOf(":");
      return and(eq(caseEvents.origin, k.slice(0, i)), eq(caseEvents.seq, Number(k.slice(i + 1))))!;
    });
    const rows = await db.select().from(caseEvents).where(or(...conds));
    for (const r of rows) {
      const { receivedAt: _r, ...e } = r;
      out.push(e as WireEvent);
    }
  }
  const order = new Map(keys.map((k, i) => [k, i]));
  return out.sort((a, b) => order.get(`${a.origin}:${a.seq}`)! - order.get(`${b.origin}:${b.seq}`)!);
}

export interface PullRequest {
  /** The version the node spoke: the answer is in its format. */
  v: ProtocolVersion;
  /** null before the node's first pull. */
  cursor: number | null;
  limit: number;
  /** Every account of the hall, not only those changed after the cursor (version 2). */
  accountsSnapshot?: boolean;
}

/**
 * What `node` receives after `cursor`: catalog and calendar changes (everything on a first pull),
 * the events and conflict flags on its cases and, from version 2, its hall's staff accounts (all
 * of them on a first pull or when asked). The change rows are read before their contents, so
 * content is never older than the cursor handed out. A version 1 node gets the version 1 format.
 */
export async function buildPull(db: Db, node: string, req: PullRequest, now: Date): Promise<PullResponse | PullResponseV1> {
  const { cursor: cursorIn, limit } = req;
  const cursor = cursorIn ?? 0;
  // The head first: a snapshot's cursor must not pass a change committed after the rows were read.
  const [top] = await db.select({ seq: changes.seq }).from(changes).orderBy(desc(changes.seq)).limit(1);
  const head = top?.seq ?? 0;
  const rows = await db
    .select()
    .from(changes)
    .where(and(gt(changes.seq, cursor), lte(changes.seq, head), or(isNull(changes.node), eq(changes.node, node))))
    .orderBy(asc(changes.seq))
    .limit(limit);
  const snapshot = cursorIn === null;
  const keysOf = (kind: string) => [...new Set(rows.filter((r) => r.kind === kind).map((r) => r.key))];
  const res: PullResponse = {
    v: 2,
    cursor: rows.length ? rows.at(-1)!.seq : cursor,
    hasMore: rows.length === limit,
    snapshot,
    departments: [],
    items: [],
    calendarDays: [],
    calendarYears: [],
    events: [],
    conflicts: [],
    delegations: [],
    revocations: [],
    accounts: [],
    departedAccounts: [],
    serverTime: now.toISOString(),
  };
  if (!res.hasMore) res.cursor = Math.max(res.cursor, head);
  if (snapshot) {
    // The node's bundled seed may be older than the city's catalog: send all of it once.
    res.departments = await db.select().from(departments);
    res.items = await db.select().from(serviceItems);
    res.calendarDays = await db.select().from(calendarDays);
    res.calendarYears = await db.select().from(calendarYears);
  } else {
    for (const part of chunked(keysOf("department"), PARAM_CHUNK)) res.departments.push(...(await db.select().from(departments).where(inArray(departments.code, part))));
    for (const part of chunked(keysOf("item"), PARAM_CHUNK)) res.items.push(...(await db.select().from(serviceItems).where(inArray(serviceItems.code, part))));
    const dayKeys = keysOf("calendar_day");
    for (const part of chunked(dayKeys, PARAM_CHUNK)) res.calendarDays.push(...(await db.select().from(calendarDays).where(inArray(calendarDays.date, part))));
    for (const date of dayKeys) {
      if (!res.calendarDays.some((d) => d.date === date)) res.calendarDays.push({ date, kind: "holiday", name: "", updatedAt: now.toISOString(), deleted: true });
    }
    for (const part of chunked(keysOf("calendar_year").map(Number), PARAM_CHUNK)) res.calendarYears.push(...(await db.select().from(calendarYears).where(inArray(calendarYears.year, part))));
  }
  res.events = await wireEvents(db, keysOf("event"));
  for (const part of chunked(keysOf("delegation"), PARAM_CHUNK)) res.delegations.push(...(await db.select().from(delegations).where(inArray(delegations.id, part))));
  const revoked = snapshot
    ? await db.select().from(approvalRevocations)
    : (await Promise.all(chunked(keysOf("revocation"), PARAM_CHUNK).map((part) => db.select().from(approvalRevocations).where(inArray(approvalRevocations.approvalId, part))))).flat();
  res.revocations = revoked.map((r) => ({ id: r.approvalId, reason: r.reason, revokedAt: r.revokedAt }));
  // A node's flags are on its own events: one query a chunk, not one a flag.
  const flagKeys = keysOf("conflict").filter((k) => k.startsWith(`${node}:`)).map((k) => Number(k.slice(node.length + 1)));
  for (const part of chunked(flagKeys, PARAM_CHUNK)) {
    const found = await db.select().from(conflicts).where(and(eq(conflicts.origin, node), inArray(conflicts.seq, part))).orderBy(asc(conflicts.seq));
    for (const c of found) res.conflicts.push({ origin: c.origin, seq: c.seq, caseNo: c.caseNo, type: c.type, reason: c.reason, detectedAt: c.detectedAt });
  }
  if (req.v === 1) {
    // A version 1 node knows nothing of accounts: its answer is the version 1 format, without them.
    const { accounts: _a, departedAccounts: _d, ...v1 } = res;
    return { ...v1, v: 1 };
  }
  Object.assign(res, await accountFeed(db, node, keysOf("account"), snapshot || req.accountsSnapshot === true));
  return res;
}
