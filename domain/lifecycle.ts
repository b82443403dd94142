/**
 * The case lifecycle of the seven kinds (七件管理制) as a transition table, and the reducer that
 * turns events into the current case. Pure: the shells load a case, ask `decide` for the event a
 * command produces, and store that event together with `applyEvent`'s result.
 */
import type { MaterialSpec, Place, ServiceItemKind } from "../schema/types.js";
import { computeDeadline, immediateDeadline, type Deadline, type Limit, type WorkCalendar } from "./time.js";
import { applicantProblem } from "./applicant.js";
import { CASE_NO_PATTERN, caseNoDayPrefix, CITY_ORIGIN, QUERY_CODE_PATTERN } from "./case-number.js";

/** The seven kinds: the five an item is handled as, plus 退回件 and 补办件 which a case becomes. */
export type CaseKind = ServiceItemKind | "returned" | "supplement";

export const CASE_KIND_LABELS: Readonly<Record<CaseKind, string>> = {
  immediate: "即办件",
  promised: "承诺件",
  joint: "联办件",
  escalated: "报批件",
  returned: "退回件",
  supplement: "补办件",
  special: "特办件",
};

export type CaseState =
  | "submitted"
  | "supplement"
  | "accepted"
  | "in_review"
  | "escalated"
  | "decided"
  | "refused"
  | "delivered";

export const CASE_STATES: readonly CaseState[] = [
  "submitted",
  "supplement",
  "accepted",
  "in_review",
  "escalated",
  "decided",
  "refused",
  "delivered",
];

export const CASE_STATE_LABELS: Readonly<Record<CaseState, string>> = {
  submitted: "已申报待受理",
  supplement: "待补正",
  accepted: "已受理",
  in_review: "部门审查中",
  escalated: "已报上级审批",
  decided: "已办结",
  refused: "不予受理",
  delivered: "已送达",
};

/** Who acts: 窗口人员, 部门审批人员, 申请人, 电子监察, 管理员. */
export type Role = "clerk" | "approver" | "applicant" | "supervisor" | "admin";

export const ROLE_LABELS: Readonly<Record<Role, string>> = {
  clerk: "窗口人员",
  approver: "部门审批人员",
  applicant: "申请人",
  supervisor: "电子监察人员",
  admin: "系统管理员",
};

export type CaseAction =
  | "accept"
  | "refuse"
  | "request-supplement"
  | "supplement"
  | "forward"
  | "opinion"
  | "escalate"
  | "suspend"
  | "resume"
  | "decide"
  | "deliver";

export const CASE_ACTIONS: readonly CaseAction[] = [
  "accept",
  "refuse",
  "request-supplement",
  "supplement",
  "forward",
  "opinion",
  "escalate",
  "suspend",
  "resume",
  "decide",
  "deliver",
];

export const ACTION_LABELS: Readonly<Record<CaseAction, string>> = {
  accept: "受理",
  refuse: "不予受理",
  "request-supplement": "一次性告知补正",
  supplement: "补正材料",
  forward: "转送部门",
  opinion: "部门会签意见",
  escalate: "报上级审批",
  suspend: "暂停计时",
  resume: "恢复计时",
  decide: "办结决定",
  deliver: "送达结果",
};

const ITEM_KINDS: readonly CaseKind[] = ["immediate", "promised", "joint", "escalated", "special"];
const REVIEWED: readonly CaseKind[] = ["promised", "joint", "escalated", "special"];

/** One row of the transition table. */
export interface TransitionRule {
  action: CaseAction;
  from: readonly CaseState[];
  kinds: readonly CaseKind[];
  roles: readonly Role[];
  /** The state it leads to; `supplement` leads back to where the case was waiting from. */
  to: CaseState | "same" | "resume-state";
  note: string;
}

/**
 * Which action is valid in which state, for which kind and role, and where it leads.
 * The window decides immediate, supplement and returned cases and has special powers for
 * 特办件; promised, joint and escalated cases are decided by departments (seeds, 泉州 "授权书").
 */
