/** The event limits and what counts as text and as an instant: pure rules, checked exactly. */
import { describe, expect, it } from "vitest";
import { canonicalEvent } from "../../domain/events.js";
import { EVENT_LIMITS, eventLimitProblem, isInstant, utf8Length } from "../../domain/limits.js";
import { textProblem } from "../../domain/text.js";

const HASH = "a".repeat(64);
/** A well-formed event with a payload to vary. */
const event = (payload: unknown, over: Record<string, unknown> = {}) => ({
  origin: "HQ01",
  seq: 1,
  caseNo: "HQ01-20261123-0001",
  type: "noted",
  payload,
  actor: "window@HQ01",
  occurredAt: "2026-11-23T01:30:00.000Z",
  prevHash: HASH,
  hash: HASH,
  ...over,
});

describe("isInstant", () => {
  it.each(["2026-11-23T01:30:00.000Z", "2024-02-29T23:59:59.999Z", "2000-01-01T00:00:00.000Z", "2199-12-31T23:59:59.999Z"])("%s is an instant", (s) => {
    expect(isInstant(s)).toBe(true);
  });
  it.each([
    "2026-02-30T25:61:00.000Z",
    "2026-02-30T01:00:00.000Z",
    "2026-02-29T01:00:00.000Z",
    "2026-11-23T24:00:00.000Z",
    "2026-11-23T01:30:00Z",
    "2026-11-23T01:30:00.0Z",
    "2026-11-23T09:30:00.000+08:00",
    "2026-11-23 01:30:00.000Z",
    "1999-12-31T23:59:59.999Z",
    "2200-01-01T00:00:00.000Z",
    "+002026-11-23T01:30:00.000Z",
    "",
  ])("%j is not", (s) => {
    expect(isInstant(s)).toBe(false);
  });
  it("a non-string is not", () => {
    expect(isInstant(1732325400000)).toBe(false);
    expect(isInstant(null)).toBe(false);
  });
});

describe("textProblem", () => {
  it("accepts Chinese, rare characters beyond the BMP, emoji and (in multi-line text) tab, CR and LF", () => {
    expect(textProblem("张三 𠮷野家 😀 O'Brien \"引号\" \\")).toBeNull();
    expect(textProblem("第一行\n第二行\r\n\t缩进")).toBeNull();
    expect(textProblem("\u2028\u200b\ufeff")).toBeNull();
  });
  it.each([
    ["\u0000", "包含空字符（NUL）"],
    ["\u0001", "包含控制字符"],
    ["\u001f", "包含控制字符"],
    ["\u007f", "包含控制字符"],
    ["\u0085", "包含控制字符"],
    ["\u009f", "包含控制字符"],
    ["\ud800", "包含无效的 Unicode 字符（不成对的代理项）"],
    ["\udc00", "包含无效的 Unicode 字符（不成对的代理项）"],
    ["a\ud800b", "包含无效的 Unicode 字符（不成对的代理项）"],
    ["\udc00\ud800", "包含无效的 Unicode 字符（不成对的代理项）"],
  ])("refuses %j", (s, message) => {
    expect(textProblem(`前${s}后`)).toBe(message);
  });
  it("single-line text refuses line breaks and tabs too", () => {
    expect(textProblem("张\n三", false)).toBe("包含控制字符");
    expect(textProblem("张\t三", false)).toBe("包含控制字符");
    expect(textProblem("张 三", false)).toBeNull();
  });
});

describe("utf8Length", () => {
  it.each(["", "abc", "张三", "𠮷", "😀x", "é", "\u07ff\u0800"])("%j measures as TextEncoder does", (s) => {
    expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
  });
});

