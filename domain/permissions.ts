/**
 * One authorization model for the city and every node: which role may use which capability, and
 * which cases a principal may see. Routes name a permission; they never list roles themselves.
 */
import { CITY_ORIGIN } from "./case-number.js";
import type { CaseSnapshot, Role } from "./lifecycle.js";
import type { Principal } from "./principal.js";

/** What a route lets its caller do. */
export type Permission =
  | "session" // sign out, see who one is, change one's password
  | "case.intake" // take a case at a window
  | "case.file" // file online (an applicant)
  | "case.list" // list the cases one may see
  | "case.read" // one case, with the full ID number (logged)
  | "case.act" // run an action of the transition table
  | "case.print" // receipt and one-time notice
  | "sync.control" // a node's sync status and "sync now"
  | "conflict.read"
  | "conflict.resolve"
  | "reconcile.read"
  | "account.manage"
  | "access-log.read"
  | "catalog.manage"
  | "calendar.manage"
  | "node.manage"
  | "approval.revoke";

/** The one table of who may do what. */
export const GRANTS: Readonly<Record<Permission, readonly Role[]>> = {
  session: ["clerk", "approver", "supervisor", "admin", "applicant"],
  "case.intake": ["clerk"],
  "case.file": ["applicant"],
  "case.list": ["clerk", "approver", "supervisor", "applicant"],
  "case.read": ["clerk", "approver", "supervisor", "applicant"],
  "case.act": ["clerk", "approver", "applicant"],
  "case.print": ["clerk", "supervisor", "applicant"],
  "sync.control": ["clerk", "admin"],
  "conflict.read": ["clerk", "supervisor"],
  "conflict.resolve": ["clerk", "supervisor"],
  "reconcile.read": ["supervisor", "admin"],
  "account.manage": ["admin"],
  "access-log.read": ["admin"],
  "catalog.manage": ["admin"],
  "calendar.manage": ["admin"],
  "node.manage": ["admin"],
  "approval.revoke": ["admin"],
};

/** What a permission lets one do, as a verb phrase (「无权…」「登录后再…」). */
export const PERMISSION_LABELS: Readonly<Record<Permission, string>> = {
  session: "使用个人账号功能",
  "case.intake": "窗口收件",
  "case.file": "网上申报",
  "case.list": "查看办件列表",
  "case.read": "查看办件详情",
  "case.act": "办理办件",
  "case.print": "打印回执和告知书",
  "sync.control": "查看和控制同步",
  "conflict.read": "查看同步冲突",
  "conflict.resolve": "处理同步冲突",
  "reconcile.read": "查看节点对账",
  "account.manage": "管理账号",
  "access-log.read": "查看访问记录",
  "catalog.manage": "维护事项目录",
  "calendar.manage": "维护工作日历",
  "node.manage": "管理节点与密钥",
  "approval.revoke": "撤销电子文书",
};

/** Whether a principal's role carries a permission (scope is checked separately). */
export function may(p: Pick<Principal, "role"> | null, permission: Permission): boolean {
  return p !== null && p.role !== "system" && GRANTS[permission].includes(p.role);
}

/** The part of a case that decides who may see it. */
export type CaseScopeFields = Pick<CaseSnapshot, "origin" | "departmentCode" | "reviewDepartments"> & { applicantAccount?: string | null };

/**
 * Whether a principal may see a case at all: a clerk the cases accepted at their hall, an approver
 * those of their department, an applicant their own, a supervisor every case.
 */
export function maySeeCase(p: Principal, c: CaseScopeFields): boolean {
  switch (p.role) {
    case "supervisor":
      return true;
    case "clerk":
      return c.origin === p.hall;
    case "approver":
      return p.hall === CITY_ORIGIN && !!p.department && (c.departmentCode === p.department || c.reviewDepartments.includes(p.department));
    case "applicant":
      return !!c.applicantAccount && c.applicantAccount === p.id;
    default:
      return false;
  }
}