export const TRANSITIONS: readonly TransitionRule[] = [
  { action: "accept", from: ["submitted"], kinds: ITEM_KINDS, roles: ["clerk"], to: "accepted", note: "网上申报材料齐全，窗口受理" },
  {
    action: "refuse",
    from: ["submitted", "supplement"],
    kinds: [...ITEM_KINDS, "supplement"],
    roles: ["clerk"],
    to: "refused",
    note: "不符合受理条件，出具不予受理告知，成为退回件",
  },
  {
    action: "request-supplement",
    from: ["submitted"],
    kinds: ITEM_KINDS,
    roles: ["clerk"],
    to: "supplement",
    note: "受理前材料不全：一次性告知全部缺件，成为补办件",
  },
  {
    action: "request-supplement",
    from: ["in_review"],
    kinds: REVIEWED,
    roles: ["approver"],
    to: "supplement",
    note: "审查中需补正：一次性告知，补正期间暂停计时",
  },
  {
    action: "supplement",
    from: ["supplement"],
    kinds: ["supplement"],
    roles: ["clerk", "applicant"],
    to: "resume-state",
    note: "补齐材料后受理（或回到审查并恢复计时）；未补齐仍待补正",
  },
  { action: "forward", from: ["accepted"], kinds: REVIEWED, roles: ["clerk"], to: "in_review", note: "窗口预审后转送承办部门（联办件同时送各会签部门）" },
  { action: "opinion", from: ["in_review"], kinds: ["joint"], roles: ["approver"], to: "same", note: "并联审批：各部门出具会签意见" },
  { action: "escalate", from: ["in_review"], kinds: ["escalated"], roles: ["approver"], to: "escalated", note: "报上级机关审批" },
  { action: "suspend", from: ["in_review", "escalated"], kinds: REVIEWED, roles: ["approver"], to: "same", note: "听证、检验检测鉴定、专家评审期间暂停计时" },
  { action: "resume", from: ["in_review", "escalated"], kinds: REVIEWED, roles: ["approver"], to: "same", note: "恢复计时" },
  { action: "decide", from: ["accepted"], kinds: ["immediate", "special"], roles: ["clerk"], to: "decided", note: "即办件当场办结；特办件窗口特别处置" },
  { action: "decide", from: ["in_review"], kinds: ["promised", "joint", "special"], roles: ["approver"], to: "decided", note: "部门审查后作出准予/不予决定" },
  { action: "decide", from: ["escalated"], kinds: ["escalated"], roles: ["approver"], to: "decided", note: "上级批复后办结" },
  { action: "deliver", from: ["decided"], kinds: ITEM_KINDS, roles: ["clerk"], to: "delivered", note: "窗口送达办理结果" },
];

/** The current case as the domain sees it (the shape of a `cases` row). */
export interface CaseSnapshot {
  caseNo: string;
  queryCode: string;
  origin: string;
  channel: "window" | "online";
  itemCode: string;
  itemName: string;
  departmentCode: string;
  itemKind: ServiceItemKind;
  kind: CaseKind;
  state: CaseState;
  applicantName: string;
  applicantIdNumber: string;
  applicantPhone: string;
  materials: string[];
  missing: string[];
  deferred: string[];
  resumeState: CaseState | null;
  limitValue: number;
  limitUnit: Limit["unit"];
  acceptedAt: string | null;
  deadlineAt: string | null;
  deadlineDate: string | null;
  suspensions: { from: string; to: string | null; reason: string }[];
  opinions: { department: string; opinion: "agree" | "disagree"; comment: string; at: string }[];
  reviewDepartments: string[];
  decision: "grant" | "deny" | null;
  decisionReason: string | null;
  decidedAt: string | null;
  refusedReason: string | null;
  deliveredAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** The applicant account a case filed online belongs to (null for window cases). */
  applicantAccount: string | null;
}

/** What the domain needs of a service item to open and run a case. */
export interface ItemForCase {
  code: string;
  name: string;
  departmentCode: string;
  kind: ServiceItemKind;
  materials: readonly MaterialSpec[];
  promisedLimit: Limit;
  jointDepartments: readonly string[];
  /** Where the item is handled: the city centre, township halls, or both. */
  places: readonly Place[];
}

