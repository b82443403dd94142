/**
 * The city's re-check of a node's events, as pure rules: everything an honest window makes passes
 * it unchanged; one altered member, a foreign role, a time out of order or a history that skipped
 * review does not.
 */
import { describe, expect, it } from "vitest";
import { formatCaseNo } from "../../domain/case-number.js";
import { applyEvent, decide, openCase, type CaseCommand, type CaseEventDraft, type CaseSnapshot, type ItemForCase, type Role } from "../../domain/lifecycle.js";
import { historyProblem, payloadDifference, recheckEvent, timeProblem, type CheckedEvent, type RecheckContext } from "../../domain/recheck.js";
import type { MaterialSpec, ServiceItemKind } from "../../schema/types.js";
import { officialCalendar } from "./fixtures.js";

const cal = officialCalendar();
const MATERIALS: MaterialSpec[] = [
  { id: "m-id", name: "身份证明", form: "original", copies: 1, required: true, deferrable: false, note: "" },
  { id: "m-form", name: "申请表", form: "original", copies: 1, required: true, deferrable: false, note: "" },
  { id: "m-cert", name: "权属证明", form: "copy", copies: 1, required: true, deferrable: true, note: "" },
];
const item = (kind: ServiceItemKind): ItemForCase => ({
  code: `ITEM-${kind}`,
  name: `测试事项（${kind}）`,
  departmentCode: "ZJJ",
  kind,
  materials: MATERIALS,
  promisedLimit: kind === "immediate" ? { value: 0, unit: "day" } : { value: 5, unit: "day" },
  jointDepartments: kind === "joint" ? ["GAJ"] : [],
  places: ["city", "township"],
});
const ITEMS = new Map((["immediate", "promised", "joint", "special"] as const).map((k) => [`ITEM-${k}`, item(k)]));
const ctx: RecheckContext = { origin: "HQ01", role: "clerk", calendar: cal, item: (code) => ITEMS.get(code) ?? null };

/** A window's honest work on one case, as the events it chains (with the case before each). */
function windowFlow(kind: ServiceItemKind, materials: string[], commands: CaseCommand[]): { before: CaseSnapshot | null; event: CheckedEvent }[] {
  let at = Date.parse("2026-11-23T01:30:00.000Z");
  const it = ITEMS.get(`ITEM-${kind}`)!;
  const opened = openCase(cal, it, {
    caseNo: formatCaseNo("HQ01", new Date(at), 1),
    queryCode: "ABCD2345",
    origin: "HQ01",
    channel: "window",
    applicant: { name: "张三", idNumber: "11010519491231002X", phone: "13800138000" },
    materials,
    at: new Date(at),
  });
  if (!opened.ok) throw new Error(JSON.stringify(opened.error));
  const out: { before: CaseSnapshot | null; event: CheckedEvent }[] = [];
  const push = (d: CaseEventDraft, before: CaseSnapshot | null) => {
    out.push({ before, event: { origin: "HQ01", caseNo: d.caseNo, type: d.type, payload: d.payload, actor: "window@HQ01", occurredAt: new Date(at).toISOString() } });
    return applyEvent(before, d);
  };
  let c = push(opened.value.event, null);
  for (const cmd of commands) {
    at += 30 * 60_000;
    const made = decide(c, cmd, { role: "clerk", at: new Date(at), calendar: cal, item: it });
    if (!made.ok) throw new Error(JSON.stringify(made.error));
    c = push(made.value.event, c);
  }
  return out;
}

describe("recheckEvent: an honest window's events pass unchanged", () => {
  it.each([
    ["immediate, decided and delivered", "immediate", ["m-id", "m-form", "m-cert"], [{ action: "decide", decision: "grant" }, { action: "deliver", method: "post" }]],
    ["immediate, denied", "immediate", ["m-id", "m-form"], [{ action: "decide", decision: "deny", reason: "不符合条件" }]],
    ["promised, supplemented then forwarded", "promised", ["m-id"], [{ action: "supplement", materials: ["m-form"] }, { action: "forward", note: "请审查" }]],
    ["promised, refused at intake", "promised", [], [{ action: "refuse", reason: "不属于本中心受理范围" }]],
    ["joint, forwarded to both departments", "joint", ["m-id", "m-form", "m-cert"], [{ action: "forward" }]],
    ["special, decided at the window", "special", ["m-id", "m-form", "m-cert"], [{ action: "decide", decision: "grant" }]],
  ] as [string, ServiceItemKind, string[], CaseCommand[]][])("%s", (_what, kind, materials, commands) => {
    const flow = windowFlow(kind, materials, commands);
    expect(flow.map(({ before, event }) => recheckEvent(ctx, before, event))).toEqual(flow.map(() => null));
  });
});

