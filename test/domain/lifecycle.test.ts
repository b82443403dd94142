/**
 * The case lifecycle (七件管理制): intake, every transition of every kind, the transition table,
 * role checks, validation, suspensions and deterministic replay.
 *
 * Times (all UTC; Beijing = UTC+8), March 2026: Mon 09, Tue 10, Wed 11, Thu 12, Fri 13, Mon 16 …
 * Deadlines are worked out by hand from the official calendar (schema/seed/calendar.ts).
 */
import { describe, it, expect } from "vitest";
import {
  CASE_ACTIONS,
  CASE_KIND_LABELS,
  CASE_STATES,
  TRANSITIONS,
  applyEvent,
  availableActions,
  decide,
  findRule,
  openCase,
  type CaseAction,
  type CaseCommand,
  type CaseEventDraft,
  type CaseKind,
  type CaseSnapshot,
  type DomainError,
  type ItemForCase,
  type Result,
  type Role,
} from "../../domain/lifecycle.js";
import type { MaterialSpec, ServiceItemKind } from "../../schema/types.js";
import type { Limit } from "../../domain/time.js";
import { officialCalendar } from "./fixtures.js";

const cal = officialCalendar();

const ALL_KINDS: readonly CaseKind[] = ["immediate", "promised", "joint", "escalated", "returned", "supplement", "special"];
const ALL_ROLES: readonly Role[] = ["clerk", "approver", "applicant", "supervisor", "admin"];

// ---- fixtures ---------------------------------------------------------------------------------

const MATERIALS: MaterialSpec[] = [
  { id: "m-id", name: "申请人身份证明", form: "original", copies: 1, required: true, deferrable: false, note: "" },
  { id: "m-form", name: "申请表", form: "original", copies: 1, required: true, deferrable: false, note: "" },
  { id: "m-cert", name: "房屋权属证明", form: "copy", copies: 1, required: true, deferrable: true, note: "可容缺受理" },
  { id: "m-photo", name: "现场照片", form: "electronic", copies: 1, required: false, deferrable: false, note: "" },
];
const COMPLETE = ["m-id", "m-form", "m-cert"];

function makeItem(kind: ServiceItemKind, promisedLimit: Limit, jointDepartments: string[] = []): ItemForCase {
  return {
    code: `ITEM-${kind}`,
    name: `测试事项（${kind}）`,
    departmentCode: "ZJJ",
    kind,
    materials: MATERIALS,
    promisedLimit,
    jointDepartments,
    places: ["city", "township"],
  };
}

const ITEMS = {
  immediate: makeItem("immediate", { value: 0, unit: "day" }),
  promised: makeItem("promised", { value: 5, unit: "day" }),
  joint: makeItem("joint", { value: 10, unit: "day" }, ["ZRZYJ", "SCJGJ"]),
  escalated: makeItem("escalated", { value: 20, unit: "day" }),
  special: makeItem("special", { value: 3, unit: "hour" }),
} as const;

// Instants.
const MON_1000 = "2026-03-09T02:00:00.000Z";
const MON_1030 = "2026-03-09T02:30:00.000Z";
const MON_1100 = "2026-03-09T03:00:00.000Z";
const MON_1400 = "2026-03-09T06:00:00.000Z";
const MON_1500 = "2026-03-09T07:00:00.000Z";
const MON_1800 = "2026-03-09T10:00:00.000Z";
const TUE_1000 = "2026-03-10T02:00:00.000Z";
const WED_1000 = "2026-03-11T02:00:00.000Z";
const THU_1000 = "2026-03-12T02:00:00.000Z";
const FRI_1000 = "2026-03-13T02:00:00.000Z";

// ---- helpers ----------------------------------------------------------------------------------

function must<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(`unexpected domain error: ${JSON.stringify(r.error)}`);
  return r.value;
}

function errorOf<T>(r: Result<T>): DomainError {
  if (r.ok) throw new Error(`expected a domain error, got ${JSON.stringify(r.value)}`);
  return r.error;
}

interface Flow {
  snap: CaseSnapshot;
  events: CaseEventDraft[];
  item: ItemForCase;
}

let seq = 0;
function intake(item: ItemForCase, materials: string[], opts: { channel?: "window" | "online"; at?: string } = {}) {
  seq++;
  return openCase(cal, item, {
    caseNo: `QZ01-20260309-${String(seq).padStart(4, "0")}`,
    queryCode: "ABCD2345",
    origin: "QZ01",
    channel: opts.channel ?? "window",
    applicant: { name: "张三", idNumber: "11010519491231002X", phone: "13800138000" },
    materials,
    at: new Date(opts.at ?? MON_1000),
  });
}

function open(item: ItemForCase, materials: string[], opts: { channel?: "window" | "online"; at?: string } = {}): Flow {
  const r = must(intake(item, materials, opts));
  return { snap: applyEvent(null, r.event), events: [r.event], item };
}

function attempt(f: Flow, cmd: CaseCommand, role: Role, at: string) {
  return decide(f.snap, cmd, { role, at: new Date(at), calendar: cal, item: f.item });
}

function act(f: Flow, cmd: CaseCommand, role: Role, at: string): Flow {
  const r = must(attempt(f, cmd, role, at));
  return { ...f, snap: applyEvent(f.snap, r.event), events: [...f.events, r.event] };
}

function replay(events: readonly CaseEventDraft[]): CaseSnapshot {
  let c: CaseSnapshot | null = null;
  for (const e of events) c = applyEvent(c, e);
  if (!c) throw new Error("no events");
  return c;
}

// ---- intake -----------------------------------------------------------------------------------