/** How a result reaches the applicant: at the window, by post, electronically. */
export const DELIVERY_METHODS = ["window", "post", "electronic"] as const;

/** A command from a person: an action name and its fields. */
export type CaseCommand =
  | { action: "accept"; materials?: string[] }
  | { action: "refuse"; reason: string }
  | { action: "request-supplement"; missing: string[]; note?: string }
  | { action: "supplement"; materials: string[] }
  | { action: "forward"; note?: string }
  | { action: "opinion"; department: string; opinion: "agree" | "disagree"; comment?: string }
  | { action: "escalate"; authority: string }
  | { action: "suspend"; reason: string }
  | { action: "resume" }
  | { action: "decide"; decision: "grant" | "deny"; reason?: string }
  | { action: "deliver"; method?: string };

/** A case event before it is placed in an origin's chain. */
export interface CaseEventDraft {
  caseNo: string;
  type: string;
  payload: Record<string, unknown>;
}

/** Why a command or an intake cannot be carried out. */
export type DomainError =
  | { code: "invalid_state"; state: CaseState; kind: CaseKind; action: CaseAction; allowedIn: CaseState[] }
  | { code: "forbidden_role"; role: Role; action: CaseAction; allowedRoles: Role[] }
  | { code: "unknown_materials"; ids: string[] }
  | { code: "invalid_command"; field: string; message: string }
  | { code: "not_owner"; caseOrigin: string; actorOrigin: string; action: CaseAction };

export type Result<T> = { ok: true; value: T } | { ok: false; error: DomainError };

const ok = <T>(value: T): Result<T> => ({ ok: true, value });
const fail = <T>(error: DomainError): Result<T> => ({ ok: false, error });

/**
 * Phase ownership (DESIGN.md invariant 5): the accepting window owns intake and delivery, the
 * departments own review. An origin other than the case's own may only forward it to review
 * (the city hall taking over a township case) or act as a department.
 */
const FOREIGN_ACTIONS: ReadonlySet<CaseAction> = new Set(["forward", "opinion", "escalate", "suspend", "resume", "decide", "request-supplement"]);

/** Whether `actorOrigin` may take `action` on a case created at `caseOrigin` in the role given. */
export function mayActOn(caseOrigin: string, actorOrigin: string, action: CaseAction, role: Role): boolean {
  if (caseOrigin === actorOrigin) return true;
  if (!FOREIGN_ACTIONS.has(action)) return false;
  return action === "forward" || role === "approver" || role === "admin";
}

/** Whether a case's clock is stopped now: an open suspension (暂停计时, or 补正 during review). */
export function clockStopped(c: Pick<CaseSnapshot, "suspensions">): boolean {
  return c.suspensions.some((s) => s.to === null);
}

/** The suspensions with any open one closed at `at`. */
function closeSuspensions(c: Pick<CaseSnapshot, "suspensions">, at: string): CaseSnapshot["suspensions"] {
  return c.suspensions.map((s) => (s.to === null ? { ...s, to: at } : s));
}

/** The rules of the table that match an action and kind (any state, any role). */
export function rulesFor(action: CaseAction, kind: CaseKind): TransitionRule[] {
  return TRANSITIONS.filter((r) => r.action === action && r.kinds.includes(kind));
}

/** The actions a role may take on a case right now (for buttons and documentation). */
export function availableActions(c: Pick<CaseSnapshot, "state" | "kind">, role: Role): CaseAction[] {
  const out = new Set<CaseAction>();
  for (const r of TRANSITIONS) if (r.from.includes(c.state) && r.kinds.includes(c.kind) && r.roles.includes(role)) out.add(r.action);
  return [...out];
}

/** Finds the table row for a command, or says whether the state or the role is wrong. */
export function findRule(c: Pick<CaseSnapshot, "state" | "kind">, action: CaseAction, role: Role): Result<TransitionRule> {
  const candidates = TRANSITIONS.filter((r) => r.action === action && r.kinds.includes(c.kind) && r.from.includes(c.state));
  const rule = candidates.find((r) => r.roles.includes(role));
  if (rule) return ok(rule);
  if (candidates.length > 0) {
    return fail({ code: "forbidden_role", role, action, allowedRoles: [...new Set(candidates.flatMap((r) => r.roles))] });
  }
  const allowedIn = [...new Set(rulesFor(action, c.kind).flatMap((r) => r.from))];
  return fail({ code: "invalid_state", state: c.state, kind: c.kind, action, allowedIn });
}

