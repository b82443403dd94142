/**
 * The items a pull answer lists, each as a schema: a node checks every item on its own before it
 * writes anything, so one bad item is set aside (flagged) instead of stopping every later pull.
 * Unknown members are dropped, not refused: a city may add a column before its nodes know it.
 */
import { z } from "zod";
import { CASE_NO_PATTERN, ORIGIN_CODE_PATTERN } from "./case-number.js";
import { eventLimitProblem, isInstant } from "./limits.js";
import { PRINCIPAL_ID_PATTERN } from "./principal.js";
import { textProblem } from "./text.js";
import { SERVICE_ITEM_KINDS } from "../schema/types.js";

/** Text as every Tongban string is (no control characters, no lone surrogates), up to `max` characters. */
const text = (max: number) => z.string().max(max).refine((s) => textProblem(s) === null, "包含控制字符或无效的 Unicode 字符");
/** Single-line text. */
const line = (max: number) => z.string().max(max).refine((s) => textProblem(s, false) === null, "包含换行、控制字符或无效的 Unicode 字符");
/** A time the city stamped (stored as it came; nothing is computed from it). */
const stamp = line(40).min(1);
/** A real UTC instant as `toISOString` writes it. */
export const instant = z.string().refine(isInstant, "时间应为真实存在的 UTC 时刻，格式如 2026-11-23T01:30:00.000Z");
const origin = z.string().regex(ORIGIN_CODE_PATTERN, "来源编码应为 2–12 位大写字母或数字");
const caseNo = z.string().max(40).regex(CASE_NO_PATTERN, "办件编号格式应为 节点编码-yyyymmdd-序号");
const hash = z.string().regex(/^[0-9a-f]{64}$/, "应为 64 位十六进制哈希");
const code = (what: string) => z.string().regex(/^[0-9A-Za-z_-]{1,40}$/, `${what}应为 1–40 位字母、数字、_ 或 -`);

/** 进驻部门 as a pull carries it. */
export const pulledDepartment = z.object({
  code: code("部门编码"),
  name: line(100).min(1),
  creditCode: z.string().regex(/^[0-9A-Z]{18}$/, "统一社会信用代码应为 18 位"),
  sortOrder: z.number().int(),
  updatedAt: stamp,
});

const limitUnit = z.enum(["day", "hour"]);

/** A catalog item (the whole `service_items` row). */
export const pulledServiceItem = z.object({
  code: z.string().regex(/^[0-9A-Z]{31}$/, "实施编码应为 31 位"),
  basicCode: z.string().regex(/^\d{12}$/, "基本编码应为 12 位数字"),
  name: line(200).min(1),
  departmentCode: code("部门编码"),
  kind: z.enum(SERVICE_ITEM_KINDS as [string, ...string[]]),
  category: line(40),
  level: z.number().int().min(1).max(6),
  content: text(20_000),
  legalBasis: z.array(text(2_000)),
  conditions: z.array(text(2_000)),
  materials: z.array(
    z.object({
      id: z.string().regex(/^[a-z0-9-]{1,40}$/, "材料编号应为 1–40 位小写字母、数字或 -"),
      name: line(200).min(1),
      form: z.enum(["original", "copy", "original_and_copy", "electronic"]),
      copies: z.number().int().min(1),
      required: z.boolean(),
      deferrable: z.boolean(),
      note: text(2_000),
    }),
  ),
  procedure: z.array(z.object({ name: line(200), description: text(2_000) })),
  statutoryLimitValue: z.number().int().min(0),
  statutoryLimitUnit: limitUnit,
  promisedLimitValue: z.number().int().min(0),
  promisedLimitUnit: limitUnit,
  fees: z.array(z.object({ name: line(200), amount: line(20), basis: text(2_000) })),
  resultType: line(40),
  resultName: line(200),
  complaintChannel: z.object({ phone: line(100), address: line(200), online: line(200) }),
  places: z.array(z.enum(["city", "township"])).min(1),
  address: line(200),
  onlineDepth: z.number().int().min(1).max(4),
  jointDepartments: z.array(code("部门编码")),
  consultPhone: line(40),
  updatedAt: stamp,
});

/** A calendar override, or (`deleted`) its removal. */
export const pulledCalendarDay = z.object({
  date: z.iso.date("日期格式应为 YYYY-MM-DD"),
  kind: z.enum(["holiday", "workday"]),
  name: line(40),
  updatedAt: stamp,
  deleted: z.literal(true).optional(),
});

