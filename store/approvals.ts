/** Approvals, their revocation and the delegations that let township nodes sign. */
import { asc, desc, eq, inArray } from "drizzle-orm";
import type { JSONWebKeySet } from "jose";
import { approvalRevocations, approvals, changes, delegations, departments } from "../schema/tables.js";
import { itemKindsEver } from "./reference-history.js";
import { approvalClaims, approvalIssuedPayload, revocableIds, verifyApproval, type ApprovalClaims, type VerifyResult } from "../domain/approval.js";
import type { CaseSnapshot, Role } from "../domain/lifecycle.js";
import { historyProblem } from "../domain/recheck.js";
import type { Db } from "./db.js";
import { getItemRow } from "./catalog.js";
import { rawStatement } from "./bulk.js";
import { getCase, getCaseEvents, recordEvent, type StoredEvent } from "./cases.js";

export type ApprovalRow = typeof approvals.$inferSelect;
export type DelegationRow = typeof delegations.$inferSelect;

/** The first approval issued for a case, or null. */
export async function approvalForCase(db: Db, caseNo: string): Promise<ApprovalRow | null> {
  const rows = await db.select().from(approvals).where(eq(approvals.caseNo, caseNo)).orderBy(asc(approvals.issuedAt)).limit(1);
  return rows[0] ?? null;
}

/** One approval by id, or null. */
export async function approvalById(db: Db, id: string): Promise<ApprovalRow | null> {
  const rows = await db.select().from(approvals).where(eq(approvals.id, id)).limit(1);
  return rows[0] ?? null;
}

/** Signs claims; returns the compact JWS and the kid it was signed under. */
export type ApprovalSigner = (claims: ApprovalClaims) => Promise<{ token: string; kid: string }>;

export interface IssueRequest {
  origin: string;
  actor: string;
  at: Date;
  /** The `iss` claim (the city's URL or name). */
  issuer: string;
  validDays: number;
  sign: ApprovalSigner;
  /** A node's delegation, carried in the document. */
  delegation?: string;
}

/**
 * Issues the approval of a case concluded with a grant, once: the signed document travels as an
 * `approval-issued` event, so it reaches the other side by sync like every other change.
 */
export async function issueApproval(db: Db, caseNo: string, req: IssueRequest): Promise<ApprovalRow | null> {
  const existing = await approvalForCase(db, caseNo);
  if (existing) return existing;
  await recordEvent(db, caseNo, req, async (c: CaseSnapshot) => {
    if (c.state !== "decided" && c.state !== "delivered") return null;
    if (c.decision !== "grant") return null;
    if (await approvalForCase(db, caseNo)) return null;
    const claims = await approvalClaimsFor(db, c, { id: crypto.randomUUID(), issuer: req.issuer, issuedAt: req.at, validDays: req.validDays, delegation: req.delegation });
    if (!claims) return null;
    const { token, kid } = await req.sign(claims);
    return { caseNo, type: "approval-issued", payload: approvalIssuedPayload(claims, token, kid, req.origin, req.at.toISOString()) };
  });
  return approvalForCase(db, caseNo);
}

/**
 * The claims of the document for a granted case, made from the case, its item and its department
 * as this database holds them (null when the item or department is unknown). The city uses the
 * same function to check a document a node signed.
 */
export async function approvalClaimsFor(
  db: Db,
  c: CaseSnapshot,
  doc: { id: string; issuer: string; issuedAt: Date; validDays: number; delegation?: string },
): Promise<ApprovalClaims | null> {
  const item = await getItemRow(db, c.itemCode);
  const [dept] = await db.select().from(departments).where(eq(departments.code, c.departmentCode)).limit(1);
  if (!item || !dept) return null;
  return approvalClaims({
    ...doc,
    caseNo: c.caseNo,
    itemCode: c.itemCode,
    itemName: c.itemName,
    holderName: c.applicantName,
    holderIdNumber: c.applicantIdNumber,
    department: { code: dept.code, name: dept.name, creditCode: dept.creditCode },
    resultType: item.resultType,
    resultName: item.resultName,
    basicCode: item.basicCode,
  });
}

/**
 * Why the city must not sign a result for this case, or null: every event applied to it (those
 * flagged as conflicts never were), in the order the city applied them, must be one its own
 * transition table allows for the item's kind in its catalog and the role that made it.
 */
