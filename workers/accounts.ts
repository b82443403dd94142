/**
 * Staff accounts at the city (permission `account.manage`): create, list, change, disable, reset a
 * password. A township clerk's account reaches its node by pull (`updateAccount` feeds the change).
 * Every change and every refused attempt is written to the audit log.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { isStaffLogin, placementProblems, STAFF_ROLES, type HallStatus, type StaffPlacement, type StaffRole } from "../domain/accounts.js";
import { CITY_ORIGIN } from "../domain/case-number.js";
import { ROLE_LABELS } from "../domain/lifecycle.js";
import { hashPassword, passwordProblem } from "../domain/password.js";
import { isHall } from "../domain/principal.js";
import { accountByLogin, createAccount, updateAccount, type AccountRow } from "../store/accounts.js";
import { departmentExists, hallStatus, listStaffAccounts } from "../store/account-admin.js";
import { audit, clearFailures, closeSessionsOf } from "../store/sessions.js";
import type { Db } from "../store/db.js";
import { callerOf, principal, requires } from "../http/auth.js";
import { AppError } from "../http/errors.js";
import { fieldsError, jsonBody, line, zv } from "../http/validate.js";
import type { CityEnv } from "./env.js";

const LABELS = { login: "登录名", name: "姓名", role: "角色", hall: "所属大厅", department: "所属部门", password: "密码", disabled: "停用" } as const;

const loginSchema = z.string().refine(isStaffLogin, "应以字母开头，由字母、数字或 ._- 组成，至多64个字符");
const nameSchema = z
  .string()
  .trim()
  .min(1, "不能为空")
  .refine((s) => [...s].length <= 50, "不超过50个字符")
  .pipe(line("不能包含换行或控制字符"));
/** A schema-level message that still says "missing" for a missing field, like every other field. */
const orMissing = (message: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? "缺少此项" : message) });
const roleSchema = z.enum(STAFF_ROLES, orMissing("应为 clerk（窗口人员）、approver（部门审批人员）、supervisor（电子监察人员）或 admin（系统管理员）"));
const hallSchema = z.string().refine(isHall, `应为 ${CITY_ORIGIN} 或节点编码（2–12 位大写字母或数字）`);
const departmentSchema = z.string().regex(/^[A-Z0-9]{1,20}$/, "应为部门编码（1–20 位大写字母或数字）");
const passwordSchema = z.string().superRefine((p, ctx) => {
  const problem = passwordProblem(p);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const createSchema = z
  .object({ login: loginSchema, name: nameSchema, role: roleSchema, hall: hallSchema, department: departmentSchema.nullable().optional(), password: passwordSchema })
  .strict();
const patchSchema = z
  .object({
    name: nameSchema.optional(),
    role: roleSchema.optional(),
    hall: hallSchema.optional(),
    department: departmentSchema.nullable().optional(),
    password: passwordSchema.optional(),
    disabled: z.boolean(orMissing("应为 true（停用）或 false（启用）")).optional(),
  })
  .strict()
  .refine((b) => Object.keys(b).length > 0, "请至少修改一项：name、role、hall、department、password 或 disabled");
const loginParam = z.object({ login: loginSchema });
const listQuery = z.object({ hall: hallSchema.optional(), role: roleSchema.optional() });

/** An account as the API shows it: never the password hash, never an applicant's details. */
export function accountView(a: AccountRow) {
  return {
    id: a.id,
    login: a.login,
    name: a.name,
    role: a.role,
    roleLabel: ROLE_LABELS[a.role],
    hall: a.hall,
    department: a.department,
    mustChangePassword: a.mustChangePassword,
    disabled: a.disabledAt !== null,
    disabledAt: a.disabledAt,
    source: a.source,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

/** 400 naming every field whose role, hall or department do not fit (`hallChanged`: check the hall exists). */
async function checkPlacement(db: Db, a: StaffPlacement, hallChanged: boolean): Promise<void> {
  const hall: HallStatus = hallChanged ? await hallStatus(db, a.hall) : a.hall === CITY_ORIGIN ? "city" : "enrolled";
  const problems = placementProblems(a, { hall, departmentExists: a.department ? await departmentExists(db, a.department) : false });
  if (problems.length) throw fieldsError(problems, LABELS);
}

/** Writes every refused account change (bad input, a taken login, an admin acting on themselves) to the audit log. */
const auditRefusals: MiddlewareHandler<CityEnv> = async (c, next) => {
  await next();
  if (!(c.error instanceof AppError)) return;
  const body = c.req.method === "POST" ? ((await c.req.json().catch(() => null)) as { login?: unknown } | null) : null;
  const login = c.req.param("login") ?? (typeof body?.login === "string" && isStaffLogin(body.login) ? body.login : "（新账号）");
  const field = typeof c.error.extra.field === "string" ? ` ${c.error.extra.field}` : "";
  await audit(c.var.db, { actor: callerOf(c), action: "account_change_refused", subject: login, detail: `${c.error.code}${field}：${c.error.detail}`, address: c.var.clientAddress ?? null }, c.var.now());
};

/** What changed, for the audit log (values of role, hall and department; only the names of other fields). */
function changeSummary(before: AccountRow, after: AccountRow): string {
  const parts: string[] = [];
  for (const k of ["role", "hall", "department"] as const) if (before[k] !== after[k]) parts.push(`${k}: ${before[k] ?? "–"}→${after[k] ?? "–"}`);
  if (before.name !== after.name) parts.push("name");
  return parts.join("; ");
}

/** `/api/admin/accounts` routes. */
export function accountRoutes() {
  return new Hono<CityEnv>()
    .get("/api/admin/accounts", requires("account.manage"), zv("query", listQuery, LABELS), async (c) => {
      const rows = await listStaffAccounts(c.var.db, c.req.valid("query"));
      return c.json({ accounts: rows.map(accountView) });
    })
    .get("/api/admin/accounts/:login", requires("account.manage"), zv("param", loginParam, LABELS), async (c) => {
      return c.json(accountView(await staffAccount(c.var.db, c.req.valid("param").login)));
    })
    .post("/api/admin/accounts", requires("account.manage"), auditRefusals, jsonBody(createSchema, LABELS), async (c) => {
      const body = c.req.valid("json");
      const placement = { role: body.role, hall: body.hall, department: body.department ?? null };
      await checkPlacement(c.var.db, placement, true);
      const taken = () => new AppError("conflict", `登录名 ${body.login} 已被使用`, { field: "login" });
      if (await accountByLogin(c.var.db, body.login)) throw taken();
      const now = c.var.now().toISOString();
      const row: AccountRow = {
        id: body.login,
        login: body.login,
        name: body.name,
        ...placement,
        passwordHash: await hashPassword(body.password),
        // The administrator chose this password: the person replaces it at the first sign-in.
        mustChangePassword: true,
        disabledAt: null,
        phone: null,
        idNumber: null,
        source: "city",
        createdAt: now,
        updatedAt: now,
      };
      if (!(await createAccount(c.var.db, row))) throw taken();
      await audit(c.var.db, { actor: callerOf(c), action: "account_created", subject: row.login, detail: `role: ${row.role}; hall: ${row.hall}; department: ${row.department ?? "–"}`, address: c.var.clientAddress ?? null }, c.var.now());
      c.header("Location", `/api/admin/accounts/${encodeURIComponent(row.login)}`);
      return c.json(accountView(row), 201);
    })
    .patch("/api/admin/accounts/:login", requires("account.manage"), auditRefusals, zv("param", loginParam, LABELS), jsonBody(patchSchema, LABELS), async (c) => {
      const before = await staffAccount(c.var.db, c.req.valid("param").login);
      const body = c.req.valid("json");
      if (principal(c).id === before.id) refuseOnSelf(body);
      const role = (body.role ?? before.role) as StaffRole; // staffAccount never returns an applicant
      // Leaving the approver role drops the department unless the body says otherwise.
      const department = body.department !== undefined ? body.department : role !== "approver" && body.role ? null : before.department;
      const placement = { role, hall: body.hall ?? before.hall, department };
      if (body.role !== undefined || body.hall !== undefined || body.department !== undefined) await checkPlacement(c.var.db, placement, body.hall !== undefined);
      const now = c.var.now();
      const patch: Partial<AccountRow> = {};
      if (body.name !== undefined) patch.name = body.name;
      if (body.role !== undefined || body.hall !== undefined || body.department !== undefined) Object.assign(patch, placement);
      if (body.password !== undefined) Object.assign(patch, { passwordHash: await hashPassword(body.password), mustChangePassword: true });
      if (body.disabled !== undefined) patch.disabledAt = body.disabled ? (before.disabledAt ?? now.toISOString()) : null;
      const after = await updateAccount(c.var.db, before, patch, now.toISOString());
      // Disabled or given a new password: whoever is signed in as this account is signed out now.
      if (body.disabled === true || body.password !== undefined) await closeSessionsOf(c.var.db, before.id);
      // A reset also lifts a sign-in lock: the person is about to sign in with the new password.
      if (body.password !== undefined) await clearFailures(c.var.db, `sign-in:login:${before.login}`);
      const entry = (action: string, detail = "") => audit(c.var.db, { actor: callerOf(c), action, subject: before.login, detail, address: c.var.clientAddress ?? null }, now);
      if (body.disabled === true && !before.disabledAt) await entry("account_disabled");
      if (body.disabled === false && before.disabledAt) await entry("account_enabled");
      if (body.password !== undefined) await entry("password_reset");
      const summary = changeSummary(before, after);
      if (summary) await entry("account_updated", summary);
      return c.json(accountView(after));
    });
}

/** A staff account by login, or 404 (applicants are not administered here). */
async function staffAccount(db: Db, login: string): Promise<AccountRow> {
  const a = await accountByLogin(db, login);
  if (!a || a.role === "applicant") throw new AppError("not_found", `没有登录名为 ${login} 的工作人员账号`, { login });
  return a;
}

/** An administrator keeps their own access: another administrator disables, demotes or resets them. */
function refuseOnSelf(body: { disabled?: boolean; role?: string; password?: string }): void {
  if (body.disabled === true) throw new AppError("forbidden", "不能停用自己的账号，请由另一位管理员操作", { field: "disabled" });
  if (body.role !== undefined && body.role !== "admin") throw new AppError("forbidden", "不能取消自己的管理员角色，请由另一位管理员操作", { field: "role" });
  if (body.password !== undefined) throw new AppError("forbidden", "不能在账号管理中重置自己的密码，请使用“修改密码”（POST /api/session/password）", { field: "password" });
}