describe("openCase at the window", () => {
  it("accepts a complete application at once with the item's kind and a deadline", () => {
    const r = must(intake(ITEMS.promised, ["m-id", "m-form", "m-cert", "m-photo"]));
    expect(r.event.type).toBe("opened");
    expect(r.warnings).toEqual([]);
    const c = applyEvent(null, r.event);
    expect(c.state).toBe("accepted");
    expect(c.kind).toBe("promised");
    expect(c.itemKind).toBe("promised");
    expect(c.channel).toBe("window");
    expect(c.acceptedAt).toBe(MON_1000);
    // 5 working days from Mon 03-09: Tue, Wed, Thu, Fri, Mon 03-16 → 17:30 Beijing.
    expect(c.deadlineAt).toBe("2026-03-16T09:30:00.000Z");
    expect(c.deadlineDate).toBe("2026-03-16");
    expect(c.missing).toEqual([]);
    expect(c.deferred).toEqual([]);
    expect(c.applicantName).toBe("张三");
    expect(c.limitValue).toBe(5);
    expect(c.limitUnit).toBe("day");
    expect(c.suspensions).toEqual([]);
  });

  it("gives an immediate item a same-day deadline", () => {
    const c = open(ITEMS.immediate, COMPLETE).snap;
    expect(c.state).toBe("accepted");
    expect(c.kind).toBe("immediate");
    expect(c.deadlineAt).toBe("2026-03-09T09:30:00.000Z");
    expect(c.deadlineDate).toBe("2026-03-09");
  });

  it("gives an immediate item accepted after closing the next working day", () => {
    const c = open(ITEMS.immediate, COMPLETE, { at: MON_1800 }).snap;
    expect(c.deadlineAt).toBe("2026-03-10T09:30:00.000Z");
    expect(c.deadlineDate).toBe("2026-03-10");
  });

  it("gives each kind the deadline of its promised limit", () => {
    // joint 10 days from Mon 03-09 → Mon 03-23; escalated 20 days → Tue 04-07 (清明 04-04..04-06);
    // special 3 hours from 10:00 → 10:00–12:00 + 13:30–14:30 → 14:30 Beijing.
    expect(open(ITEMS.joint, COMPLETE).snap.deadlineAt).toBe("2026-03-23T09:30:00.000Z");
    expect(open(ITEMS.escalated, COMPLETE).snap.deadlineAt).toBe("2026-04-07T09:30:00.000Z");
    expect(open(ITEMS.special, COMPLETE).snap.deadlineAt).toBe("2026-03-09T06:30:00.000Z");
  });

  it("accepts with only the deferrable (容缺) material missing and records it as deferred", () => {
    const c = open(ITEMS.promised, ["m-id", "m-form"]).snap;
    expect(c.state).toBe("accepted");
    expect(c.kind).toBe("promised");
    expect(c.missing).toEqual([]);
    expect(c.deferred).toEqual(["m-cert"]);
    expect(c.deadlineDate).toBe("2026-03-16");
  });

  it("turns an incomplete application into a 补办件 listing every missing material (一次性告知)", () => {
    const c = open(ITEMS.promised, ["m-photo"]).snap;
    expect(c.state).toBe("supplement");
    expect(c.kind).toBe("supplement");
    expect([...c.missing].sort()).toEqual(["m-form", "m-id"]);
    expect(c.deferred).toEqual(["m-cert"]);
    expect(c.acceptedAt).toBeNull();
    expect(c.deadlineAt).toBeNull();
    expect(c.deadlineDate).toBeNull();
  });

  it("lists one missing material when only one is missing", () => {
    const c = open(ITEMS.promised, ["m-id", "m-cert"]).snap;
    expect(c.state).toBe("supplement");
    expect(c.missing).toEqual(["m-form"]);
    expect(c.deferred).toEqual([]);
  });

  it("rejects unknown material ids", () => {
    const e = errorOf(intake(ITEMS.promised, ["m-id", "m-form", "m-cert", "m-x", "m-y"]));
    expect(e).toEqual({ code: "unknown_materials", ids: ["m-x", "m-y"] });
  });

  it("deduplicates received materials", () => {
    const c = open(ITEMS.promised, ["m-id", "m-id", "m-form", "m-cert"]).snap;
    expect([...c.materials].sort()).toEqual(["m-cert", "m-form", "m-id"]);
  });

  it("leaves an online filing submitted for the clerk's check, complete or not", () => {
    const complete = open(ITEMS.promised, COMPLETE, { channel: "online" }).snap;
    expect(complete.state).toBe("submitted");
    expect(complete.kind).toBe("promised");
    expect(complete.channel).toBe("online");
    expect(complete.acceptedAt).toBeNull();
    expect(complete.deadlineAt).toBeNull();

    const incomplete = open(ITEMS.joint, ["m-photo"], { channel: "online" }).snap;
    expect(incomplete.state).toBe("submitted");
    expect(incomplete.kind).toBe("joint");
    expect([...incomplete.missing].sort()).toEqual(["m-form", "m-id"]);
  });
});

// ---- happy paths per kind ---------------------------------------------------------------------

describe("即办件 (immediate)", () => {
  it("accept at intake → clerk decides → clerk delivers", () => {
    let f = open(ITEMS.immediate, COMPLETE);
    expect(f.snap.state).toBe("accepted");
    f = act(f, { action: "decide", decision: "grant" }, "clerk", MON_1030);
    expect(f.snap.state).toBe("decided");
    expect(f.snap.decision).toBe("grant");
    expect(f.snap.decidedAt).toBe(MON_1030);
    expect(f.snap.decisionReason).toBeNull();
    f = act(f, { action: "deliver" }, "clerk", MON_1100);
    expect(f.snap.state).toBe("delivered");
    expect(f.snap.deliveredAt).toBe(MON_1100);
    expect(f.snap.kind).toBe("immediate");
    expect(f.events.map((e) => e.type)).toEqual(["opened", "decided", "delivered"]);
    expect(f.snap.updatedAt).toBe(MON_1100);
    expect(f.snap.createdAt).toBe(MON_1000);
  });

  it("cannot be forwarded or decided by an approver", () => {
    const f = open(ITEMS.immediate, COMPLETE);
    expect(errorOf(attempt(f, { action: "forward" }, "clerk", MON_1030)).code).toBe("invalid_state");
    expect(errorOf(attempt(f, { action: "decide", decision: "grant" }, "approver", MON_1030)).code).toBe("forbidden_role");
  });

  it("online filing: clerk accepts, then decides at once", () => {
    let f = open(ITEMS.immediate, COMPLETE, { channel: "online" });
    f = act(f, { action: "accept" }, "clerk", TUE_1000);
    expect(f.snap.state).toBe("accepted");
    expect(f.snap.acceptedAt).toBe(TUE_1000);
    expect(f.snap.deadlineAt).toBe("2026-03-10T09:30:00.000Z");
    f = act(f, { action: "decide", decision: "deny", reason: "不符合条件" }, "clerk", TUE_1000);
    expect(f.snap.decision).toBe("deny");
    expect(f.snap.decisionReason).toBe("不符合条件");
  });
});

describe("承诺件 (promised)", () => {
  it("clerk forwards → approver decides → clerk delivers", () => {
    let f = open(ITEMS.promised, COMPLETE);
    f = act(f, { action: "forward", note: "预审通过" }, "clerk", MON_1030);
    expect(f.snap.state).toBe("in_review");
    expect(f.snap.reviewDepartments).toEqual(["ZJJ"]);
    f = act(f, { action: "decide", decision: "grant" }, "approver", WED_1000);
    expect(f.snap.state).toBe("decided");
    expect(f.snap.decision).toBe("grant");
    f = act(f, { action: "deliver", method: "post" }, "clerk", THU_1000);
    expect(f.snap.state).toBe("delivered");
    expect(f.snap.kind).toBe("promised");
    expect(f.snap.deadlineAt).toBe("2026-03-16T09:30:00.000Z");
    expect(f.events.map((e) => e.type)).toEqual(["opened", "forwarded", "decided", "delivered"]);
  });

  it("online filing accepted by the clerk starts the clock at acceptance", () => {
    let f = open(ITEMS.promised, ["m-id", "m-form"], { channel: "online" });
    f = act(f, { action: "accept" }, "clerk", TUE_1000);
    expect(f.snap.state).toBe("accepted");
    expect(f.snap.acceptedAt).toBe(TUE_1000);
    // 5 days from Tue 03-10: Wed, Thu, Fri, Mon, Tue 03-17.
    expect(f.snap.deadlineAt).toBe("2026-03-17T09:30:00.000Z");
    expect(f.snap.deferred).toEqual(["m-cert"]);
  });

  it("an online filing completed at acceptance has no missing materials left", () => {
    let f = open(ITEMS.promised, ["m-id", "m-cert"], { channel: "online" });
    expect(f.snap.missing).toEqual(["m-form"]);
    f = act(f, { action: "accept", materials: ["m-form"] }, "clerk", TUE_1000);
    expect(f.snap.state).toBe("accepted");
    expect([...f.snap.materials].sort()).toEqual(["m-cert", "m-form", "m-id"]);
    expect(f.snap.missing).toEqual([]);
  });

  it("cannot be accepted while required materials are missing", () => {
    const f = open(ITEMS.promised, ["m-id"], { channel: "online" });
    const e = errorOf(attempt(f, { action: "accept" }, "clerk", TUE_1000));
    expect(e.code).toBe("invalid_command");
    if (e.code === "invalid_command") expect(e.field).toBe("materials");
  });
});

