/**
 * What administering staff accounts reads besides the accounts themselves: the staff list with
 * its filters, whether a hall code names the city or an enrolled node, whether a department is in
 * the catalog, and the names behind audit-log actors.
 */
import { and, asc, eq, inArray, ne, type SQL } from "drizzle-orm";
import { accounts, departments, nodes } from "../schema/tables.js";
import { CITY_ORIGIN } from "../domain/case-number.js";
import type { HallStatus, StaffRole } from "../domain/accounts.js";
import type { AccountRow } from "./accounts.js";
import type { Db } from "./db.js";

/** Staff accounts (never applicants), by hall and login, optionally of one hall and/or role. */
export async function listStaffAccounts(db: Db, filter: { hall?: string; role?: StaffRole }): Promise<AccountRow[]> {
  const where: SQL[] = [ne(accounts.role, "applicant")];
  if (filter.hall) where.push(eq(accounts.hall, filter.hall));
  if (filter.role) where.push(eq(accounts.role, filter.role));
  return db.select().from(accounts).where(and(...where)).orderBy(asc(accounts.hall), asc(accounts.login));
}

/** What a hall code names: the city, a node enrolled with a key, a revoked node, or nothing. */
export async function hallStatus(db: Db, hall: string): Promise<HallStatus> {
  if (hall === CITY_ORIGIN) return "city";
  const [node] = await db.select({ publicJwk: nodes.publicJwk, revokedAt: nodes.revokedAt }).from(nodes).where(eq(nodes.code, hall)).limit(1);
  if (!node) return "unknown";
  if (node.revokedAt) return "revoked";
  return node.publicJwk ? "enrolled" : "unknown";
}

/** Whether a department code is one of the catalog's departments. */
export async function departmentExists(db: Db, code: string): Promise<boolean> {
  const rows = await db.select({ code: departments.code }).from(departments).where(eq(departments.code, code)).limit(1);
  return rows.length === 1;
}

/** The display names of these account ids (unknown ids are left out). */
export async function accountNames(db: Db, ids: readonly string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return new Map();
  const rows = await db.select({ id: accounts.id, name: accounts.name }).from(accounts).where(inArray(accounts.id, unique));
  return new Map(rows.map((r) => [r.id, r.name]));
}