/** Splits the item's required materials into missing (blocking) and deferred (容缺) given what was received. */
export function checkMaterials(
  item: Pick<ItemForCase, "materials">,
  received: readonly string[],
): Result<{ missing: string[]; deferred: string[] }> {
  const known = new Set(item.materials.map((m) => m.id));
  const unknown = received.filter((id) => !known.has(id));
  if (unknown.length > 0) return fail({ code: "unknown_materials", ids: unknown });
  const got = new Set(received);
  const missing: string[] = [];
  const deferred: string[] = [];
  for (const m of item.materials) {
    if (!m.required || got.has(m.id)) continue;
    (m.deferrable ? deferred : missing).push(m.id);
  }
  return ok({ missing, deferred });
}

/** Everything intake needs besides the item: who applied, what was handed in, the new case's identity. */
export interface IntakeInput {
  caseNo: string;
  queryCode: string;
  origin: string;
  channel: "window" | "online";
  applicant: { name: string; idNumber: string; phone: string };
  materials: string[];
  at: Date;
}

function deadlineFor(cal: WorkCalendar, item: Pick<ItemForCase, "kind" | "promisedLimit">, at: Date): Deadline {
  return item.kind === "immediate" ? immediateDeadline(cal, at) : computeDeadline(cal, at, item.promisedLimit);
}

/**
 * Window intake (or online filing): one `opened` event. At the window a complete application is
 * accepted at once and its deadline starts; an incomplete one becomes a 补办件 waiting for the
 * complete list of missing materials (一次性告知). Online filings wait for a clerk's check.
 */
export function openCase(
  cal: WorkCalendar,
  item: ItemForCase,
  input: IntakeInput,
): Result<{ event: CaseEventDraft; warnings: Deadline["warnings"] }> {
  if (!input.caseNo.startsWith(caseNoDayPrefix(input.origin, input.at)) || !CASE_NO_PATTERN.test(input.caseNo)) {
    return invalid("caseNo", `办件编号 ${input.caseNo} 应以 ${caseNoDayPrefix(input.origin, input.at)} 开头（受理节点与受理日期）`);
  }
  if (!QUERY_CODE_PATTERN.test(input.queryCode)) return invalid("queryCode", "查询码应为回执字母表中的8位字符");
  // The city centre takes only items handled at the city; a township hall only township items.
  const place: Place = input.origin === CITY_ORIGIN ? "city" : "township";
  if (!item.places.includes(place)) return invalid("itemCode", `事项“${item.name}”不在${place === "city" ? "市行政服务中心" : "乡镇（街道）便民服务中心"}办理`);
  const who = applicantProblem(input.applicant);
  if (who) return invalid(`applicant.${who.field}`, who.message);
  const check = checkMaterials(item, input.materials);
  if (!check.ok) return check;
  const { missing, deferred } = check.value;
  const at = input.at.toISOString();
  const base = {
    queryCode: input.queryCode,
    origin: input.origin,
    channel: input.channel,
    itemCode: item.code,
    itemName: item.name,
    departmentCode: item.departmentCode,
    itemKind: item.kind,
    applicant: input.applicant,
    materials: [...new Set(input.materials)],
    limit: item.promisedLimit,
    at,
  };
  let warnings: Deadline["warnings"] = [];
  let payload: Record<string, unknown>;
  if (input.channel === "online") {
    payload = { ...base, state: "submitted", kind: item.kind, missing, deferred };
  } else if (missing.length > 0) {
    payload = { ...base, state: "supplement", kind: "supplement", missing, deferred, resumeState: "accepted" };
  } else {
    const dl = deadlineFor(cal, item, input.at);
    warnings = dl.warnings;
    payload = { ...base, state: "accepted", kind: item.kind, missing, deferred, acceptedAt: at, deadlineAt: dl.instant.toISOString(), deadlineDate: dl.date };
  }
  return ok({ event: { caseNo: input.caseNo, type: "opened", payload }, warnings });
}