describe("联办件 (joint)", () => {
  it("forward → an opinion from every department → approver decides", () => {
    let f = open(ITEMS.joint, COMPLETE);
    f = act(f, { action: "forward" }, "clerk", MON_1030);
    expect(f.snap.state).toBe("in_review");
    expect(f.snap.reviewDepartments).toEqual(["ZJJ", "ZRZYJ", "SCJGJ"]);

    const early = errorOf(attempt(f, { action: "decide", decision: "grant" }, "approver", MON_1100));
    expect(early.code).toBe("invalid_command");
    if (early.code === "invalid_command") expect(early.field).toBe("opinions");

    f = act(f, { action: "opinion", department: "ZJJ", opinion: "agree", comment: "同意" }, "approver", MON_1100);
    expect(f.snap.state).toBe("in_review");
    expect(f.snap.opinions).toEqual([{ department: "ZJJ", opinion: "agree", comment: "同意", at: MON_1100 }]);

    const dup = errorOf(attempt(f, { action: "opinion", department: "ZJJ", opinion: "disagree" }, "approver", MON_1400));
    expect(dup.code).toBe("invalid_command");
    if (dup.code === "invalid_command") expect(dup.field).toBe("department");

    const stranger = errorOf(attempt(f, { action: "opinion", department: "GAJ", opinion: "agree" }, "approver", MON_1400));
    expect(stranger.code).toBe("invalid_command");
    if (stranger.code === "invalid_command") expect(stranger.field).toBe("department");

    f = act(f, { action: "opinion", department: "ZRZYJ", opinion: "agree" }, "approver", MON_1400);
    const stillEarly = errorOf(attempt(f, { action: "decide", decision: "grant" }, "approver", MON_1500));
    expect(stillEarly.code).toBe("invalid_command");
    if (stillEarly.code === "invalid_command") {
      expect(stillEarly.field).toBe("opinions");
      expect(stillEarly.message).toContain("SCJGJ");
      expect(stillEarly.message).not.toContain("ZRZYJ");
    }

    f = act(f, { action: "opinion", department: "SCJGJ", opinion: "agree" }, "approver", TUE_1000);
    expect(f.snap.opinions.map((o) => o.department)).toEqual(["ZJJ", "ZRZYJ", "SCJGJ"]);
    expect(f.snap.opinions[1]!.comment).toBe("");
    f = act(f, { action: "decide", decision: "grant" }, "approver", WED_1000);
    expect(f.snap.state).toBe("decided");
    f = act(f, { action: "deliver" }, "clerk", THU_1000);
    expect(f.snap.state).toBe("delivered");
    expect(f.snap.kind).toBe("joint");
  });

  it("only approvers give opinions, and only on joint cases in review", () => {
    const joint = act(open(ITEMS.joint, COMPLETE), { action: "forward" }, "clerk", MON_1030);
    expect(errorOf(attempt(joint, { action: "opinion", department: "ZJJ", opinion: "agree" }, "clerk", MON_1100)).code).toBe("forbidden_role");
    const promised = act(open(ITEMS.promised, COMPLETE), { action: "forward" }, "clerk", MON_1030);
    expect(errorOf(attempt(promised, { action: "opinion", department: "ZJJ", opinion: "agree" }, "approver", MON_1100)).code).toBe(
      "invalid_state",
    );
  });
});

describe("报批件 (escalated)", () => {
  it("forward → escalate → approver decides → deliver", () => {
    let f = open(ITEMS.escalated, COMPLETE);
    f = act(f, { action: "forward" }, "clerk", MON_1030);
    expect(f.snap.state).toBe("in_review");

    const early = errorOf(attempt(f, { action: "decide", decision: "grant" }, "approver", MON_1100));
    expect(early.code).toBe("invalid_state");
    if (early.code === "invalid_state") {
      expect(early.state).toBe("in_review");
      expect(early.allowedIn).toEqual(["escalated"]);
    }

    const blank = errorOf(attempt(f, { action: "escalate", authority: "  " }, "approver", MON_1100));
    expect(blank.code).toBe("invalid_command");
    if (blank.code === "invalid_command") expect(blank.field).toBe("authority");

    f = act(f, { action: "escalate", authority: " 泉州市人民政府 " }, "approver", MON_1100);
    expect(f.snap.state).toBe("escalated");
    expect(f.events.at(-1)!.payload.authority).toBe("泉州市人民政府");

    f = act(f, { action: "decide", decision: "grant" }, "approver", WED_1000);
    expect(f.snap.state).toBe("decided");
    f = act(f, { action: "deliver" }, "clerk", THU_1000);
    expect(f.snap.state).toBe("delivered");
    expect(f.snap.kind).toBe("escalated");
    expect(f.events.map((e) => e.type)).toEqual(["opened", "forwarded", "escalated", "decided", "delivered"]);
  });

  it("can be suspended and resumed while escalated", () => {
    let f = open(ITEMS.escalated, COMPLETE);
    f = act(f, { action: "forward" }, "clerk", MON_1030);
    f = act(f, { action: "escalate", authority: "泉州市人民政府" }, "approver", MON_1100);
    f = act(f, { action: "suspend", reason: "专家评审" }, "approver", TUE_1000);
    f = act(f, { action: "resume" }, "approver", THU_1000);
    // 20 days from Mon 03-09 ended Tue 04-07; Tue 03-10 and Wed 03-11 excluded → Wed 04-08, Thu 04-09.
    expect(f.snap.deadlineAt).toBe("2026-04-09T09:30:00.000Z");
    expect(f.snap.deadlineDate).toBe("2026-04-09");
    expect(f.snap.state).toBe("escalated");
  });
});