describe("eventLimitProblem", () => {
  it("a well-formed event passes", () => {
    expect(eventLimitProblem(event({ note: "备注", n: 1.5, ok: true, none: null, list: [1, [2, { a: "b" }]] }))).toBeNull();
  });

  it("names the field and reason of each kind of break", () => {
    expect(eventLimitProblem(event({}, { occurredAt: "2026-02-30T01:00:00.000Z" }))).toEqual({
      field: "occurredAt",
      reason: "bad_instant",
      message: "时间应为真实存在的 UTC 时刻，格式如 2026-11-23T01:30:00.000Z",
    });
    expect(eventLimitProblem(event({ fee: Infinity }))).toEqual({ field: "payload.fee", reason: "non_finite_number", message: "payload.fee 不是有限的数值" });
    expect(eventLimitProblem(event({ a: [{ name: "张\u0000三" }] }))).toEqual({ field: "payload.a.0.name", reason: "bad_text", message: "payload.a.0.name 包含空字符（NUL）" });
    expect(eventLimitProblem(event({ ["键\u0001"]: 1 }))).toEqual({ field: "payload.键\u0001", reason: "bad_text", message: "字段名包含控制字符" });
    expect(eventLimitProblem(event([]))).toEqual({ field: "payload", reason: "shape", message: "事件内容应为 JSON 对象" });
    expect(eventLimitProblem(event({}, { caseNo: "HQ01-1123-1" }))).toMatchObject({ field: "caseNo", reason: "shape" });
    expect(eventLimitProblem(event({}, { type: "Opened" }))).toMatchObject({ field: "type", reason: "shape" });
    expect(eventLimitProblem(event({}, { actor: "window\n@HQ01" }))).toEqual({ field: "actor", reason: "bad_text", message: "操作人包含控制字符" });
    expect(eventLimitProblem(event({}, { seq: 2 ** 53 }))).toMatchObject({ field: "seq", reason: "shape" });
    expect(eventLimitProblem(event({}, { hash: "A".repeat(64) }))).toMatchObject({ field: "hash", reason: "shape" });
    expect(eventLimitProblem(event({}, { hash: undefined, prevHash: undefined }), { chained: false })).toBeNull();
  });

  it("allows payloads nested exactly to the limit, not one deeper (the payload object is level 1)", () => {
    const nest = (levels: number): unknown => (levels === 1 ? [] : [nest(levels - 1)]);
    // payload (1) → deep (levels 2..)
    expect(eventLimitProblem(event({ deep: nest(EVENT_LIMITS.maxPayloadDepth - 1) }))).toBeNull();
    expect(eventLimitProblem(event({ deep: nest(EVENT_LIMITS.maxPayloadDepth) }))).toMatchObject({ reason: "payload_too_deep" });
  });

  it("survives a payload nested 100,000 deep (no recursion)", () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(eventLimitProblem(event({ deep }))).toMatchObject({ reason: "payload_too_deep" });
  });

  it("counts values", () => {
    expect(eventLimitProblem(event({ list: Array(EVENT_LIMITS.maxPayloadValues - 2).fill(0) }))).toBeNull();
    expect(eventLimitProblem(event({ list: Array(EVENT_LIMITS.maxPayloadValues - 1).fill(0) }))).toEqual({
      field: "payload",
      reason: "payload_too_large",
      message: `事件内容超过 ${EVENT_LIMITS.maxPayloadValues} 个值`,
    });
  });

  it("measures the size exactly as the canonical JSON's UTF-8 bytes: at the limit passes, one byte over does not", () => {
    const base = event({ note: "" });
    const room = EVENT_LIMITS.maxEventBytes - new TextEncoder().encode(canonicalEvent(base)).length;
    // "备" is three bytes; "a" is one: fill exactly to the limit.
    const note = "备".repeat(Math.floor(room / 3)) + "a".repeat(room % 3);
    const exact = event({ note });
    expect(new TextEncoder().encode(canonicalEvent(exact)).length).toBe(EVENT_LIMITS.maxEventBytes);
    expect(eventLimitProblem(exact)).toBeNull();
    expect(eventLimitProblem(event({ note: `${note}a` }))).toEqual({
      field: "payload",
      reason: "event_too_large",
      message: `事件超过 ${EVENT_LIMITS.maxEventBytes} 字节（规范化 JSON 的 UTF-8 长度）`,
    });
    // Escapes count: a quote is two bytes in JSON.
    expect(eventLimitProblem(event({ note: `${'"'.repeat(Math.floor(room / 2))}"` }))).toMatchObject({ reason: "event_too_large" });
  });
});