/** Context of a command: who acts, when, under which calendar, and the case's item. */
export interface CommandContext {
  role: Role;
  at: Date;
  calendar: WorkCalendar;
  item: ItemForCase;
}

const invalid = (field: string, message: string) => fail<never>({ code: "invalid_command", field, message });

/**
 * Validates a command against the transition table and the case, and returns the event it
 * produces (with any computed deadline in its payload, so replaying it needs no calendar).
 */
export function decide(c: CaseSnapshot, cmd: CaseCommand, ctx: CommandContext): Result<{ event: CaseEventDraft; warnings: Deadline["warnings"] }> {
  const found = findRule(c, cmd.action, ctx.role);
  if (!found.ok) return found;
  const at = ctx.at.toISOString();
  const ev = (type: string, payload: Record<string, unknown>, warnings: Deadline["warnings"] = []) =>
    ok({ event: { caseNo: c.caseNo, type, payload: { ...payload, at, role: ctx.role } }, warnings });

  switch (cmd.action) {
    case "accept": {
      const received = [...new Set([...c.materials, ...(cmd.materials ?? [])])];
      const check = checkMaterials(ctx.item, received);
      if (!check.ok) return check;
      if (check.value.missing.length > 0) {
        return invalid("materials", `材料不全，不能受理，缺少：${check.value.missing.join("、")}；请先一次性告知补正`);
      }
      const dl = deadlineFor(ctx.calendar, ctx.item, ctx.at);
      return ev(
        "accepted",
        { materials: received, deferred: check.value.deferred, deadlineAt: dl.instant.toISOString(), deadlineDate: dl.date },
        dl.warnings,
      );
    }
    case "refuse":
      if (c.resumeState === "in_review") return invalid("action", "审查阶段的补正不能不予受理，请由部门作出不予许可决定");
      if (!cmd.reason.trim()) return invalid("reason", "不予受理必须说明理由");
      return ev("refused", { reason: cmd.reason.trim() });
    case "request-supplement": {
      const ids = [...new Set(cmd.missing)];
      if (ids.length === 0) return invalid("missing", "一次性告知须列明全部缺少的材料");
      const known = new Set(ctx.item.materials.map((m) => m.id));
      const unknown = ids.filter((id) => !known.has(id));
      if (unknown.length > 0) return fail({ code: "unknown_materials", ids: unknown });
      if (c.state === "submitted") {
        // 一次性告知: the notice must name every material still missing, not some of them.
        const check = checkMaterials(ctx.item, c.materials);
        const omitted = check.ok ? check.value.missing.filter((id) => !ids.includes(id)) : [];
        if (omitted.length > 0) return invalid("missing", `一次性告知须列明全部缺少的材料，还缺：${omitted.join("、")}`);
      }
      return ev("supplement-requested", { missing: ids, note: cmd.note ?? "", resumeState: c.state === "in_review" ? "in_review" : "accepted" });
    }
    case "supplement": {
      const known = new Set(ctx.item.materials.map((m) => m.id));
      const unknown = cmd.materials.filter((id) => !known.has(id));
      if (unknown.length > 0) return fail({ code: "unknown_materials", ids: unknown });
      if (cmd.materials.length === 0) return invalid("materials", "请列出本次补交的材料");
      // Only what the notice asked for can be handed in as a supplement (so the event says exactly what arrived).
      const unasked = cmd.materials.filter((id) => !c.missing.includes(id));
      if (unasked.length > 0) return invalid("materials", `以下材料不在待补正清单中：${unasked.join("、")}`);
      const materials = [...new Set([...c.materials, ...cmd.materials])];
      // Only what is handed in now counts: a requested material may be one already received but defective.
      const stillMissing = c.missing.filter((id) => !cmd.materials.includes(id));
      if (stillMissing.length > 0) return ev("supplemented", { materials, missing: stillMissing, complete: false });
      if (c.resumeState === "in_review") return ev("supplemented", { materials, missing: [], complete: true, ...resumedDeadline(c, ctx) });
      const dl = deadlineFor(ctx.calendar, ctx.item, ctx.at);
      return ev(
        "supplemented",
        { materials, missing: [], complete: true, acceptedAt: at, deadlineAt: dl.instant.toISOString(), deadlineDate: dl.date },
        dl.warnings,
      );
    }
    case "forward": {
      const departments = c.kind === "joint" ? [c.departmentCode, ...ctx.item.jointDepartments] : [c.departmentCode];
      return ev("forwarded", { departments, note: cmd.note ?? "" });
    }
    case "opinion":
      if (!c.reviewDepartments.includes(cmd.department)) return invalid("department", `部门 ${cmd.department} 不是本件的会签部门`);
      if (c.opinions.some((o) => o.department === cmd.department)) return invalid("department", `部门 ${cmd.department} 已出具意见`);
      return ev("opinion-given", { department: cmd.department, opinion: cmd.opinion, comment: cmd.comment ?? "" });
    case "escalate":
      if (!cmd.authority.trim()) return invalid("authority", "请写明报送的上级机关");
      return ev("escalated", { authority: cmd.authority.trim() });
    case "suspend":
      if (clockStopped(c)) return invalid("reason", "本件已在暂停计时中");
      if (!cmd.reason.trim()) return invalid("reason", "暂停计时须写明事由（听证、检验检测鉴定、专家评审等）");
      return ev("suspended", { reason: cmd.reason.trim() });
    case "resume": {
      if (!clockStopped(c)) return invalid("action", "本件没有暂停计时");
      return ev("resumed", resumedDeadline(c, ctx));
    }
    case "decide": {
      if (cmd.decision === "deny" && !cmd.reason?.trim()) return invalid("reason", "不予许可（不予办理）必须说明理由");
      if (c.kind === "joint") {
        const missing = c.reviewDepartments.filter((d) => !c.opinions.some((o) => o.department === d));
        if (missing.length > 0) return invalid("opinions", `尚有部门未出具会签意见：${missing.join("、")}`);
      }
      if (clockStopped(c)) return invalid("action", "暂停计时中，请先恢复计时");
      return ev("decided", { decision: cmd.decision, reason: cmd.reason?.trim() ?? "" });
    }
    case "deliver": {
      const method = cmd.method ?? "window";
      if (!(DELIVERY_METHODS as readonly string[]).includes(method)) return invalid("method", `送达方式应为 ${DELIVERY_METHODS.join("、")} 之一`);
      return ev("delivered", { method });
    }
  }
}