describe("特办件 (special)", () => {
  it("the clerk decides at the window", () => {
    let f = open(ITEMS.special, COMPLETE);
    f = act(f, { action: "decide", decision: "grant" }, "clerk", MON_1030);
    expect(f.snap.state).toBe("decided");
    f = act(f, { action: "deliver" }, "clerk", MON_1100);
    expect(f.snap.state).toBe("delivered");
    expect(f.snap.kind).toBe("special");
  });

  it("or forwards it and an approver decides", () => {
    let f = open(ITEMS.special, COMPLETE);
    f = act(f, { action: "forward" }, "clerk", MON_1030);
    expect(f.snap.state).toBe("in_review");
    expect(errorOf(attempt(f, { action: "decide", decision: "grant" }, "clerk", MON_1100)).code).toBe("forbidden_role");
    f = act(f, { action: "decide", decision: "grant" }, "approver", MON_1100);
    expect(f.snap.state).toBe("decided");
    f = act(f, { action: "deliver" }, "clerk", MON_1400);
    expect(f.snap.state).toBe("delivered");
  });

  it("resume extends an hour limit by the suspended office time", () => {
    // Accepted Mon 10:00, 3 office hours → 14:30 Beijing. Suspended 10:30–14:00 Beijing:
    // 90 + 30 = 120 office minutes lost → 10:00–10:30, then 14:00–16:30 → 16:30 Beijing = 08:30Z.
    let f = open(ITEMS.special, COMPLETE);
    expect(f.snap.deadlineAt).toBe("2026-03-09T06:30:00.000Z");
    f = act(f, { action: "forward" }, "clerk", MON_1000);
    f = act(f, { action: "suspend", reason: "检验检测" }, "approver", MON_1030);
    f = act(f, { action: "resume" }, "approver", MON_1400);
    expect(f.snap.deadlineAt).toBe("2026-03-09T08:30:00.000Z");
    expect(f.snap.deadlineDate).toBe("2026-03-09");
  });
});

describe("退回件 (returned)", () => {
  it("refusing an online filing with a reason makes a returned case; nothing else is possible", () => {
    let f = open(ITEMS.promised, COMPLETE, { channel: "online" });
    f = act(f, { action: "refuse", reason: "  不属于本机关职权范围  " }, "clerk", TUE_1000);
    expect(f.snap.state).toBe("refused");
    expect(f.snap.kind).toBe("returned");
    expect(f.snap.refusedReason).toBe("不属于本机关职权范围");
    expect(f.snap.itemKind).toBe("promised");

    const commands: CaseCommand[] = [
      { action: "accept" },
      { action: "refuse", reason: "再次" },
      { action: "request-supplement", missing: ["m-id"] },
      { action: "supplement", materials: ["m-id"] },
      { action: "forward" },
      { action: "opinion", department: "ZJJ", opinion: "agree" },
      { action: "escalate", authority: "市政府" },
      { action: "suspend", reason: "听证" },
      { action: "resume" },
      { action: "decide", decision: "grant" },
      { action: "deliver" },
    ];
    expect(commands.map((c) => c.action).sort()).toEqual([...CASE_ACTIONS].sort());
    for (const cmd of commands) {
      for (const role of ALL_ROLES) {
        const e = errorOf(attempt(f, cmd, role, WED_1000));
        expect(e.code, `${cmd.action} by ${role}`).toBe("invalid_state");
        if (e.code === "invalid_state") {
          expect(e.state).toBe("refused");
          expect(e.kind).toBe("returned");
        }
      }
    }
  });

  it("a 补办件 at the window can be refused too", () => {
    let f = open(ITEMS.joint, ["m-photo"]);
    expect(f.snap.state).toBe("supplement");
    f = act(f, { action: "refuse", reason: "申请人放弃补正" }, "clerk", FRI_1000);
    expect(f.snap.state).toBe("refused");
    expect(f.snap.kind).toBe("returned");
    expect(f.snap.resumeState).toBeNull();
  });
});

