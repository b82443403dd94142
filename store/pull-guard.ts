/**
 * Node: a pull answer is checked before anything of it is written. An answer whose head does not
 * hold (another protocol version, a cursor that is not a number or goes backwards, a list that is
 * no list) is refused whole: nothing is written and the next round asks again. Each item is then
 * checked on its own — its schema, and what the node can check against what it holds (an event's
 * hash and chain, that it concerns this node's cases, an account's hall, a department an item
 * names). An item that fails is set aside with its reason (`pulled_flags`) and the rest applies.
 */
import { and, eq, sql } from "drizzle-orm";
import { caseEvents, departments, pulledFlags } from "../schema/tables.js";
import { eventHash } from "../domain/events.js";
import { nodeAccepts, nodeRefusal, PROTOCOL_VERSION } from "../domain/protocol-versions.js";
import { PULL_LIST_LABELS, PULL_LISTS_V2, type PullListName } from "../domain/sync-items.js";
import { pullEnvelopeSchema, type PullResponse, type WireEvent } from "../domain/sync-protocol.js";
import type { z } from "zod";
import type { Db } from "./db.js";

/** A pulled item the node did not apply, and why. */
export interface PullFlag {
  kind: PullListName;
  key: string;
  caseNo: string | null;
  reason: string;
  item: unknown;
}

export interface GuardedPull {
  /** The answer with only the items that passed. */
  response: PullResponse;
  flagged: PullFlag[];
  /** Accounts a flagged row was about: disabled here until a good row comes (fail closed). */
  accountsToDisable: string[];
}

export type PullGuardResult = { kind: "rejected"; reason: string } | { kind: "accepted"; pull: GuardedPull };

/** "字段 a.b：message" for the first issue. */
function issueText(issues: readonly z.core.$ZodIssue[]): string {
  const i = issues[0];
  if (!i) return "格式不正确";
  const path = i.path.map(String).join(".");
  return path ? `字段 ${path}：${i.message}` : i.message;
}

/** What an item names, read as far as it can be (for the flag and for holding back its case). */
function keyOf(kind: PullListName, item: unknown): { key: string; caseNo: string | null } {
  if (typeof item === "string") return { key: item.slice(0, 100), caseNo: null };
  if (typeof item !== "object" || item === null) return { key: "", caseNo: null };
  const x = item as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v).slice(0, 100) : "");
  const caseNo = typeof x.caseNo === "string" ? x.caseNo.slice(0, 40) : null;
  switch (kind) {
    case "events":
    case "conflicts":
      return { key: `${str(x.origin)}:${str(x.seq)}`, caseNo: kind === "events" ? caseNo : null };
    case "departments":
    case "items":
      return { key: str(x.code), caseNo: null };
    case "calendarDays":
      return { key: str(x.date), caseNo: null };
    case "calendarYears":
      return { key: str(x.year), caseNo: null };
    default:
      return { key: str(x.id), caseNo: null };
  }
}

/**
 * Checks a pull answer (`raw`, parsed JSON) that `node` received for the cursor it sent. Reads
 * what it needs of the node's database; writes nothing.
 */
export async function guardPull(db: Db, node: string, raw: unknown, sentCursor: number | null): Promise<PullGuardResult> {
  const v = typeof raw === "object" && raw !== null ? (raw as { v?: unknown }).v : undefined;
  if (!nodeAccepts(v)) return { kind: "rejected", reason: nodeRefusal(v) };
  const head = pullEnvelopeSchema.safeParse(raw);
  if (!head.success) {
    return { kind: "rejected", reason: `市级的拉取响应不符合同步协议（版本 ${PROTOCOL_VERSION}），已整体拒收，未写入任何内容，下次同步时重试：${issueText(head.error.issues)}` };
  }
  const env = head.data;
  if (sentCursor !== null && env.cursor < sentCursor) {
    return { kind: "rejected", reason: `市级的拉取响应游标 ${env.cursor} 早于本节点已应用的 ${sentCursor}，已整体拒收，未写入任何内容，下次同步时重试` };
  }

  const flagged: PullFlag[] = [];
  const flag = (kind: PullListName, item: unknown, reason: string) => flagged.push({ kind, ...keyOf(kind, item), reason: `${PULL_LIST_LABELS[kind]}${reason}`, item });
  const checked = <K extends PullListName>(kind: K): z.output<(typeof PULL_LISTS_V2)[K]>[] => {
    const out: z.output<(typeof PULL_LISTS_V2)[K]>[] = [];
    for (const item of env[kind]) {
      const r = PULL_LISTS_V2[kind].safeParse(item);
      if (r.success) out.push(r.data as z.output<(typeof PULL_LISTS_V2)[K]>);
      else flag(kind, item, `不符合同步协议：${issueText(r.error.issues)}`);
    }
    return out;
  };

  const response: PullResponse = {
    v: env.v,
    cursor: env.cursor,
    hasMore: env.hasMore,
    snapshot: env.snapshot,
    serverTime: env.serverTime,
    departments: checked("departments"),
    items: [],
    calendarDays: checked("calendarDays"),
    calendarYears: checked("calendarYears"),
    events: [],
    conflicts: [],
    delegations: [],
    revocations: checked("revocations"),
    accounts: [],
    departedAccounts: checked("departedAccounts"),
  };

  // An item must name a department the node holds or receives now (the catalog's foreign key).
  const known = new Set([...(await db.select({ code: departments.code }).from(departments)).map((d) => d.code), ...response.departments.map((d) => d.code)]);
  for (const i of checked("items")) {
    if (known.has(i.departmentCode)) response.items.push(i);
    else flag("items", i, `的部门 ${i.departmentCode} 在本节点和本次拉取中都不存在`);
  }
  for (const c of checked("conflicts")) {
    if (c.origin === node) response.conflicts.push(c);
    else flag("conflicts", c, `针对的是 ${c.origin} 的事件，不是本节点的`);
  }
  for (const d of checked("delegations")) {
    if (d.node === node) response.delegations.push(d);
    else flag("delegations", d, `授予的是节点 ${d.node}，不是本节点`);
  }
  for (const a of checked("accounts")) {
    if (a.hall === node) response.accounts.push(a);
    else flag("accounts", a, `属于 ${a.hall}，不属于本节点`);
  }
  // A malformed account row still names its account: fail closed on it.
  const accountsToDisable = [...new Set(flagged.filter((f) => f.kind === "accounts" && /^[A-Za-z0-9._-]{1,64}$/.test(f.key)).map((f) => f.key))];

  response.events = await checkEvents(db, node, checked("events"), flag);
  return { kind: "accepted", pull: { response, flagged, accountsToDisable } };
}

