/**
 * Accounts: created, edited and disabled at the city (staff) or registered there (applicants);
 * a hall's staff rows reach its node by pull. A node may also hold local clerks made with
 * `npm run node:clerk` before it could pull any; a city account with the same login replaces one.
 */
import { and, asc, eq, inArray, isNull, ne, or, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { accounts, changes, sessions } from "../schema/tables.js";
import type { Principal } from "../domain/principal.js";
import type { Db } from "./db.js";

export type AccountRow = typeof accounts.$inferSelect;
type Stmt = BatchItem<"sqlite">;

/** What a node receives of an account: never an applicant, never personal details beyond the name. */
export type PulledAccount = Pick<AccountRow, "id" | "login" | "name" | "role" | "hall" | "department" | "passwordHash" | "mustChangePassword" | "disabledAt" | "updatedAt">;

/** The principal an account signs in as. */
export function principalOf(a: Pick<AccountRow, "id" | "role" | "hall" | "department" | "name">): Principal {
  return { id: a.id, role: a.role, hall: a.hall, ...(a.department ? { department: a.department } : {}), name: a.name };
}

/** One account by its login, or null. */
export async function accountByLogin(db: Db, login: string): Promise<AccountRow | null> {
  const rows = await db.select().from(accounts).where(eq(accounts.login, login)).limit(1);
  return rows[0] ?? null;
}

/** One account by its id, or null. */
export async function accountById(db: Db, id: string): Promise<AccountRow | null> {
  const rows = await db.select().from(accounts).where(eq(accounts.id, id)).limit(1);
  return rows[0] ?? null;
}

/** Every staff account (applicants are not listed), by hall and login. */
export async function listStaff(db: Db): Promise<AccountRow[]> {
  return db.select().from(accounts).where(ne(accounts.role, "applicant")).orderBy(asc(accounts.hall), asc(accounts.login));
}

/** Puts a staff account's change into its hall's pull feed (the city's own staff stay at the city). */
function feed(db: Db, a: Pick<AccountRow, "id" | "hall" | "role">, at: string): Stmt[] {
  if (a.role === "applicant" || a.hall === "CITY") return [];
  return [db.insert(changes).values({ kind: "account", key: a.id, node: a.hall, at })];
}

/** Creates an account; false when the login (or id) is taken. One statement decides between racing creators. */
export async function createAccount(db: Db, row: AccountRow): Promise<boolean> {
  const inserted = await db.insert(accounts).values(row).onConflictDoNothing().returning({ id: accounts.id });
  if (inserted.length === 0) return false;
  const f = feed(db, row, row.updatedAt);
  if (f.length) await db.batch(f as [Stmt, ...Stmt[]]);
  return true;
}

/** Changes an account's fields (and feeds the change to its hall, old and new). */
export async function updateAccount(db: Db, before: AccountRow, patch: Partial<AccountRow>, at: string): Promise<AccountRow> {
  const after = { ...before, ...patch, updatedAt: at };
  const stmts: Stmt[] = [db.update(accounts).set({ ...patch, updatedAt: at }).where(eq(accounts.id, before.id)), ...feed(db, after, at)];
  // Moved to another hall: the old hall must hear that it no longer has this clerk.
  if (before.hall !== after.hall) stmts.push(...feed(db, before, at));
  await db.batch(stmts as [Stmt, ...Stmt[]]);
  return after;
}

/** The columns of an account a node receives. */
const PULLED_COLUMNS = {
  id: accounts.id,
  login: accounts.login,
  name: accounts.name,
  role: accounts.role,
  hall: accounts.hall,
  department: accounts.department,
  passwordHash: accounts.passwordHash,
  mustChangePassword: accounts.mustChangePassword,
  disabledAt: accounts.disabledAt,
  updatedAt: accounts.updatedAt,
};

/** The accounts with these ids as a node receives them. */
export async function pulledAccounts(db: Db, ids: readonly string[]): Promise<PulledAccount[]> {
  if (ids.length === 0) return [];
  return db
    .select(PULLED_COLUMNS)
    .from(accounts)
    .where(sql`${accounts.id} IN (SELECT value FROM json_each(${JSON.stringify([...new Set(ids)])}))`);
}

/**
 * City: what a hall's node pulls of accounts — its staff accounts among those changed (`changedIds`,
 * from the feed), or all of them (`snapshot`: a first pull, or a node that never received them),
 * and the ids of changed accounts that are no longer its staff (moved to another hall, or gone),
 * without their hashes. An applicant or the city's own staff never reach a node.
 */
export async function accountFeed(db: Db, hall: string, changedIds: readonly string[], snapshot: boolean): Promise<{ accounts: PulledAccount[]; departedAccounts: string[] }> {
  const [changed, all] = await Promise.all([
    pulledAccounts(db, changedIds),
    snapshot ? db.select(PULLED_COLUMNS).from(accounts).where(and(eq(accounts.hall, hall), ne(accounts.role, "applicant"))) : Promise.resolve([]),
  ]);
  const ours = new Map<string, PulledAccount>();
  for (const a of [...changed, ...all]) if (a.hall === hall && a.role !== "applicant") ours.set(a.id, a);
  return {
    accounts: [...ours.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    departedAccounts: [...new Set(changedIds.filter((id) => !ours.has(id)))],
  };
}

/**
 * Node: statements storing pulled accounts of its hall. A city account replaces a local one of the
 * same login. The open sessions of an account end when the pulled row disables it, asks for a new
 * password, or changes its password, role, hall or department, and those of a replaced account end
 * with it. A departed account (moved to another hall) is removed with its sessions; a local clerk
 * is never removed that way.
 */
export function storePulledAccounts(db: Db, hall: string, pulled: readonly PulledAccount[], departed: readonly string[], at: string): Stmt[] {
  const out: Stmt[] = [];
  for (const a of pulled) {
    const row = { ...a, disabledAt: a.hall === hall ? a.disabledAt : (a.disabledAt ?? at), phone: null, idNumber: null, source: "city" as const, createdAt: a.updatedAt };
    const ends = a.disabledAt !== null || a.mustChangePassword || a.hall !== hall;
    out.push(
      db.delete(sessions).where(
        inArray(
          sessions.accountId,
          db
            .select({ id: accounts.id })
            .from(accounts)
            .where(
              and(
                or(eq(accounts.id, a.id), eq(accounts.login, a.login)),
                ends
                  ? sql`1`
                  : or(ne(accounts.id, a.id), ne(accounts.source, "city"), ne(accounts.passwordHash, a.passwordHash), ne(accounts.role, a.role), ne(accounts.hall, a.hall), sql`${accounts.department} IS NOT ${a.department}`),
              ),
            ),
        ),
      ),
    );
    out.push(db.delete(accounts).where(and(eq(accounts.login, a.login), ne(accounts.id, a.id))));
    out.push(db.insert(accounts).values(row).onConflictDoUpdate({ target: accounts.id, set: row }));
  }
  for (const id of departed) {
    out.push(db.delete(sessions).where(and(eq(sessions.accountId, id), inArray(sessions.accountId, db.select({ id: accounts.id }).from(accounts).where(eq(accounts.source, "city"))))));
    out.push(db.delete(accounts).where(and(eq(accounts.id, id), eq(accounts.source, "city"))));
  }
  return out;
}

/**
 * Node: statements disabling the accounts that a pulled row it could not accept was about (and
 * ending their sessions): whatever that row said, it was not that the account may go on as it was.
 */
export function disableAccounts(db: Db, ids: readonly string[], at: string): Stmt[] {
  return ids.flatMap((id) => [
    db.delete(sessions).where(eq(sessions.accountId, id)),
    db.update(accounts).set({ disabledAt: at, updatedAt: at }).where(and(eq(accounts.id, id), isNull(accounts.disabledAt))),
  ]);
}