describe("补办件 (supplement)", () => {
  it("online: request-supplement → partial supplement stays → the rest makes it accepted with a deadline", () => {
    let f = open(ITEMS.promised, ["m-photo"], { channel: "online" });
    f = act(f, { action: "request-supplement", missing: ["m-id", "m-form"], note: "请补齐" }, "clerk", MON_1100);
    expect(f.snap.state).toBe("supplement");
    expect(f.snap.kind).toBe("supplement");
    expect([...f.snap.missing].sort()).toEqual(["m-form", "m-id"]);
    expect(f.snap.resumeState).toBe("accepted");
    expect(f.snap.suspensions).toEqual([]);

    f = act(f, { action: "supplement", materials: ["m-id"] }, "applicant", WED_1000);
    expect(f.snap.state).toBe("supplement");
    expect(f.snap.kind).toBe("supplement");
    expect(f.snap.missing).toEqual(["m-form"]);
    expect(f.snap.materials).toContain("m-id");
    expect(f.snap.acceptedAt).toBeNull();

    f = act(f, { action: "supplement", materials: ["m-form"] }, "clerk", THU_1000);
    expect(f.snap.state).toBe("accepted");
    expect(f.snap.kind).toBe("promised");
    expect(f.snap.missing).toEqual([]);
    expect(f.snap.resumeState).toBeNull();
    expect(f.snap.acceptedAt).toBe(THU_1000);
    // 5 days from Thu 03-12: Fri 13, Mon 16, Tue 17, Wed 18, Thu 19.
    expect(f.snap.deadlineAt).toBe("2026-03-19T09:30:00.000Z");
    expect(f.snap.deadlineDate).toBe("2026-03-19");

    // And continues as a promised case.
    f = act(f, { action: "forward" }, "clerk", THU_1000);
    f = act(f, { action: "decide", decision: "grant" }, "approver", FRI_1000);
    expect(f.snap.state).toBe("decided");
  });

  it("window intake incomplete → supplement in one go → accepted as the item's kind", () => {
    let f = open(ITEMS.immediate, ["m-cert"]);
    expect(f.snap.state).toBe("supplement");
    f = act(f, { action: "supplement", materials: ["m-id", "m-form"] }, "clerk", TUE_1000);
    expect(f.snap.state).toBe("accepted");
    expect(f.snap.kind).toBe("immediate");
    expect(f.snap.deadlineAt).toBe("2026-03-10T09:30:00.000Z"); // immediate: close of that day
    f = act(f, { action: "decide", decision: "grant" }, "clerk", TUE_1000);
    expect(f.snap.state).toBe("decided");
  });

  it("review-phase supplement by the approver suspends the clock and returns to review with the deadline extended", () => {
    let f = open(ITEMS.promised, ["m-id", "m-form"]); // m-cert deferred (容缺)
    expect(f.snap.deadlineAt).toBe("2026-03-16T09:30:00.000Z");
    f = act(f, { action: "forward" }, "clerk", MON_1030);

    expect(errorOf(attempt(f, { action: "request-supplement", missing: ["m-cert"] }, "clerk", TUE_1000)).code).toBe("forbidden_role");
    f = act(f, { action: "request-supplement", missing: ["m-cert"] }, "approver", TUE_1000);
    expect(f.snap.state).toBe("supplement");
    expect(f.snap.kind).toBe("supplement");
    expect(f.snap.resumeState).toBe("in_review");
    expect(f.snap.missing).toEqual(["m-cert"]);
    expect(f.snap.suspensions).toEqual([{ from: TUE_1000, to: null, reason: "补正" }]);

    f = act(f, { action: "supplement", materials: ["m-cert"] }, "applicant", THU_1000);
    expect(f.snap.state).toBe("in_review");
    expect(f.snap.kind).toBe("promised");
    expect(f.snap.resumeState).toBeNull();
    expect(f.snap.suspensions).toEqual([{ from: TUE_1000, to: THU_1000, reason: "补正" }]);
    expect(f.snap.acceptedAt).toBe(MON_1000);
    // Tue 03-10 and Wed 03-11 excluded: Thu 12, Fri 13, Mon 16, Tue 17, Wed 18.
    expect(f.snap.deadlineAt).toBe("2026-03-18T09:30:00.000Z");
    expect(f.snap.deadlineDate).toBe("2026-03-18");

    f = act(f, { action: "decide", decision: "grant" }, "approver", FRI_1000);
    expect(f.snap.state).toBe("decided");
  });

  it("review-phase supplement keeps the review departments and opinions of a joint case", () => {
    let f = open(ITEMS.joint, COMPLETE);
    f = act(f, { action: "forward" }, "clerk", MON_1030);
    f = act(f, { action: "opinion", department: "ZJJ", opinion: "agree" }, "approver", MON_1100);
    f = act(f, { action: "request-supplement", missing: ["m-photo"] }, "approver", TUE_1000);
    f = act(f, { action: "supplement", materials: ["m-photo"] }, "applicant", WED_1000);
    expect(f.snap.state).toBe("in_review");
    expect(f.snap.kind).toBe("joint");
    expect(f.snap.reviewDepartments).toEqual(["ZJJ", "ZRZYJ", "SCJGJ"]);
    expect(f.snap.opinions.map((o) => o.department)).toEqual(["ZJJ"]);
    // 10 days from Mon 03-09 ended Mon 03-23; Tue 03-10 excluded → Tue 03-24.
    expect(f.snap.deadlineDate).toBe("2026-03-24");
  });

  it("refuses a one-time notice before acceptance that leaves out a missing material (一次性告知 must be complete)", () => {
    // Online filing with m-id and m-form both missing; the clerk's notice lists only m-id.
    const f = open(ITEMS.promised, ["m-cert"], { channel: "online" });
    expect(f.snap.state).toBe("submitted");
    expect([...f.snap.missing].sort()).toEqual(["m-form", "m-id"]);
    const before = structuredClone(f.snap);
    expect(errorOf(attempt(f, { action: "request-supplement", missing: ["m-id"] }, "clerk", MON_1100))).toEqual({
      code: "invalid_command",
      field: "missing",
      message: "一次性告知须列明全部缺少的材料，还缺：m-form",
    });
    expect(f.snap).toEqual(before);

    // Listing both (in any order) is the notice the rule asks for.
    const g = act(f, { action: "request-supplement", missing: ["m-form", "m-id"] }, "clerk", MON_1100);
    expect(g.snap).toMatchObject({ state: "supplement", kind: "supplement", missing: ["m-form", "m-id"], resumeState: "accepted" });
  });

  it("a review-phase supplement takes only what was asked for, and ends when the requested material is handed in", () => {
    // The approver asks for a (corrected) 申请表 although one was received at intake; an unrelated
    // photo is not a supplement (it was not asked for) and the case keeps waiting for the form.
    let f = act(open(ITEMS.promised, COMPLETE), { action: "forward" }, "clerk", MON_1030);
    f = act(f, { action: "request-supplement", missing: ["m-form"], note: "申请表填写有误，请重新提交" }, "approver", TUE_1000);
    expect(f.snap.missing).toEqual(["m-form"]);
    expect(errorOf(attempt(f, { action: "supplement", materials: ["m-photo"] }, "applicant", WED_1000))).toEqual({
      code: "invalid_command",
      field: "materials",
      message: "以下材料不在待补正清单中：m-photo",
    });
    expect(f.snap.state).toBe("supplement");
    f = act(f, { action: "supplement", materials: ["m-form"] }, "applicant", WED_1000);
    expect(f.snap.state).toBe("in_review");
    expect(f.snap.missing).toEqual([]);
  });

  it("delivers at the window, by post or electronically, and nothing else", () => {
    const f = act(open(ITEMS.immediate, ["m-id", "m-form"]), { action: "decide", decision: "grant" }, "clerk", MON_1030);
    expect(errorOf(attempt(f, { action: "deliver", method: "pigeon" }, "clerk", MON_1100))).toEqual({
      code: "invalid_command",
      field: "method",
      message: "送达方式应为 window、post、electronic 之一",
    });
  });

  it("validates supplement commands", () => {
    const f = open(ITEMS.promised, ["m-photo"]);
    const empty = errorOf(attempt(f, { action: "supplement", materials: [] }, "applicant", TUE_1000));
    expect(empty.code).toBe("invalid_command");
    if (empty.code === "invalid_command") expect(empty.field).toBe("materials");
    expect(errorOf(attempt(f, { action: "supplement", materials: ["m-zzz"] }, "applicant", TUE_1000))).toEqual({
      code: "unknown_materials",
      ids: ["m-zzz"],
    });
    expect(errorOf(attempt(f, { action: "supplement", materials: ["m-id"] }, "approver", TUE_1000)).code).toBe("forbidden_role");
  });
});

// ---- the transition table ---------------------------------------------------------------------

/**
 * The transition table as the rules describe it (README "Cases", the comments of
 * domain/lifecycle.ts), written out by hand so that a wrong edit of TRANSITIONS fails: one line
 * per action and kind, one column per state. A cell names the roles that may act (joined by +)
 * and where the case goes: a state, "=" (it stays where it is) or "↩" (back to where it waited
 * from: accepted, or in_review for a review-phase 补正). "·": no role may.
 *
 * The rules it spells out: the window (clerk) accepts, refuses and asks for the complete list of
 * missing materials before acceptance, delivers every decided item, and decides immediate and
 * special items itself; promised, joint and escalated items (and special ones it chooses to
 * forward) are forwarded and decided by departments (approver), who alone give joint opinions,
 * escalate 报批件 (decided only after escalation), suspend and resume the clock and ask for
 * supplements during review. The applicant or the clerk hands in supplements of a 补办件.
 * A 退回件 is final. Supervisors and administrators take no case action.
 * Some cells cannot occur (an item kind is never in state supplement: the case is a 补办件 then);
 * they are listed as the rules extend to them.
 */