/** The case's new deadline once an open suspension ends now. */
function resumedDeadline(c: CaseSnapshot, ctx: CommandContext): Record<string, unknown> {
  const suspensions = closeSuspensions(c, ctx.at.toISOString());
  if (!c.acceptedAt || c.itemKind === "immediate") return { deadlineAt: c.deadlineAt, deadlineDate: c.deadlineDate };
  const dl = computeDeadline(ctx.calendar, c.acceptedAt, { value: c.limitValue, unit: c.limitUnit }, suspensions, ctx.at);
  return { deadlineAt: dl.instant.toISOString(), deadlineDate: dl.date };
}

const REQUIRED_TEXT = [
  "caseNo", "queryCode", "origin", "channel", "itemCode", "itemName", "departmentCode",
  "itemKind", "kind", "applicantName", "applicantIdNumber", "applicantPhone", "limitUnit", "createdAt", "updatedAt",
] as const;
const REQUIRED_LISTS = ["materials", "missing", "deferred", "suspensions", "opinions", "reviewDepartments"] as const;

/** What is wrong with a case produced by replaying someone else's event, or null when it is whole. */
export function snapshotProblem(c: CaseSnapshot): string | null {
  for (const k of REQUIRED_TEXT) if (typeof c[k] !== "string" || c[k] === "") return `缺少 ${k}`;
  for (const k of REQUIRED_LISTS) if (!Array.isArray(c[k])) return `${k} 不是列表`;
  if (!CASE_STATES.includes(c.state)) return `未知状态 ${String(c.state)}`;
  if (typeof c.limitValue !== "number" || !Number.isFinite(c.limitValue)) return "缺少 limitValue";
  return null;
}

