/**
 * Sessions, attempt counters and the audit log of one shell's database. A session cookie carries a
 * random secret; only its SHA-256 is stored, so a copy of the database signs nobody in.
 */
import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import { accounts, attemptCounters, auditLog, sessions } from "../schema/tables.js";
import { sha256Hex } from "../domain/events.js";
import { afterFailure, waitFor, type Counter, type ThrottlePolicy } from "../domain/throttle.js";
import type { AccountRow } from "./accounts.js";
import type { Db } from "./db.js";

/** How long a session lasts from sign-in. */
export const SESSION_TTL_MS = 8 * 60 * 60_000;

const b64url = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** Opens a session for an account; returns the secret for the cookie. */
export async function openSession(db: Db, accountId: string, now: Date): Promise<{ token: string; expiresAt: string }> {
  const token = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const expiresAt = new Date(now.getTime() + SESSION_TTL_MS).toISOString();
  await db.batch([
    // Sessions past their time are dropped as new ones are made, so the table stays small.
    db.delete(sessions).where(lt(sessions.expiresAt, now.toISOString())),
    db.insert(sessions).values({ tokenHash: await sha256Hex(token), accountId, createdAt: now.toISOString(), expiresAt }),
  ]);
  return { token, expiresAt };
}

/** The account of a live session (not expired, account not disabled), or null. */
export async function sessionAccount(db: Db, token: string, now: Date): Promise<AccountRow | null> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  const rows = await db
    .select({ a: accounts, expiresAt: sessions.expiresAt })
    .from(sessions)
    .innerJoin(accounts, eq(accounts.id, sessions.accountId))
    .where(eq(sessions.tokenHash, await sha256Hex(token)))
    .limit(1);
  const r = rows[0];
  if (!r || r.expiresAt <= now.toISOString() || r.a.disabledAt) return null;
  return r.a;
}

/** Ends a session (signing out). */
export async function closeSession(db: Db, token: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.tokenHash, await sha256Hex(token)));
}

/** Ends every session of an account (disabled, or its password changed). */
export async function closeSessionsOf(db: Db, accountId: string): Promise<void> {
  await db.delete(sessions).where(eq(sessions.accountId, accountId));
}

/** The longest wait any of these keys is under now (0: may try). */
export async function attemptWait(db: Db, keys: readonly string[], now: Date): Promise<number> {
  if (keys.length === 0) return 0;
  const rows = await db.select().from(attemptCounters).where(inArray(attemptCounters.key, [...keys]));
  return Math.max(0, ...rows.map((r) => waitFor(r, now)));
}

/** Counts one failure against each key under its policy; returns the wait it now imposes. */
export async function recordFailure(db: Db, keyed: readonly { key: string; policy: ThrottlePolicy }[], now: Date): Promise<number> {
  const rows = await db.select().from(attemptCounters).where(inArray(attemptCounters.key, keyed.map((k) => k.key)));
  let wait = 0;
  const stmts = keyed.map(({ key, policy }) => {
    const before = rows.find((r) => r.key === key) ?? null;
    const next: Counter = afterFailure(policy, before, now);
    wait = Math.max(wait, waitFor(next, now));
    const row = { key, failures: next.failures, firstAt: next.firstAt, lastAt: now.toISOString(), blockedUntil: next.blockedUntil };
    return db.insert(attemptCounters).values(row).onConflictDoUpdate({ target: attemptCounters.key, set: row });
  });
  if (stmts.length) await db.batch(stmts as [(typeof stmts)[0], ...typeof stmts]);
  return wait;
}

/** Forgets a key's failures (a successful sign-in). */
export async function clearFailures(db: Db, key: string): Promise<void> {
  await db.delete(attemptCounters).where(eq(attemptCounters.key, key));
}

export interface AuditEntry {
  actor: string;
  action: string;
  subject: string;
  detail?: string;
  address?: string | null;
}

/** Appends to the audit log. */
export async function audit(db: Db, e: AuditEntry, at: Date): Promise<void> {
  await db.insert(auditLog).values({ at: at.toISOString(), actor: e.actor, action: e.action, subject: e.subject, detail: e.detail ?? "", address: e.address ?? null });
}

/** The audit log, newest first, optionally of one action and/or one subject (a case number, a login), before a seq (keyset paging). */
export async function readAudit(db: Db, q: { action?: string; subject?: string; before?: number; limit: number }) {
  const conds = [
    q.action ? eq(auditLog.action, q.action) : undefined,
    q.subject ? eq(auditLog.subject, q.subject) : undefined,
    q.before ? lt(auditLog.seq, q.before) : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select()
    .from(auditLog)
    .where(conds.length ? and(...conds) : sql`1`)
    .orderBy(desc(auditLog.seq))
    .limit(q.limit);
}