/** A year whose official arrangement is entered. */
export const pulledCalendarYear = z.object({ year: z.number().int().min(2000).max(2100), source: text(500), updatedAt: stamp });

/** An event as it travels (the event limits apply in full). */
export const wireEvent = z
  .object({
    origin,
    seq: z.number().int().min(1),
    caseNo,
    type: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, "事件类型应为 1–40 位小写字母、数字或连字符"),
    payload: z.record(z.string(), z.unknown()),
    actor: line(120).min(1),
    occurredAt: instant,
    prevHash: hash,
    hash,
  })
  .superRefine((e, ctx) => {
    const p = eventLimitProblem(e);
    if (p) ctx.addIssue({ code: "custom", path: [p.field], message: p.message });
  });

/** A conflict the city flagged on one of the node's own events. */
export const pulledConflict = z.object({ origin, seq: z.number().int().min(1), caseNo, type: line(40), reason: text(2_000), detectedAt: stamp });

/** A delegation the city signed for the node's key. */
export const pulledDelegation = z.object({
  id: line(100).min(1),
  node: origin,
  token: z.string().max(16_000).regex(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/, "授权应为 compact JWS"),
  items: z.array(z.string().regex(/^[0-9A-Z]{31}$/, "实施编码应为 31 位")),
  validFrom: stamp,
  validUntil: stamp,
  issuedAt: stamp,
});

/** A revoked document or delegation. */
export const pulledRevocation = z.object({ id: line(200).min(1), reason: text(2_000), revokedAt: stamp });

/** The staff roles a hall's accounts can hold (never an applicant). */
export const STAFF_ROLES = ["clerk", "approver", "supervisor", "admin"] as const;

/** A staff account of the pulling hall (since version 2). */
export const pulledAccount = z.object({
  id: z.string().regex(PRINCIPAL_ID_PATTERN, "账号编号应为 1–64 位字母、数字或 ._-"),
  login: z.string().regex(PRINCIPAL_ID_PATTERN, "登录名应为 1–64 位字母、数字或 ._-"),
  name: line(50).min(1),
  role: z.enum(STAFF_ROLES, { message: "角色应为 clerk、approver、supervisor 或 admin" }),
  hall: origin,
  department: code("部门编码").nullable(),
  passwordHash: z.string().regex(/^pbkdf2-sha256\$\d{1,6}\$[A-Za-z0-9_-]{16,64}\$[A-Za-z0-9_-]{43}$/, "密码摘要格式不正确"),
  mustChangePassword: z.boolean(),
  disabledAt: stamp.nullable(),
  updatedAt: stamp,
});

/** The id of an account that left the pulling hall (moved elsewhere, or no longer staff) (since version 2). */
export const departedAccount = z.string().regex(PRINCIPAL_ID_PATTERN, "账号编号应为 1–64 位字母、数字或 ._-");

export type PulledDepartment = z.output<typeof pulledDepartment>;
export type PulledServiceItem = z.output<typeof pulledServiceItem>;
export type PulledCalendarDay = z.output<typeof pulledCalendarDay>;
export type PulledCalendarYear = z.output<typeof pulledCalendarYear>;
export type PulledConflict = z.output<typeof pulledConflict>;
export type PulledDelegation = z.output<typeof pulledDelegation>;
export type PulledRevocation = z.output<typeof pulledRevocation>;
export type PulledAccountItem = z.output<typeof pulledAccount>;

/** The lists of a version 1 pull answer and the schema of one item of each. */
export const PULL_LISTS_V1 = {
  departments: pulledDepartment,
  items: pulledServiceItem,
  calendarDays: pulledCalendarDay,
  calendarYears: pulledCalendarYear,
  events: wireEvent,
  conflicts: pulledConflict,
  delegations: pulledDelegation,
  revocations: pulledRevocation,
} as const;

/** Version 2 adds the hall's accounts. */
export const PULL_LISTS_V2 = { ...PULL_LISTS_V1, accounts: pulledAccount, departedAccounts: departedAccount } as const;

export type PullListName = keyof typeof PULL_LISTS_V2;

/** What a flag calls each kind of pulled item, in Chinese. */
export const PULL_LIST_LABELS: Readonly<Record<PullListName, string>> = {
  departments: "部门",
  items: "事项",
  calendarDays: "日历日期",
  calendarYears: "日历年度",
  events: "事件",
  conflicts: "冲突标记",
  delegations: "签章授权",
  revocations: "撤销记录",
  accounts: "账号",
  departedAccounts: "调离账号",
};