describe("recheckEvent: what does not hold", () => {
  const [opened, decided] = windowFlow("immediate", ["m-id", "m-form"], [{ action: "decide", decision: "grant" }]);

  it("the item's kind taken from the city's catalog, not the payload", () => {
    const city: RecheckContext = { ...ctx, item: (code) => (code === "ITEM-immediate" ? { ...item("promised"), code } : null) };
    expect(recheckEvent(city, null, opened!.event)).toBe('字段 itemKind：节点为 "immediate"，按市级目录与规则应为 "promised"');
  });

  it("a department's decision claimed by a window", () => {
    const [o, f] = windowFlow("promised", ["m-id", "m-form", "m-cert"], [{ action: "forward" }]);
    const inReview = applyEvent(f!.before, f!.event as never);
    const made = decide(inReview, { action: "decide", decision: "grant" }, { role: "approver", at: new Date("2026-11-23T03:00:00.000Z"), calendar: cal, item: item("promised") });
    if (!made.ok) throw new Error("approver may decide");
    const e: CheckedEvent = { ...f!.event, type: "decided", payload: made.value.event.payload, occurredAt: "2026-11-23T03:00:00.000Z" };
    expect(recheckEvent(ctx, inReview, e)).toBe("窗口人员不能在“部门审查中”状态执行“办结决定”");
    expect(o).toBeDefined();
  });

  it("a payload that lacks what its type needs is reported, never thrown", () => {
    expect(recheckEvent(ctx, decided!.before, { ...decided!.event, payload: { at: decided!.event.occurredAt } })).toBe("事件内容格式错误：decision 应为文本");
    expect(recheckEvent(ctx, decided!.before, { ...decided!.event, payload: { ...decided!.event.payload, decision: "maybe" } })).toBe("事件内容格式错误：decision 应为 grant、deny 之一");
    expect(recheckEvent(ctx, null, { ...opened!.event, payload: { origin: "HQ01", itemCode: 42 } })).toBe("事件内容格式错误：itemCode 应为文本");
  });

  it("an event on a case this node did not accept, or under another node's number", () => {
    const other: RecheckContext = { ...ctx, origin: "XZ02" };
    expect(recheckEvent(other, decided!.before, { ...decided!.event, actor: "window@XZ02" })).toBe(`办件 ${decided!.event.caseNo} 不是节点 XZ02 受理的，不能办理`);
    expect(recheckEvent(other, null, { ...opened!.event, actor: "window@XZ02" })).toBe(`办件编号 ${opened!.event.caseNo} 不属于节点 XZ02，不能由其开件`);
  });

  it("an unknown event type", () => {
    expect(recheckEvent(ctx, decided!.before, { ...decided!.event, type: "noted" })).toBe("未知的事件类型 noted");
  });
});

describe("payloadDifference", () => {
  it("names what the case is before what it owes, then the rest in order", () => {
    expect(payloadDifference({ a: 1, kind: "x", deadlineAt: "1" }, { a: 2, kind: "y", deadlineAt: "2" })).toBe('字段 kind：节点为 "x"，按市级目录与规则应为 "y"');
    expect(payloadDifference({ b: 1, a: 1 }, { b: 2, a: 2 })).toBe("字段 a：节点为 1，按市级目录与规则应为 2");
    expect(payloadDifference({ a: 1, extra: true }, { a: 1 })).toBe("字段 extra：节点为 true，按市级目录与规则应为 （无）");
    expect(payloadDifference({ a: { y: 1, x: 2 } }, { a: { x: 2, y: 1 } })).toBeNull();
  });
  it("names a nested member, and never shows a full ID number (reasons travel back to the node and are listed)", () => {
    const a = { applicant: { name: "张三", idNumber: "11010519491231002X", phone: "13800138000" } };
    expect(payloadDifference({ applicant: { ...a.applicant, idNumber: "350502199001011234" } }, a)).toBe('字段 applicant.idNumber：节点为 "3505**********1234"，按市级目录与规则应为 "1101**********002X"');
    expect(payloadDifference({ applicant: { ...a.applicant, extra: 1 } }, a)).toBe("字段 applicant.extra：节点为 1，按市级目录与规则应为 （无）");
    expect(payloadDifference({ applicant: "11010519491231002X" }, a)).not.toContain("11010519491231002X");
  });
  it("shortens long values", () => {
    expect(payloadDifference({ note: "长".repeat(200) }, { note: "" })).toBe(`字段 note：节点为 "${"长".repeat(76)}…，按市级目录与规则应为 ""`);
  });
});

