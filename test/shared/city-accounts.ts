/**
 * TEST HELPER ONLY: makes and changes staff accounts in a city's database through the store's own
 * `createAccount` / `updateAccount` (what the administrators' account routes call), so a test can
 * put accounts into a hall's pull feed before those routes exist. Passwords are hashed with few
 * PBKDF2 iterations to keep tests quick; the stored format is the real one.
 */
import { hashPassword } from "../../domain/password.js";
import { accountById, createAccount, updateAccount, type AccountRow } from "../../store/accounts.js";
import type { Db } from "../../store/db.js";

export interface TestAccountSpec {
  id: string;
  hall: string;
  name?: string;
  role?: AccountRow["role"];
  department?: string | null;
  password?: string;
  mustChangePassword?: boolean;
}

/** The password every test account gets unless it says otherwise. */
export const TEST_ACCOUNT_PASSWORD = "City-pass-2026";

/** Staff accounts at a city, written as the admin routes will write them. */
export function testCityAccounts(db: Db) {
  return {
    /** Creates an account (login = id); fails the test if the login is taken. */
    async create(spec: TestAccountSpec, at = new Date()): Promise<AccountRow> {
      const iso = at.toISOString();
      const row: AccountRow = {
        id: spec.id,
        login: spec.id,
        name: spec.name ?? `测试${spec.id}`,
        role: spec.role ?? "clerk",
        hall: spec.hall,
        department: spec.department ?? null,
        passwordHash: await hashPassword(spec.password ?? TEST_ACCOUNT_PASSWORD, 1_000),
        mustChangePassword: spec.mustChangePassword ?? false,
        disabledAt: null,
        phone: null,
        idNumber: null,
        source: "city",
        createdAt: iso,
        updatedAt: iso,
      };
      if (!(await createAccount(db, row))) throw new Error(`test account ${spec.id} already exists`);
      return row;
    },
    /** Changes an account as an administrator would (a new password is hashed here). */
    async update(id: string, patch: Partial<AccountRow> & { password?: string }, at = new Date()): Promise<AccountRow> {
      const before = await accountById(db, id);
      if (!before) throw new Error(`no test account ${id}`);
      const { password, ...rest } = patch;
      return updateAccount(db, before, { ...rest, ...(password ? { passwordHash: await hashPassword(password, 1_000) } : {}) }, at.toISOString());
    },
  };
}