export async function caseHistoryProblem(db: Db, caseNo: string, cityOrigin: string): Promise<string | null> {
  const [events, kase] = await Promise.all([getCaseEvents(db, caseNo), getCase(db, caseNo)]);
  if (!kase) return `办件 ${caseNo} 不存在`;
  const item = await getItemRow(db, kase.itemCode);
  if (!item) return `事项 ${kase.itemCode} 不在市级事项目录中`;
  const kinds = await itemKindsEver(db, kase.itemCode, item.kind);
  // Applied at the city when stored (a pushed event) or when made (its own).
  const appliedAt = (e: StoredEvent) => e.receivedAt ?? e.occurredAt;
  const applied = events
    .filter((e) => e.conflict === null)
    .sort((a, b) => (appliedAt(a) < appliedAt(b) ? -1 : appliedAt(a) > appliedAt(b) ? 1 : a.origin === b.origin ? a.seq - b.seq : a.origin < b.origin ? -1 : 1));
  return historyProblem(applied as (StoredEvent & { payload: Record<string, unknown> })[], kinds, (e) => (e.origin === cityOrigin ? ((e.payload.role as Role | undefined) ?? "clerk") : "clerk"));
}

/** The revoked approvals, as verifiers need them. */
export async function revokedApprovals(db: Db): Promise<Map<string, { reason: string; revokedAt: string }>> {
  const rows = await db.select().from(approvalRevocations).orderBy(asc(approvalRevocations.revokedAt));
  return new Map(rows.map((r) => [r.approvalId, { reason: r.reason, revokedAt: r.revokedAt }]));
}

/** The revocation that applies to a stored document (its own or its delegation's), or null. */
export async function revocationOf(db: Db, approval: Pick<ApprovalRow, "id" | "token">): Promise<{ id: string; reason: string; revokedAt: string } | null> {
  const ids = [...new Set([approval.id, ...revocableIds(approval.token)])];
  const rows = await db.select().from(approvalRevocations).where(inArray(approvalRevocations.approvalId, ids)).orderBy(asc(approvalRevocations.revokedAt)).limit(1);
  return rows[0] ? { id: rows[0].approvalId, reason: rows[0].reason, revokedAt: rows[0].revokedAt } : null;
}

/**
 * Revokes a document, an approval or a delegation (idempotent: a second revocation keeps the first
 * reason). Every node hears of it by pull, so its window stops handing the document out as valid.
 */
export async function revokeApproval(db: Db, id: string, reason: string, by: string, at: Date) {
  await db.batch([
    // Only a new revocation goes into the feed: revoking again must not make every node pull it again.
    rawStatement(
      db,
      `INSERT INTO "changes" ("kind", "key", "node", "at") SELECT 'revocation', ?, NULL, ? WHERE NOT EXISTS (SELECT 1 FROM "approval_revocations" WHERE "approval_id" = ?)`,
      [id, at.toISOString(), id],
    ),
    db.insert(approvalRevocations).values({ approvalId: id, reason, revokedAt: at.toISOString(), revokedBy: by }).onConflictDoNothing(),
  ]);
  const [row] = await db.select().from(approvalRevocations).where(eq(approvalRevocations.approvalId, id));
  return row!;
}

/** The revocations filed under any of these ids (a document's own, its delegation's), by id. */
export async function revocationsAmong(db: Db, ids: readonly string[]): Promise<Map<string, { reason: string; revokedAt: string }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select().from(approvalRevocations).where(inArray(approvalRevocations.approvalId, [...ids]));
  return new Map(rows.map((r) => [r.approvalId, { reason: r.reason, revokedAt: r.revokedAt }]));
}

/** Verifies a token against this database's revocations and the given keys. */
export async function verifyHere(db: Db, token: string, jwks: JSONWebKeySet, now: Date): Promise<VerifyResult> {
  return verifyApproval(token, { jwks, revoked: await revokedApprovals(db), now });
}

/** Stores a delegation the city signed and puts it in the node's pull feed. */
export async function storeDelegation(db: Db, row: DelegationRow): Promise<void> {
  await db.batch([db.insert(delegations).values(row), db.insert(changes).values({ kind: "delegation", key: row.id, node: row.node, at: row.issuedAt })]);
}

/** A delegation by id, or null. */
export async function delegationById(db: Db, id: string): Promise<DelegationRow | null> {
  const rows = await db.select().from(delegations).where(eq(delegations.id, id)).limit(1);
  return rows[0] ?? null;
}

/** Every delegation a node was given (to revoke them with the node). */
export async function delegationsOf(db: Db, node: string): Promise<DelegationRow[]> {
  return db.select().from(delegations).where(eq(delegations.node, node));
}

/**
 * The newest delegation the city gave a node, or null — also when that newest one is revoked: a
 * newer delegation replaces the older ones (it may cover fewer items), so revoking it does not
 * bring an older one back.
 */
export async function latestDelegation(db: Db, node: string): Promise<DelegationRow | null> {
  const rows = await db
    .select({ d: delegations, revoked: approvalRevocations.approvalId })
    .from(delegations)
    .leftJoin(approvalRevocations, eq(approvalRevocations.approvalId, delegations.id))
    .where(eq(delegations.node, node))
    .orderBy(desc(delegations.issuedAt))
    .limit(1);
  return rows[0] && rows[0].revoked === null ? rows[0].d : null;
}