describe("timeProblem", () => {
  it("an event after the batch that carries it, or running back more than the tolerance", () => {
    expect(timeProblem("2026-11-23T01:00:00.000Z", null, "2026-11-23T01:00:00.000Z", 300_000)).toBeNull();
    // A clock stepped back a little between the event and the batch is tolerated; more is not.
    expect(timeProblem("2026-11-23T01:05:00.000Z", null, "2026-11-23T01:00:00.000Z", 300_000)).toBeNull();
    expect(timeProblem("2026-11-23T01:05:00.001Z", null, "2026-11-23T01:00:00.000Z", 300_000)).toBe("事件时间 2026-11-23T01:05:00.001Z 晚于节点签发批次的时间 2026-11-23T01:00:00.000Z");
    expect(timeProblem("2026-11-23T00:55:00.000Z", "2026-11-23T01:00:00.000Z", "2026-11-23T02:00:00.000Z", 300_000)).toBeNull();
    expect(timeProblem("2026-11-23T00:54:59.999Z", "2026-11-23T01:00:00.000Z", "2026-11-23T02:00:00.000Z", 300_000)).toBe(
      "事件时间 2026-11-23T00:54:59.999Z 早于本链上一事件的时间 2026-11-23T01:00:00.000Z",
    );
  });
});

describe("historyProblem: what the city will sign", () => {
  const roles = (r: Role) => () => r;
  it("accepts a window's immediate case and a department's promised case", () => {
    const flow = windowFlow("immediate", ["m-id", "m-form"], [{ action: "decide", decision: "grant" }]).map((x) => x.event);
    expect(historyProblem(flow, ["immediate"], roles("clerk"))).toBeNull();
    const promised = windowFlow("promised", ["m-id", "m-form", "m-cert"], [{ action: "forward" }]).map((x) => x.event);
    const c = promised.reduce<CaseSnapshot | null>((s, e) => applyEvent(s, e as never), null)!;
    const made = decide(c, { action: "decide", decision: "grant" }, { role: "approver", at: new Date("2026-11-24T02:00:00.000Z"), calendar: cal, item: item("promised") });
    if (!made.ok) throw new Error("approver may decide");
    const byDepartment: CheckedEvent = { origin: "CITY", caseNo: c.caseNo, type: "decided", payload: made.value.event.payload, actor: "approver:zhang", occurredAt: "2026-11-24T02:00:00.000Z" };
    expect(historyProblem([...promised, byDepartment], ["promised"], (e) => (e.origin === "CITY" ? "approver" : "clerk"))).toBeNull();
  });
  it("refuses a case opened as another kind than the catalog's, and a window's grant of a reviewed case", () => {
    const flow = windowFlow("immediate", ["m-id", "m-form"], [{ action: "decide", decision: "grant" }]).map((x) => x.event);
    expect(historyProblem(flow, ["promised"], roles("clerk"))).toBe("办件按“immediate”开件，市级目录中该事项为“promised”");
    const relabelled = flow.map((e) => (e.type === "opened" ? { ...e, payload: { ...e.payload, itemKind: "promised", kind: "promised" } } : e));
    expect(historyProblem(relabelled, ["promised"], roles("clerk"))).toBe("办件到达市级时已处于“已受理”状态，“办结决定”不再有效");
  });
  it("accepts a case opened under an earlier version of the item (reclassified since)", () => {
    const flow = windowFlow("immediate", ["m-id", "m-form"], [{ action: "decide", decision: "grant" }]).map((x) => x.event);
    expect(historyProblem(flow, ["promised", "immediate"], roles("clerk"))).toBeNull();
    expect(historyProblem(flow, ["promised", "joint"], roles("clerk"))).toBe("办件按“immediate”开件，市级目录中该事项为“promised”或“joint”");
  });
  it("refuses a history without its opening", () => {
    expect(historyProblem([], ["immediate"], roles("clerk"))).toBe("办件没有开件事件");
  });
});