type P = Record<string, any>;

/**
 * Applies one event to a case (or opens it). Deterministic and idempotent by construction:
 * everything computed lives in the payload, so every replica reaches the same row.
 */
export function applyEvent(c: CaseSnapshot | null, e: { caseNo: string; type: string; payload: P }): CaseSnapshot {
  const p = e.payload;
  if (e.type === "opened") {
    return {
      caseNo: e.caseNo,
      queryCode: p.queryCode,
      origin: p.origin,
      channel: p.channel,
      itemCode: p.itemCode,
      itemName: p.itemName,
      departmentCode: p.departmentCode,
      itemKind: p.itemKind,
      kind: p.kind,
      state: p.state,
      applicantName: p.applicant.name,
      applicantIdNumber: p.applicant.idNumber,
      applicantPhone: p.applicant.phone,
      materials: p.materials,
      missing: p.missing ?? [],
      deferred: p.deferred ?? [],
      resumeState: p.resumeState ?? null,
      limitValue: p.limit.value,
      limitUnit: p.limit.unit,
      acceptedAt: p.acceptedAt ?? null,
      deadlineAt: p.deadlineAt ?? null,
      deadlineDate: p.deadlineDate ?? null,
      suspensions: [],
      opinions: [],
      reviewDepartments: [],
      decision: null,
      decisionReason: null,
      decidedAt: null,
      refusedReason: null,
      deliveredAt: null,
      createdAt: p.at,
      updatedAt: p.at,
      applicantAccount: typeof p.applicantAccount === "string" ? p.applicantAccount : null,
    };
  }
  if (!c) throw new Error(`event ${e.type} for unknown case ${e.caseNo}`);
  const next: CaseSnapshot = { ...c, updatedAt: p.at };
  switch (e.type) {
    case "accepted":
      return { ...next, state: "accepted", materials: p.materials, missing: [], deferred: p.deferred, acceptedAt: p.at, deadlineAt: p.deadlineAt, deadlineDate: p.deadlineDate };
    case "refused":
      return { ...next, state: "refused", kind: "returned", refusedReason: p.reason, resumeState: null };
    case "supplement-requested": {
      const suspensions = p.resumeState === "in_review" ? [...c.suspensions, { from: p.at, to: null, reason: "补正" }] : c.suspensions;
      return { ...next, state: "supplement", kind: "supplement", missing: p.missing, resumeState: p.resumeState, suspensions };
    }
    case "supplemented": {
      if (!p.complete) return { ...next, materials: p.materials, missing: p.missing };
      const resumeState = (c.resumeState ?? "accepted") as CaseState;
      const reopened = { ...next, state: resumeState, kind: c.itemKind, materials: p.materials, missing: [], resumeState: null };
      if (resumeState === "in_review") {
        const suspensions = closeSuspensions(c, p.at);
        return { ...reopened, suspensions, deadlineAt: p.deadlineAt, deadlineDate: p.deadlineDate };
      }
      return { ...reopened, acceptedAt: p.acceptedAt, deadlineAt: p.deadlineAt, deadlineDate: p.deadlineDate };
    }
    case "forwarded":
      return { ...next, state: "in_review", reviewDepartments: p.departments };
    case "opinion-given":
      return { ...next, opinions: [...c.opinions, { department: p.department, opinion: p.opinion, comment: p.comment, at: p.at }] };
    case "escalated":
      return { ...next, state: "escalated" };
    case "suspended":
      return { ...next, suspensions: [...c.suspensions, { from: p.at, to: null, reason: p.reason }] };
    case "resumed":
      return {
        ...next,
        suspensions: closeSuspensions(c, p.at),
        deadlineAt: p.deadlineAt ?? c.deadlineAt,
        deadlineDate: p.deadlineDate ?? c.deadlineDate,
      };
    case "decided":
      return { ...next, state: "decided", decision: p.decision, decisionReason: p.reason || null, decidedAt: p.at };
    case "delivered":
      return { ...next, state: "delivered", deliveredAt: p.at };
    default:
      // Unknown event types from a newer protocol change nothing here but stay in the log.
      return next;
  }
}
