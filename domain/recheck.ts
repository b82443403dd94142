/**
 * The city believes nothing a node says that it can check. A pushed event is re-made under the
 * city's own rules — the item's kind, materials and limits from the city's catalog, deadlines from
 * the city's calendar, the transition table with the role the window acts in — and must come out
 * exactly as the node sent it. An event that does not is a conflict: stored, flagged, not applied.
 */
import { canonicalJson } from "./events.js";
import { eventType, PayloadError, read } from "./event-types.js";
import { maskIdNumber } from "./codes.js";
import {
  ACTION_LABELS,
  applyEvent,
  ROLE_LABELS,
  CASE_STATE_LABELS,
  decide,
  findRule,
  openCase,
  type CaseSnapshot,
  type DomainError,
  type ItemForCase,
  type Role,
} from "./lifecycle.js";
import type { WorkCalendar } from "./time.js";

/** What the city knows when it re-checks an event of `origin`. */
export interface RecheckContext {
  /** The pushing node. */
  origin: string;
  /** The role the node acts in: a township node is a window, whatever its payload claims. */
  role: Role;
  calendar: WorkCalendar;
  /** The item as the city's catalog has it, or null when the city has no such item. */
  item(code: string): ItemForCase | null;
}

/** An event as re-checked: its identity, content and the node's clock. */
export interface CheckedEvent {
  origin: string;
  caseNo: string;
  type: string;
  payload: Record<string, unknown>;
  actor: string;
  occurredAt: string;
}