const EXPECTED_TABLE_TEXT = `
                                submitted           supplement          accepted            in_review           escalated           decided             refused             delivered
accept              immediate   clerk→accepted      ·                   ·                   ·                   ·                   ·                   ·                   ·
accept              promised    clerk→accepted      ·                   ·                   ·                   ·                   ·                   ·                   ·
accept              joint       clerk→accepted      ·                   ·                   ·                   ·                   ·                   ·                   ·
accept              escalated   clerk→accepted      ·                   ·                   ·                   ·                   ·                   ·                   ·
accept              special     clerk→accepted      ·                   ·                   ·                   ·                   ·                   ·                   ·
accept              supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
accept              returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

refuse              immediate   clerk→refused       clerk→refused       ·                   ·                   ·                   ·                   ·                   ·
refuse              promised    clerk→refused       clerk→refused       ·                   ·                   ·                   ·                   ·                   ·
refuse              joint       clerk→refused       clerk→refused       ·                   ·                   ·                   ·                   ·                   ·
refuse              escalated   clerk→refused       clerk→refused       ·                   ·                   ·                   ·                   ·                   ·
refuse              special     clerk→refused       clerk→refused       ·                   ·                   ·                   ·                   ·                   ·
refuse              supplement  clerk→refused       clerk→refused       ·                   ·                   ·                   ·                   ·                   ·
refuse              returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

request-supplement  immediate   clerk→supplement    ·                   ·                   ·                   ·                   ·                   ·                   ·
request-supplement  promised    clerk→supplement    ·                   ·                   approver→supplement ·                   ·                   ·                   ·
request-supplement  joint       clerk→supplement    ·                   ·                   approver→supplement ·                   ·                   ·                   ·
request-supplement  escalated   clerk→supplement    ·                   ·                   approver→supplement ·                   ·                   ·                   ·
request-supplement  special     clerk→supplement    ·                   ·                   approver→supplement ·                   ·                   ·                   ·
request-supplement  supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
request-supplement  returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

supplement          immediate   ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
supplement          promised    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
supplement          joint       ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
supplement          escalated   ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
supplement          special     ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
supplement          supplement  ·                   clerk+applicant→↩   ·                   ·                   ·                   ·                   ·                   ·
supplement          returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

forward             immediate   ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
forward             promised    ·                   ·                   clerk→in_review     ·                   ·                   ·                   ·                   ·
forward             joint       ·                   ·                   clerk→in_review     ·                   ·                   ·                   ·                   ·
forward             escalated   ·                   ·                   clerk→in_review     ·                   ·                   ·                   ·                   ·
forward             special     ·                   ·                   clerk→in_review     ·                   ·                   ·                   ·                   ·
forward             supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
forward             returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

opinion             immediate   ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
opinion             promised    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
opinion             joint       ·                   ·                   ·                   approver→=          ·                   ·                   ·                   ·
opinion             escalated   ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
opinion             special     ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
opinion             supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
opinion             returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

escalate            immediate   ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
escalate            promised    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
escalate            joint       ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
escalate            escalated   ·                   ·                   ·                   approver→escalated  ·                   ·                   ·                   ·
escalate            special     ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
escalate            supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
escalate            returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

suspend             immediate   ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
suspend             promised    ·                   ·                   ·                   approver→=          approver→=          ·                   ·                   ·
suspend             joint       ·                   ·                   ·                   approver→=          approver→=          ·                   ·                   ·
suspend             escalated   ·                   ·                   ·                   approver→=          approver→=          ·                   ·                   ·
suspend             special     ·                   ·                   ·                   approver→=          approver→=          ·                   ·                   ·
suspend             supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
suspend             returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

resume              immediate   ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
resume              promised    ·                   ·                   ·                   approver→=          approver→=          ·                   ·                   ·
resume              joint       ·                   ·                   ·                   approver→=          approver→=          ·                   ·                   ·
resume              escalated   ·                   ·                   ·                   approver→=          approver→=          ·                   ·                   ·
resume              special     ·                   ·                   ·                   approver→=          approver→=          ·                   ·                   ·
resume              supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
resume              returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

decide              immediate   ·                   ·                   clerk→decided       ·                   ·                   ·                   ·                   ·
decide              promised    ·                   ·                   ·                   approver→decided    ·                   ·                   ·                   ·
decide              joint       ·                   ·                   ·                   approver→decided    ·                   ·                   ·                   ·
decide              escalated   ·                   ·                   ·                   ·                   approver→decided    ·                   ·                   ·
decide              special     ·                   ·                   clerk→decided       approver→decided    ·                   ·                   ·                   ·
decide              supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
decide              returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·

deliver             immediate   ·                   ·                   ·                   ·                   ·                   clerk→delivered     ·                   ·
deliver             promised    ·                   ·                   ·                   ·                   ·                   clerk→delivered     ·                   ·
deliver             joint       ·                   ·                   ·                   ·                   ·                   clerk→delivered     ·                   ·
deliver             escalated   ·                   ·                   ·                   ·                   ·                   clerk→delivered     ·                   ·
deliver             special     ·                   ·                   ·                   ·                   ·                   clerk→delivered     ·                   ·
deliver             supplement  ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
deliver             returned    ·                   ·                   ·                   ·                   ·                   ·                   ·                   ·
`;

type ExpectedCell = { roles: Role[]; to: string } | null;

/** The table above, keyed by "action kind", each row one cell per state. */
const EXPECTED_TABLE: ReadonlyMap<string, Record<string, ExpectedCell>> = (() => {
  const [header, ...rows] = EXPECTED_TABLE_TEXT.split("\n").filter((l) => l.trim() !== "");
  const states = header!.trim().split(/\s+/);
  const out = new Map<string, Record<string, ExpectedCell>>();
  for (const line of rows) {
    const [action, kind, ...cells] = line.trim().split(/\s+/);
    if (cells.length !== states.length) throw new Error(`expected table: ${states.length} cells wanted in "${line}"`);
    const key = `${action} ${kind}`;
    if (out.has(key)) throw new Error(`expected table: ${key} twice`);
    const row: Record<string, ExpectedCell> = {};
    states.forEach((state, i) => {
      const cell = cells[i]!;
      if (cell === "·") row[state] = null;
      else {
        const [roles, to] = cell.split("→") as [string, string];
        row[state] = { roles: roles.split("+") as Role[], to };
      }
    });
    out.set(key, row);
  }
  return out;
})();

function expectedRow(action: CaseAction, kind: CaseKind): Record<string, ExpectedCell> {
  const row = EXPECTED_TABLE.get(`${action} ${kind}`);
  if (!row) throw new Error(`expected table has no row for ${action} ${kind}`);
  return row;
}

/** How the table above writes the two targets that are not a state. */
const TARGET_MARK: Readonly<Record<string, string>> = { same: "=", "resume-state": "↩" };