/**
 * The events of an answer that hold: on this node's cases, made elsewhere, hash recomputed,
 * chained on what the node holds of their origin (and on each other), not different from an
 * event held under the same seq, and on a case none of whose pulled events was set aside before.
 */
async function checkEvents(db: Db, node: string, events: WireEvent[], flag: (kind: "events", item: unknown, reason: string) => void): Promise<WireEvent[]> {
  if (events.length === 0) return [];
  // What the node holds of each event's seq and the one before it, one keyed lookup per origin.
  const held = new Map<string, string>();
  for (const origin of new Set(events.map((e) => e.origin))) {
    const seqs = events.filter((e) => e.origin === origin).flatMap((e) => [e.seq, e.seq - 1]);
    const rows = await db
      .select({ seq: caseEvents.seq, hash: caseEvents.hash })
      .from(caseEvents)
      .where(and(eq(caseEvents.origin, origin), sql`${caseEvents.seq} IN (SELECT value FROM json_each(${JSON.stringify([...new Set(seqs)])}))`));
    for (const r of rows) held.set(`${origin}:${r.seq}`, r.hash);
  }
  const heldBack = new Set(
    (
      await db
        .selectDistinct({ caseNo: pulledFlags.caseNo })
        .from(pulledFlags)
        .where(and(eq(pulledFlags.kind, "events"), sql`${pulledFlags.caseNo} IN (SELECT value FROM json_each(${JSON.stringify([...new Set(events.map((e) => e.caseNo))])}))`))
    ).map((r) => r.caseNo),
  );
  const out: WireEvent[] = [];
  const inAnswer = new Map<string, string>();
  for (const e of events) {
    const key = `${e.origin}:${e.seq}`;
    const reason = await eventProblem(node, e, held, inAnswer, heldBack);
    if (reason) {
      flag("events", e, reason);
      heldBack.add(e.caseNo);
      continue;
    }
    inAnswer.set(key, e.hash);
    out.push(e);
  }
  return out;
}

/** Why a pulled event cannot be taken, or null. */
async function eventProblem(node: string, e: WireEvent, held: Map<string, string>, inAnswer: Map<string, string>, heldBack: Set<string | null>): Promise<string | null> {
  if (e.origin === node) return "来源是本节点自己，本节点的事件不会由市级下发";
  if (!e.caseNo.startsWith(`${node}-`)) return `所属办件 ${e.caseNo} 不是本节点受理的`;
  if ((await eventHash(e.prevHash, e)) !== e.hash) return "的哈希与内容不符";
  const same = held.get(`${e.origin}:${e.seq}`) ?? inAnswer.get(`${e.origin}:${e.seq}`);
  if (same !== undefined && same !== e.hash) return "与本节点已持有的同一序号事件不同";
  const before = held.get(`${e.origin}:${e.seq - 1}`) ?? inAnswer.get(`${e.origin}:${e.seq - 1}`);
  if (before !== undefined && before !== e.prevHash) return "的前序哈希与本节点持有的上一事件不符（链断裂）";
  if (heldBack.has(e.caseNo)) return `所属办件 ${e.caseNo} 有更早的同步事件未通过校验，后续事件暂不应用`;
  return null;
}