/** A value as a reason shows it: short, and never a full ID number (conflict reasons travel and are listed). */
const show = (v: unknown) => {
  if (v === undefined) return "（无）";
  // Anything shaped like a 公民身份号码, wherever it sits, is masked.
  const s = canonicalJson(v).replace(/\d{17}[\dXx]/g, (id) => maskIdNumber(id));
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The first path at which two values differ (into nested objects), with the two values there. */
function firstDifference(sent: unknown, expected: unknown, path: string[]): { path: string[]; sent: unknown; expected: unknown } | null {
  if (isPlainObject(sent) && isPlainObject(expected)) {
    const all = new Set([...Object.keys(sent), ...Object.keys(expected)]);
    const keys = path.length === 0 ? [...FIRST.filter((k) => all.has(k)), ...[...all].filter((k) => !FIRST.includes(k)).sort()] : [...all].sort();
    for (const k of keys) {
      const d = firstDifference(sent[k], expected[k], [...path, k]);
      if (d) return d;
    }
    return null;
  }
  const a = sent === undefined ? undefined : canonicalJson(sent);
  const b = expected === undefined ? undefined : canonicalJson(expected);
  return a === b ? null : { path, sent, expected };
}

/** Members a person should hear about first when several differ (what the case is, then what it owes). */
const FIRST = ["itemCode", "itemKind", "kind", "state", "role", "decision", "departments", "limit", "deadlineAt", "deadlineDate"];

/** The first member in which two payloads differ, in words, or null when they are the same. */
export function payloadDifference(sent: Record<string, unknown>, expected: Record<string, unknown>): string | null {
  // The usual answer (an honest event) in one comparison; members are compared only to say which differs.
  if (canonicalJson(sent) === canonicalJson(expected)) return null;
  const d = firstDifference(sent, expected, []);
  if (!d) return null;
  return `字段 ${d.path.join(".")}：节点为 ${show(d.sent)}，按市级目录与规则应为 ${show(d.expected)}`;
}

/** A domain error as the reason of a conflict (Chinese). */
export function domainReason(e: DomainError, c: CaseSnapshot | null): string {
  switch (e.code) {
    case "forbidden_role":
      return `${ROLE_LABELS[e.role]}不能在“${c ? CASE_STATE_LABELS[c.state] : "—"}”状态执行“${ACTION_LABELS[e.action]}”`;
    case "invalid_state":
      return `办件到达市级时已处于“${CASE_STATE_LABELS[e.state]}”状态，“${ACTION_LABELS[e.action]}”不再有效`;
    case "unknown_materials":
      return `材料编号不属于该事项：${e.ids.join("、")}`;
    case "invalid_command":
      return `${e.field}：${e.message}`;
    case "not_owner":
      return `办件由 ${e.caseOrigin} 受理，${e.actorOrigin} 不能执行“${ACTION_LABELS[e.action]}”`;
  }
}

/** A window acts only on its own cases, numbers new ones under its own code, and records who acted there. */
function ownershipProblem(ctx: RecheckContext, before: CaseSnapshot | null, e: CheckedEvent): string | null {
  if (!e.actor.endsWith(`@${ctx.origin}`)) return `操作人 ${e.actor} 不是节点 ${ctx.origin} 的人员`;
  if (e.type === "opened") {
    if (!e.caseNo.startsWith(`${ctx.origin}-`) || e.payload.origin !== ctx.origin) return `办件编号 ${e.caseNo} 不属于节点 ${ctx.origin}，不能由其开件`;
    return null;
  }
  // Judged by the number alone, before anything is looked up: the answer never tells a node whether
  // another hall's case exists.
  if (!e.caseNo.startsWith(`${ctx.origin}-`) || (before && before.origin !== ctx.origin)) return `办件 ${e.caseNo} 不是节点 ${ctx.origin} 受理的，不能办理`;
  return null;
}

/** Re-makes an `opened` event from what the window received, with the city's item and calendar. */
function recheckOpened(ctx: RecheckContext, before: CaseSnapshot | null, e: CheckedEvent): string | null {
  if (before) return `办件 ${e.caseNo} 已存在，重复开件`;
  const p = e.payload;
  const item = ctx.item(read.text(p, "itemCode"));
  if (!item) return `事项 ${String(p.itemCode)} 不在市级事项目录中`;
  const channel = read.oneOf(p, "channel", ["window", "online"]);
  if (channel !== "window") return "乡镇节点只能窗口收件（channel 应为 window）";
  const a = p.applicant;
  if (typeof a !== "object" || a === null || Array.isArray(a)) throw new PayloadError("applicant", "applicant 应为对象");
  const applicant = { name: read.text(a as Record<string, unknown>, "name"), idNumber: read.text(a as Record<string, unknown>, "idNumber"), phone: read.text(a as Record<string, unknown>, "phone") };
  const made = openCase(ctx.calendar, item, {
    caseNo: e.caseNo,
    queryCode: read.text(p, "queryCode"),
    origin: read.text(p, "origin"),
    channel,
    applicant,
    materials: read.list(p, "materials"),
    at: new Date(e.occurredAt),
  });
  if (!made.ok) return domainReason(made.error, null);
  return payloadDifference(p, made.value.event.payload);
}

/** Re-runs the command behind a case event against the city's case. */
function recheckCommand(ctx: RecheckContext, before: CaseSnapshot | null, e: CheckedEvent): string | null {
  const spec = eventType(e.type);
  if (!spec) return `未知的事件类型 ${e.type}`;
  if (!before) return `办件 ${e.caseNo} 不存在`;
  const item = ctx.item(before.itemCode);
  if (!item) return `事项 ${before.itemCode} 不在市级事项目录中`;
  const made = decide(before, spec.command(e.payload, before), { role: ctx.role, at: new Date(e.occurredAt), calendar: ctx.calendar, item });
  if (!made.ok) return domainReason(made.error, before);
  return payloadDifference(e.payload, made.value.event.payload);
}

/**
 * Why the city does not accept an event a node pushed, or null when the city's own rules produce
 * exactly this event. `approval-issued` is left to the shell, which verifies the document's signature.
 */
export function recheckEvent(ctx: RecheckContext, before: CaseSnapshot | null, e: CheckedEvent): string | null {
  try {
    const owner = ownershipProblem(ctx, before, e);
    if (owner) return owner;
    if (e.type === "opened") return recheckOpened(ctx, before, e);
    if (e.type === "approval-issued") return before ? null : `办件 ${e.caseNo} 不存在`;
    return recheckCommand(ctx, before, e);
  } catch (err) {
    if (err instanceof PayloadError) return `事件内容格式错误：${err.message}`;
    throw err;
  }
}

/**
 * Why an event's time cannot be right, or null. An event is made before the batch carrying it
 * was signed (`sentAt`, the node's clock), and a chain's clock does not run backwards: both within
 * `toleranceMs`, since a node's clock may be stepped by a few minutes between the two (a day is
 * not tolerated).
 */
export function timeProblem(occurredAt: string, prevOccurredAt: string | null, sentAt: string, toleranceMs: number): string | null {
  if (Date.parse(occurredAt) > Date.parse(sentAt) + toleranceMs) return `事件时间 ${occurredAt} 晚于节点签发批次的时间 ${sentAt}`;
  if (prevOccurredAt && Date.parse(occurredAt) < Date.parse(prevOccurredAt) - toleranceMs) {
    return `事件时间 ${occurredAt} 早于本链上一事件的时间 ${prevOccurredAt}`;
  }
  return null;
}

/** The role an event was made in: a node's events count as its window's; the city records the staff role. */
export type RoleOf = (e: CheckedEvent) => Role;

/**
 * Why the city must not sign a result for a case, or null: its applied events, replayed from the
 * start, must each be allowed by the transition table for the item's kind in the city's catalog
 * (the current one, or an earlier version a node offline across a reclassification worked with)
 * and for the role that made it. Values computed from the calendar are not compared here — the
 * calendar may have been completed since — only who did what in which state.
 */
export function historyProblem(events: readonly CheckedEvent[], catalogKinds: readonly ItemForCase["kind"][], roleOf: RoleOf): string | null {
  let c: CaseSnapshot | null = null;
  for (const e of events) {
    if (e.type === "opened") {
      if (c) return `办件 ${e.caseNo} 重复开件`;
      if (!catalogKinds.includes(e.payload.itemKind as ItemForCase["kind"])) {
        return `办件按“${String(e.payload.itemKind)}”开件，市级目录中该事项为“${catalogKinds.join("”或“")}”`;
      }
    } else if (e.type !== "approval-issued") {
      const spec = eventType(e.type);
      if (!spec) return `未知的事件类型 ${e.type}`;
      if (!c) return `办件 ${e.caseNo} 在开件之前有事件`;
      const rule = findRule(c, spec.action, roleOf(e));
      if (!rule.ok) return domainReason(rule.error, c);
    }
    try {
      c = applyEvent(c, e);
    } catch {
      return `事件 ${e.origin}:${e.type} 无法应用`;
    }
  }
  return c ? null : "办件没有开件事件";
}