describe("transition table", () => {
  it("covers the seven kinds, eight states and eleven actions", () => {
    expect(Object.keys(CASE_KIND_LABELS).sort()).toEqual([...ALL_KINDS].sort());
    expect(CASE_STATES).toHaveLength(8);
    expect(CASE_ACTIONS).toHaveLength(11);
    for (const r of TRANSITIONS) {
      expect(CASE_ACTIONS).toContain(r.action);
      for (const s of r.from) expect(CASE_STATES).toContain(s);
      for (const k of r.kinds) expect(ALL_KINDS).toContain(k);
      for (const role of r.roles) expect(ALL_ROLES).toContain(role);
    }
  });

  it("allows exactly the cells of the expected table, with its target, for every state × kind × action × role", () => {
    let checked = 0;
    for (const action of CASE_ACTIONS) {
      for (const kind of ALL_KINDS) {
        const row = expectedRow(action, kind);
        const allowedIn = CASE_STATES.filter((s) => row[s] !== null);
        for (const state of CASE_STATES) {
          const cell = row[state];
          for (const role of ALL_ROLES) {
            const where = `${action}/${kind}/${state}/${role}`;
            const r = findRule({ state, kind }, action, role);
            if (cell && cell.roles.includes(role)) {
              expect(r.ok, where).toBe(true);
              if (r.ok) expect(TARGET_MARK[r.value.to] ?? r.value.to, where).toBe(cell.to);
            } else if (cell) {
              // The state is right for the action, the role is not: name who may.
              expect(r.ok, where).toBe(false);
              if (!r.ok) {
                expect(r.error.code, where).toBe("forbidden_role");
                if (r.error.code === "forbidden_role") {
                  expect({ ...r.error, allowedRoles: [...r.error.allowedRoles].sort() }, where).toEqual({ code: "forbidden_role", role, action, allowedRoles: [...cell.roles].sort() });
                }
              }
            } else {
              // No role may do it in this state: name the states where it could be done.
              expect(r.ok, where).toBe(false);
              if (!r.ok) {
                expect(r.error.code, where).toBe("invalid_state");
                if (r.error.code === "invalid_state") {
                  expect({ ...r.error, allowedIn: [...r.error.allowedIn].sort() }, where).toEqual({ code: "invalid_state", state, kind, action, allowedIn: [...allowedIn].sort() });
                }
              }
            }
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(8 * 7 * 11 * 5);
  });

  it("availableActions lists exactly the actions the expected table gives a role in a state", () => {
    for (const state of CASE_STATES) {
      for (const kind of ALL_KINDS) {
        for (const role of ALL_ROLES) {
          const expected = CASE_ACTIONS.filter((a) => expectedRow(a, kind)[state]?.roles.includes(role));
          expect([...availableActions({ state, kind }, role)].sort(), `${state}/${kind}/${role}`).toEqual([...expected].sort());
        }
      }
    }
  });

  it("the expected table itself has one row for every action × kind and one column for every state", () => {
    expect(EXPECTED_TABLE.size).toBe(11 * 7);
    for (const action of CASE_ACTIONS) {
      for (const kind of ALL_KINDS) expect(Object.keys(expectedRow(action, kind)), `${action} ${kind}`).toEqual([...CASE_STATES]);
    }
  });

  it("spot-checks the rules the design requires (independently of the table)", () => {
    const okCells: [CaseKind, string, CaseAction, Role][] = [
      ["immediate", "accepted", "decide", "clerk"],
      ["special", "accepted", "decide", "clerk"],
      ["special", "in_review", "decide", "approver"],
      ["promised", "in_review", "decide", "approver"],
      ["joint", "in_review", "decide", "approver"],
      ["escalated", "escalated", "decide", "approver"],
      ["promised", "accepted", "forward", "clerk"],
      ["joint", "in_review", "opinion", "approver"],
      ["escalated", "in_review", "escalate", "approver"],
      ["promised", "submitted", "accept", "clerk"],
      ["promised", "submitted", "refuse", "clerk"],
      ["supplement", "supplement", "refuse", "clerk"],
      ["promised", "submitted", "request-supplement", "clerk"],
      ["promised", "in_review", "request-supplement", "approver"],
      ["supplement", "supplement", "supplement", "applicant"],
      ["supplement", "supplement", "supplement", "clerk"],
      ["promised", "in_review", "suspend", "approver"],
      ["escalated", "escalated", "resume", "approver"],
      ["immediate", "decided", "deliver", "clerk"],
      ["joint", "decided", "deliver", "clerk"],
    ];
    for (const [kind, state, action, role] of okCells) {
      expect(findRule({ state: state as CaseSnapshot["state"], kind }, action, role).ok, `${kind}/${state}/${action}/${role}`).toBe(true);
    }
    const badCells: [CaseKind, string, CaseAction, Role, DomainError["code"]][] = [
      ["promised", "in_review", "decide", "clerk", "forbidden_role"],
      ["promised", "decided", "deliver", "approver", "forbidden_role"],
      ["promised", "accepted", "decide", "clerk", "invalid_state"],
      ["escalated", "in_review", "decide", "approver", "invalid_state"],
      ["immediate", "accepted", "forward", "clerk", "invalid_state"],
      ["immediate", "accepted", "suspend", "approver", "invalid_state"],
      ["promised", "in_review", "opinion", "approver", "invalid_state"],
      ["promised", "submitted", "accept", "applicant", "forbidden_role"],
      ["promised", "in_review", "suspend", "supervisor", "forbidden_role"],
      ["promised", "delivered", "deliver", "clerk", "invalid_state"],
      ["returned", "refused", "accept", "clerk", "invalid_state"],
      ["promised", "accepted", "request-supplement", "clerk", "invalid_state"],
    ];
    for (const [kind, state, action, role, code] of badCells) {
      const r = findRule({ state: state as CaseSnapshot["state"], kind }, action, role);
      expect(r.ok ? "ok" : r.error.code, `${kind}/${state}/${action}/${role}`).toBe(code);
    }
  });

  it("names the current state in invalid_state errors from decide", () => {
    const f = open(ITEMS.promised, COMPLETE);
    const e = errorOf(attempt(f, { action: "request-supplement", missing: ["m-id"] }, "clerk", MON_1030));
    expect(e).toMatchObject({ code: "invalid_state", state: "accepted", kind: "promised", action: "request-supplement" });
    if (e.code === "invalid_state") expect([...e.allowedIn].sort()).toEqual(["in_review", "submitted"]);
  });
});

// ---- roles and validation ---------------------------------------------------------------------

describe("role checks", () => {
  it("a clerk cannot decide a promised case in review", () => {
    const f = act(open(ITEMS.promised, COMPLETE), { action: "forward" }, "clerk", MON_1030);
    const e = errorOf(attempt(f, { action: "decide", decision: "grant" }, "clerk", MON_1100));
    expect(e).toEqual({ code: "forbidden_role", role: "clerk", action: "decide", allowedRoles: ["approver"] });
  });

  it("an approver cannot deliver", () => {
    let f = act(open(ITEMS.promised, COMPLETE), { action: "forward" }, "clerk", MON_1030);
    f = act(f, { action: "decide", decision: "grant" }, "approver", MON_1100);
    const e = errorOf(attempt(f, { action: "deliver" }, "approver", MON_1400));
    expect(e).toEqual({ code: "forbidden_role", role: "approver", action: "deliver", allowedRoles: ["clerk"] });
  });

  it("supervisors, admins and applicants cannot forward", () => {
    const f = open(ITEMS.promised, COMPLETE);
    for (const role of ["supervisor", "admin", "applicant", "approver"] as const) {
      expect(errorOf(attempt(f, { action: "forward" }, role, MON_1030)).code, role).toBe("forbidden_role");
    }
  });
});

describe("command validation", () => {
  it("refuse needs a non-blank reason", () => {
    const f = open(ITEMS.promised, COMPLETE, { channel: "online" });
    for (const reason of ["", "   ", "\n\t"]) {
      const e = errorOf(attempt(f, { action: "refuse", reason }, "clerk", MON_1030));
      expect(e.code).toBe("invalid_command");
      if (e.code === "invalid_command") expect(e.field).toBe("reason");
    }
  });

  it("deny needs a reason; grant does not", () => {
    const f = open(ITEMS.immediate, COMPLETE);
    for (const reason of [undefined, "", "  "]) {
      const cmd: CaseCommand = reason === undefined ? { action: "decide", decision: "deny" } : { action: "decide", decision: "deny", reason };
      const e = errorOf(attempt(f, cmd, "clerk", MON_1030));
      expect(e.code).toBe("invalid_command");
      if (e.code === "invalid_command") expect(e.field).toBe("reason");
    }
    expect(attempt(f, { action: "decide", decision: "grant" }, "clerk", MON_1030).ok).toBe(true);
  });

  it("request-supplement needs a non-empty list of known materials", () => {
    const f = open(ITEMS.promised, ["m-photo"], { channel: "online" });
    const e = errorOf(attempt(f, { action: "request-supplement", missing: [] }, "clerk", MON_1030));
    expect(e.code).toBe("invalid_command");
    if (e.code === "invalid_command") expect(e.field).toBe("missing");
    expect(errorOf(attempt(f, { action: "request-supplement", missing: ["m-id", "nope"] }, "clerk", MON_1030))).toEqual({
      code: "unknown_materials",
      ids: ["nope"],
    });
  });

  it("suspend needs a reason", () => {
    const f = act(open(ITEMS.promised, COMPLETE), { action: "forward" }, "clerk", MON_1030);
    const e = errorOf(attempt(f, { action: "suspend", reason: " " }, "approver", TUE_1000));
    expect(e.code).toBe("invalid_command");
    if (e.code === "invalid_command") expect(e.field).toBe("reason");
  });
});

// ---- suspension -------------------------------------------------------------------------------

describe("suspend and resume (暂停计时)", () => {
  function inReview(): Flow {
    return act(open(ITEMS.promised, COMPLETE), { action: "forward" }, "clerk", MON_1030);
  }

  it("resume extends the deadline by the suspended working days", () => {
    let f = inReview();
    expect(f.snap.deadlineAt).toBe("2026-03-16T09:30:00.000Z");
    f = act(f, { action: "suspend", reason: " 专家评审 " }, "approver", TUE_1000);
    expect(f.snap.suspensions).toEqual([{ from: TUE_1000, to: null, reason: "专家评审" }]);
    expect(f.snap.state).toBe("in_review");
    f = act(f, { action: "resume" }, "approver", THU_1000);
    expect(f.snap.suspensions).toEqual([{ from: TUE_1000, to: THU_1000, reason: "专家评审" }]);
    // Tue 03-10, Wed 03-11 excluded → Wed 03-18.
    expect(f.snap.deadlineAt).toBe("2026-03-18T09:30:00.000Z");
    expect(f.snap.deadlineDate).toBe("2026-03-18");
    f = act(f, { action: "decide", decision: "grant" }, "approver", FRI_1000);
    expect(f.snap.state).toBe("decided");
  });

  it("a second suspension adds to the first", () => {
    let f = inReview();
    f = act(f, { action: "suspend", reason: "听证" }, "approver", TUE_1000);
    f = act(f, { action: "resume" }, "approver", WED_1000); // Tue excluded → 03-17
    expect(f.snap.deadlineDate).toBe("2026-03-17");
    f = act(f, { action: "suspend", reason: "检验检测鉴定" }, "approver", THU_1000);
    f = act(f, { action: "resume" }, "approver", FRI_1000); // Thu excluded too → 03-18
    expect(f.snap.deadlineDate).toBe("2026-03-18");
    expect(f.snap.suspensions).toHaveLength(2);
  });

  it("rejects suspending twice, deciding while suspended and resuming when not suspended", () => {
    let f = inReview();
    const notSuspended = errorOf(attempt(f, { action: "resume" }, "approver", TUE_1000));
    expect(notSuspended.code).toBe("invalid_command");
    f = act(f, { action: "suspend", reason: "专家评审" }, "approver", TUE_1000);
    expect(errorOf(attempt(f, { action: "suspend", reason: "听证" }, "approver", WED_1000)).code).toBe("invalid_command");
    const whileSuspended = errorOf(attempt(f, { action: "decide", decision: "grant" }, "approver", WED_1000));
    expect(whileSuspended.code).toBe("invalid_command");
    if (whileSuspended.code === "invalid_command") expect(whileSuspended.field).toBe("action");
    expect(errorOf(attempt(f, { action: "resume" }, "clerk", WED_1000)).code).toBe("forbidden_role");
  });

  it("cannot suspend an accepted case that has not been forwarded", () => {
    const f = open(ITEMS.promised, COMPLETE);
    expect(errorOf(attempt(f, { action: "suspend", reason: "听证" }, "approver", TUE_1000)).code).toBe("invalid_state");
  });
});

// ---- replay -----------------------------------------------------------------------------------

describe("applyEvent is deterministic", () => {
  function fullJointFlow(): Flow {
    let f = open(ITEMS.joint, ["m-photo"], { channel: "online" });
    f = act(f, { action: "request-supplement", missing: ["m-id", "m-form"] }, "clerk", MON_1030);
    f = act(f, { action: "supplement", materials: ["m-id", "m-form"] }, "applicant", MON_1100);
    f = act(f, { action: "forward" }, "clerk", MON_1400);
    f = act(f, { action: "opinion", department: "ZJJ", opinion: "agree" }, "approver", MON_1500);
    f = act(f, { action: "suspend", reason: "专家评审" }, "approver", TUE_1000);
    f = act(f, { action: "resume" }, "approver", WED_1000);
    f = act(f, { action: "request-supplement", missing: ["m-photo"] }, "approver", THU_1000);
    f = act(f, { action: "supplement", materials: ["m-photo"] }, "applicant", FRI_1000);
    f = act(f, { action: "opinion", department: "ZRZYJ", opinion: "agree" }, "approver", FRI_1000);
    f = act(f, { action: "opinion", department: "SCJGJ", opinion: "disagree", comment: "需补充说明" }, "approver", FRI_1000);
    f = act(f, { action: "decide", decision: "deny", reason: "会签部门不同意" }, "approver", FRI_1000);
    f = act(f, { action: "deliver" }, "clerk", FRI_1000);
    return f;
  }

  it("replaying the same events twice from null yields deep-equal snapshots", () => {
    const f = fullJointFlow();
    expect(f.events).toHaveLength(13);
    const a = replay(f.events);
    const b = replay(f.events);
    expect(a).toEqual(b);
    expect(a).toEqual(f.snap);
    expect(a.state).toBe("delivered");
    expect(a.decision).toBe("deny");
    expect(a.decisionReason).toBe("会签部门不同意");
    // Accepted Mon 11:00 after supplement; 10 days → Mon 03-23; Tue 03-10 (suspend) and Thu 03-12
    // (review supplement) excluded → Wed 03-25.
    expect(a.deadlineDate).toBe("2026-03-25");
  });

  it("replays events that went through a JSON round trip (as stored) to the same snapshot", () => {
    const f = fullJointFlow();
    const stored = JSON.parse(JSON.stringify(f.events)) as CaseEventDraft[];
    expect(replay(stored)).toEqual(replay(f.events));
  });

  it("ignores unknown event types except for updatedAt", () => {
    const f = open(ITEMS.promised, COMPLETE);
    const next = applyEvent(f.snap, { caseNo: f.snap.caseNo, type: "from-the-future", payload: { at: TUE_1000 } });
    expect(next).toEqual({ ...f.snap, updatedAt: TUE_1000 });
  });

  it("rejects a non-opening event for an unknown case", () => {
    expect(() => applyEvent(null, { caseNo: "X", type: "forwarded", payload: { at: MON_1000, departments: [] } })).toThrow();
  });
});
