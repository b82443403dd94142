/**
 * The limits every event obeys, whichever side made it. A node checks them before an event
 * enters its chain (so it can never produce one that breaks them); the city refuses a pushed
 * batch carrying one with 400 `invalid_batch` before anything is stored. They bound what the
 * hash, SQLite's JSON functions and D1's value size can be asked to handle.
 */
import { CASE_NO_PATTERN, ORIGIN_CODE_PATTERN } from "./case-number.js";
import { canonicalEvent, type ChainedEventBody } from "./events.js";
import { textProblem } from "./text.js";

export const EVENT_LIMITS = {
  /** UTF-8 bytes of the whole event in canonical JSON (its hashed form). */
  maxEventBytes: 16_384,
  /** Nesting of objects and arrays inside a payload (the payload itself is level 1). */
  maxPayloadDepth: 8,
  /** Values (objects, arrays, strings, numbers, booleans, nulls) in one payload. */
  maxPayloadValues: 1_000,
  /** Characters of an actor. */
  maxActorLength: 120,
  /** The earliest and latest instant an event may carry. */
  minInstant: "2000-01-01T00:00:00.000Z",
  maxInstant: "2199-12-31T23:59:59.999Z",
} as const;

const INSTANT_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const TYPE_RE = /^[a-z][a-z0-9-]{0,39}$/;
const HASH_RE = /^[0-9a-f]{64}$/;

/**
 * Whether `s` is an instant as Tongban writes them: UTC with milliseconds, exactly as
 * `Date.prototype.toISOString` prints it, a real calendar time (no 30 February, no 25:61) and
 * within the years the limits allow.
 */
export function isInstant(s: unknown): s is string {
  if (typeof s !== "string" || !INSTANT_RE.test(s)) return false;
  const t = Date.parse(s);
  return Number.isFinite(t) && new Date(t).toISOString() === s && s >= EVENT_LIMITS.minInstant && s <= EVENT_LIMITS.maxInstant;
}

/** Bytes of a string in UTF-8, without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

export type LimitReason = "shape" | "bad_instant" | "bad_text" | "non_finite_number" | "payload_too_deep" | "payload_too_large" | "event_too_large";

export interface EventLimitProblem {
  field: string;
  reason: LimitReason;
  message: string;
}

const problem = (field: string, reason: LimitReason, message: string): EventLimitProblem => ({ field, reason, message });

/**
 * Walks a payload without recursion (a hostile payload may be nested thousands deep) and reports
 * the first value that breaks the limits. Counts bytes roughly as it goes, so a huge payload is
 * given up on early; the exact size is measured once the structure is known to be sound.
 */
function payloadProblem(payload: unknown): EventLimitProblem | null {
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return problem("payload", "shape", "事件内容应为 JSON 对象");
  const stack: { v: unknown; depth: number; path: string }[] = [{ v: payload, depth: 1, path: "payload" }];
  let values = 0;
  let bytes = 0;
  while (stack.length) {
    const { v, depth, path } = stack.pop()!;
    if (++values > EVENT_LIMITS.maxPayloadValues) return problem("payload", "payload_too_large", `事件内容超过 ${EVENT_LIMITS.maxPayloadValues} 个值`);
    switch (typeof v) {
      case "string": {
        const bad = textProblem(v);
        if (bad) return problem(path, "bad_text", `${path} ${bad}`);
        bytes += utf8Length(v) + 2;
        break;
      }
      case "number":
        if (!Number.isFinite(v)) return problem(path, "non_finite_number", `${path} 不是有限的数值`);
        bytes += 1;
        break;
      case "boolean":
        bytes += 5;
        break;
      case "object": {
        if (v === null) {
          bytes += 4;
          break;
        }
        if (depth > EVENT_LIMITS.maxPayloadDepth) return problem(path, "payload_too_deep", `事件内容嵌套超过 ${EVENT_LIMITS.maxPayloadDepth} 层`);
        if (Array.isArray(v)) {
          for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i] ?? null, depth: depth + 1, path: `${path}.${i}` });
          bytes += 1 + Math.max(v.length, 1);
        } else {
          // Members set to undefined (an event made here, not yet stored) are absent from the canonical form.
          const entries = Object.entries(v as Record<string, unknown>).filter(([, child]) => child !== undefined);
          for (let i = entries.length - 1; i >= 0; i--) {
            const [k, child] = entries[i]!;
            const bad = textProblem(k, false);
            if (bad) return problem(`${path}.${k}`, "bad_text", `字段名${bad}`);
            bytes += utf8Length(k) + 3;
            stack.push({ v: child, depth: depth + 1, path: `${path}.${k}` });
          }
          bytes += 1 + Math.max(entries.length, 1);
        }
        break;
      }
      default:
        return problem(path, "shape", `${path} 不是 JSON 值`);
    }
    // A lower bound of the canonical size (escapes only add to it): give up on a huge payload early.
    if (bytes > EVENT_LIMITS.maxEventBytes) return tooLarge();
  }
  return null;
}

const tooLarge = () => problem("payload", "event_too_large", `事件超过 ${EVENT_LIMITS.maxEventBytes} 字节（规范化 JSON 的 UTF-8 长度）`);

/**
 * The first way an event (as it travels: origin, seq, caseNo, type, payload, actor, occurredAt,
 * and, when chained, prevHash and hash) breaks the limits, or null. Cheap enough to run on every
 * event of a full push.
 */
export function eventLimitProblem(e: unknown, opts: { chained?: boolean } = { chained: true }): EventLimitProblem | null {
  if (typeof e !== "object" || e === null || Array.isArray(e)) return problem("event", "shape", "事件应为对象");
  const x = e as Record<string, unknown>;
  if (typeof x.origin !== "string" || !ORIGIN_CODE_PATTERN.test(x.origin)) return problem("origin", "shape", "来源编码应为 2–12 位大写字母或数字");
  if (typeof x.seq !== "number" || !Number.isSafeInteger(x.seq) || x.seq < 1) return problem("seq", "shape", "序号应为正整数");
  if (typeof x.caseNo !== "string" || x.caseNo.length > 40 || !CASE_NO_PATTERN.test(x.caseNo)) return problem("caseNo", "shape", "办件编号格式应为 节点编码-yyyymmdd-序号");
  if (typeof x.type !== "string" || !TYPE_RE.test(x.type)) return problem("type", "shape", "事件类型应为 1–40 位小写字母、数字或连字符");
  if (typeof x.actor !== "string" || x.actor.length < 1 || x.actor.length > EVENT_LIMITS.maxActorLength) return problem("actor", "shape", `操作人应为 1–${EVENT_LIMITS.maxActorLength} 个字符`);
  const badActor = textProblem(x.actor, false);
  if (badActor) return problem("actor", "bad_text", `操作人${badActor}`);
  if (!isInstant(x.occurredAt)) return problem("occurredAt", "bad_instant", "时间应为真实存在的 UTC 时刻，格式如 2026-11-23T01:30:00.000Z");
  if (opts.chained !== false) {
    if (typeof x.prevHash !== "string" || !HASH_RE.test(x.prevHash)) return problem("prevHash", "shape", "应为 64 位十六进制哈希");
    if (typeof x.hash !== "string" || !HASH_RE.test(x.hash)) return problem("hash", "shape", "应为 64 位十六进制哈希");
  }
  const p = payloadProblem(x.payload);
  if (p) return p;
  // Bounded depth and finite numbers only: the canonical form can now be built safely and measured exactly.
  if (utf8Length(canonicalEvent(x as unknown as ChainedEventBody)) > EVENT_LIMITS.maxEventBytes) return tooLarge();
  return null;
}
