/**
 * Local clerk accounts of a node: for a hall set up before enrolment or without a link, its first
 * clerk is made on the hall's PC (`npm run node:clerk`). A city account with the same login, when
 * one arrives by pull, replaces it; until then the local account signs in like any other.
 */
import { eq } from "drizzle-orm";
import { accounts } from "../schema/tables.js";
import { hashPassword, passwordProblem, PBKDF2_ITERATIONS } from "../domain/password.js";
import { PRINCIPAL_ID_PATTERN } from "../domain/principal.js";
import type { Db } from "../store/db.js";

export interface LocalClerk {
  login: string;
  name: string;
  hall: string;
  password: string;
}

/** Why a local clerk cannot be made as asked (Chinese), or null. */
export function localClerkProblem(c: LocalClerk): string | null {
  if (!PRINCIPAL_ID_PATTERN.test(c.login) || !/^[A-Za-z]/.test(c.login)) return "登录名应以字母开头，由字母、数字或 ._- 组成（至多64个字符）";
  if (!c.name.trim() || c.name.length > 50) return "姓名不能为空，且不超过50个字符";
  return passwordProblem(c.password);
}

/** Creates the local clerk, or resets its password and name (and enables it again). Returns whether it was new. */
export async function upsertLocalClerk(db: Db, c: LocalClerk, at: Date, iterations = PBKDF2_ITERATIONS): Promise<{ created: boolean }> {
  const problem = localClerkProblem(c);
  if (problem) throw new Error(problem);
  const now = at.toISOString();
  const [existing] = await db.select().from(accounts).where(eq(accounts.login, c.login)).limit(1);
  if (existing && existing.source !== "local") throw new Error(`登录名 ${c.login} 属于市级管理的账号，请在市级修改`);
  const passwordHash = await hashPassword(c.password, iterations);
  if (existing) {
    await db.update(accounts).set({ name: c.name.trim(), passwordHash, mustChangePassword: false, disabledAt: null, updatedAt: now }).where(eq(accounts.id, existing.id));
    return { created: false };
  }
  await db.insert(accounts).values({
    id: c.login,
    login: c.login,
    name: c.name.trim(),
    role: "clerk",
    hall: c.hall,
    department: null,
    passwordHash,
    mustChangePassword: false,
    disabledAt: null,
    phone: null,
    idNumber: null,
    source: "local",
    createdAt: now,
    updatedAt: now,
  });
  return { created: true };
}
