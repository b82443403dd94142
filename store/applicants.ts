/**
 * Applicants' accounts at the city: registration, and the link between an account and a case
 * filed at a window (`cases.applicant_account`), which is what lets the applicant see the case.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { cases } from "../schema/tables.js";
import { CITY_ORIGIN } from "../domain/case-number.js";
import { accountByLogin, createAccount, type AccountRow } from "./accounts.js";
import { getCase, type StoredCase } from "./cases.js";
import type { Db } from "./db.js";

/** A new applicant id: `A` and 16 hex digits (random, so it says nothing about the person). */
function newApplicantId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return "A" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("").toUpperCase();
}

export interface NewApplicant {
  phone: string;
  name: string;
  idNumber: string;
  passwordHash: string;
}

/**
 * Registers an applicant who signs in with their mobile number; null when the number is taken.
 * One insert decides between racing registrations of one number.
 */
export async function registerApplicant(db: Db, a: NewApplicant, at: Date): Promise<AccountRow | null> {
  const now = at.toISOString();
  for (let attempt = 0; attempt < 3; attempt++) {
    const row: AccountRow = {
      id: newApplicantId(),
      login: a.phone,
      name: a.name,
      role: "applicant",
      hall: CITY_ORIGIN,
      department: null,
      passwordHash: a.passwordHash,
      mustChangePassword: false,
      disabledAt: null,
      phone: a.phone,
      idNumber: a.idNumber,
      source: "city",
      createdAt: now,
      updatedAt: now,
    };
    if (await createAccount(db, row)) return row;
    // Refused: either the number is registered, or (vanishingly rarely) the random id is a staff login.
    if (await accountByLogin(db, a.phone)) return null;
  }
  throw new Error("registerApplicant: no free applicant id after 3 attempts");
}

/**
 * Links a case to an applicant's account, unless another account holds it (null then). The case's
 * version is raised in the same statement, so a writer that read the row before (a push, a
 * decision) fails its version guard and re-reads it instead of writing the link away.
 */
export async function linkCase(db: Db, caseNo: string, accountId: string): Promise<StoredCase | null> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const kase = await getCase(db, caseNo);
    if (!kase) return null;
    if (kase.applicantAccount === accountId) return kase;
    if (kase.applicantAccount) return null;
    const updated = await db
      .update(cases)
      .set({ applicantAccount: accountId, version: sql`${cases.version} + 1` })
      .where(and(eq(cases.caseNo, caseNo), eq(cases.version, kase.version), isNull(cases.applicantAccount)))
      .returning({ caseNo: cases.caseNo });
    if (updated.length === 1) return { ...kase, applicantAccount: accountId, version: kase.version + 1 };
  }
  throw new Error(`linkCase: case ${caseNo} kept changing`);
}
