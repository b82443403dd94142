/**
 * Staff accounts and applicant registration: which role may belong to which hall and department,
 * and what a login and a mobile number look like. Pure: the store says which halls and
 * departments exist, these rules say whether an account fits them.
 */
import { CITY_ORIGIN } from "./case-number.js";
import { ROLE_LABELS } from "./lifecycle.js";
import { PRINCIPAL_ID_PATTERN } from "./principal.js";

/** The roles an administrator gives; applicants register themselves. */
export const STAFF_ROLES = ["clerk", "approver", "supervisor", "admin"] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

/** A staff login begins with a letter, so it can never be taken for an applicant's mobile number. */
export const STAFF_LOGIN_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;
/** Whether a text is a well-formed staff login (and so a well-formed principal id). */
export const isStaffLogin = (login: string) => STAFF_LOGIN_PATTERN.test(login) && PRINCIPAL_ID_PATTERN.test(login);

/** A mainland China mobile number: 11 digits, 1 then 3–9 (landlines cannot receive a text). */
export const MOBILE_PATTERN = /^1[3-9]\d{9}$/;

/** Where a hall code points: the city, an enrolled node, a revoked one, or nothing known. */
export type HallStatus = "city" | "enrolled" | "revoked" | "unknown";

export interface StaffPlacement {
  role: StaffRole;
  hall: string;
  department: string | null;
}

/** One invalid field of a request, with a Chinese message that reads on its own. */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * Why a staff account's role, hall and department do not fit together: a clerk works at a node's
 * window or the city hall's; approvers, supervisors and administrators belong to the city; an
 * approver decides for one department of the catalog and nobody else carries one.
 */
export function placementProblems(a: StaffPlacement, known: { hall: HallStatus; departmentExists: boolean }): FieldProblem[] {
  const out: FieldProblem[] = [];
  const who = ROLE_LABELS[a.role];
  if (known.hall === "unknown") out.push({ field: "hall", message: `${a.hall} 既不是 ${CITY_ORIGIN}，也不是已登记节点的编码` });
  else if (known.hall === "revoked") out.push({ field: "hall", message: `节点 ${a.hall} 已被撤销，不能再把人员分配到该节点` });
  else if (a.role !== "clerk" && a.hall !== CITY_ORIGIN) out.push({ field: "hall", message: `${who}只能属于市级（${CITY_ORIGIN}），只有窗口人员可以属于乡镇节点` });
  if (a.role === "approver") {
    if (!a.department) out.push({ field: "department", message: "部门审批人员须指定所属部门" });
    else if (!known.departmentExists) out.push({ field: "department", message: `部门 ${a.department} 不在事项目录的部门中` });
  } else if (a.department) {
    out.push({ field: "department", message: `只有部门审批人员属于部门，${who}不能设置部门` });
  }
  return out;
}
