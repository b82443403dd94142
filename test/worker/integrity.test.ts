/**
 * The city believes nothing a node says that it can check: every pushed event is re-made under the
 * city's own catalog, calendar and transition table, and one that does not come out exactly as sent
 * is kept and flagged, never applied — and never signed. Each forged event below is one a node
 * running modified code could sign; an honest node cannot make any of them.
 */
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { formatCaseNo } from "../../domain/case-number.js";
import { applyEvent, type CaseSnapshot } from "../../domain/lifecycle.js";
import type { PushResponse } from "../../domain/sync-protocol.js";
import { addDays, localDate } from "../../domain/time.js";
import { seedItems } from "../../schema/seed/catalog.js";
import { cases } from "../../schema/tables.js";
import {
  call,
  Chain,
  CHAIN_EPOCH,
  completeMaterials,
  countRows,
  enrolNode,
  eventCount,
  json,
  problem,
  problemType,
  promisedItem,
  pushEvents,
  staffJson,
  type TestNode,
} from "./helpers.js";

/** An item the catalog places at the city centre only. */
const cityOnly = seedItems.find((i) => !i.places.includes("township"))!;

/** 户口迁移: a promised item, decided by the public security department after review. */
const hukouMove = seedItems.find((i) => i.name.startsWith("户口迁移"))!;

async function pushOne(node: TestNode, chain: Chain) {
  const res = await pushEvents(node, chain.events);
  expect(res.status).toBe(200);
  return json<PushResponse>(res);
}

const caseExists = (caseNo: string) => countRows("select count(*) as n from cases where case_no = ?", caseNo);

describe("the review's finding: a window cannot skip department review", () => {
  it("an opened event calling a promised item immediate, then a window grant: both flagged, nothing applied, nothing signed", async () => {
    expect(hukouMove.kind).toBe("promised");
    const node = await enrolNode();
    const chain = new Chain(node.code);
    // The hostile node opens the case as if the item were immediate, then grants it at the window.
    const { at, ...opened } = chain.openDraft({ item: { ...hukouMove, kind: "immediate" } });
    await chain.forge(opened, { at });
    const decided = await chain.act(opened.caseNo, { action: "decide", decision: "grant" });
    expect(opened.payload).toMatchObject({ itemKind: "immediate", kind: "immediate", state: "accepted" });

    const body = await pushOne(node, chain);
    expect(body).toMatchObject({ ackedSeq: 2, stored: 2, duplicates: 0, divergence: null });
    expect(body.conflicts).toEqual([
      { origin: node.code, seq: 1, caseNo: opened.caseNo, reason: '字段 itemKind：节点为 "immediate"，按市级目录与规则应为 "promised"' },
      { origin: node.code, seq: 2, caseNo: opened.caseNo, reason: `办件 ${opened.caseNo} 不存在` },
    ]);
    expect(decided.seq).toBe(2);
    // Both events are in the log (chains stay whole), neither is the case.
    expect(await eventCount(node.code)).toBe(2);
    expect(await caseExists(opened.caseNo)).toBe(0);
    expect(await countRows("select count(*) as n from approvals where case_no = ?", opened.caseNo)).toBe(0);
    // The applicant's download finds no case: the same answer as for a wrong query code.
    const res = await call(`/api/cases/${opened.caseNo}/result?queryCode=${String(opened.payload.queryCode)}`, { headers: { accept: "application/json" } });
    expect(await problem(res, 403)).toMatchObject({ code: "forbidden", field: "queryCode" });
  });

  it("the city refuses to sign a case whose stored history its rules do not accept (a case stored before the re-check existed)", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { at, ...opened } = chain.openDraft({ item: { ...hukouMove, kind: "immediate" } });
    await chain.forge(opened, { at });
    await chain.act(opened.caseNo, { action: "decide", decision: "grant" });
    // What an older city stored without checking: the events and the case they project to.
    let snap: CaseSnapshot | null = null;
    for (const e of chain.events) {
      await env.DB.prepare(
        "insert into case_events (origin, seq, case_no, type, payload, actor, occurred_at, prev_hash, hash, received_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
        .bind(e.origin, e.seq, e.caseNo, e.type, JSON.stringify(e.payload), e.actor, e.occurredAt, e.prevHash, e.hash, new Date().toISOString())
        .run();
      snap = applyEvent(snap, e as never);
    }
    await drizzle(env.DB).insert(cases).values({ ...snap!, version: 2 });
    expect(snap).toMatchObject({ state: "decided", decision: "grant", itemKind: "immediate" });

    const res = await call(`/api/cases/${opened.caseNo}/result?queryCode=${snap!.queryCode}`, { headers: { accept: "application/json" } });
    expect(await problem(res, 409)).toEqual({
      type: problemType("unverified_history"),
      title: "办理记录未通过核验",
      status: 409,
      detail: "本件的办理记录未通过市级核验（办件按“immediate”开件，市级目录中该事项为“promised”），不能签发电子文书，请联系受理窗口",
      code: "unverified_history",
      instance: `/api/cases/${opened.caseNo}/result`,
      caseNo: opened.caseNo,
    });
    expect(await countRows("select count(*) as n from approvals where case_no = ?", opened.caseNo)).toBe(0);
  });
});

/** An honest `opened` draft of a promised item with all materials, for one field to be altered. */
function honest(chain: Chain) {
  return chain.openDraft({ item: promisedItem });
}

type Alter = (d: ReturnType<typeof honest>, chain: Chain) => { caseNo?: string; payload: Record<string, unknown> };

const OPENED_FORGERIES: [string, Alter, string | RegExp][] = [
  ["the case kind", (d) => ({ payload: { ...d.payload, kind: "immediate" } }), '字段 kind：节点为 "immediate"，按市级目录与规则应为 "promised"'],
  ["the state (decided at intake)", (d) => ({ payload: { ...d.payload, state: "decided" } }), '字段 state：节点为 "decided"，按市级目录与规则应为 "accepted"'],
  ["the item's name", (d) => ({ payload: { ...d.payload, itemName: "伪造的事项名称" } }), `字段 itemName：节点为 "伪造的事项名称"，按市级目录与规则应为 "${promisedItem.name}"`],
  ["the department", (d) => ({ payload: { ...d.payload, departmentCode: "XXJ" } }), `字段 departmentCode：节点为 "XXJ"，按市级目录与规则应为 "${promisedItem.departmentCode}"`],
  [
    "the promised limit",
    (d) => ({ payload: { ...d.payload, limit: { unit: "day", value: 60 } } }),
    `字段 limit.value：节点为 60，按市级目录与规则应为 ${promisedItem.promisedLimit.value}`,
  ],
  [
    "the deadline (a week later)",
    (d) => ({ payload: { ...d.payload, deadlineAt: new Date(Date.parse(String(d.payload.deadlineAt)) + 7 * 86_400_000).toISOString() } }),
    /^字段 deadlineAt：节点为 "2026-10-\d\dT09:30:00\.000Z"，按市级目录与规则应为 "2026-10-\d\dT09:30:00\.000Z"$/,
  ],
  [
    "the missing list (a required material not handed in, accepted anyway)",
    (d) => ({ payload: { ...d.payload, materials: (d.payload.materials as string[]).slice(1) } }),
    '字段 kind：节点为 "promised"，按市级目录与规则应为 "supplement"',
  ],
  ["the channel (an online filing made up at a window)", (d) => ({ payload: { ...d.payload, channel: "online" } }), "乡镇节点只能窗口收件（channel 应为 window）"],
  ["the query code (a letter the receipt alphabet never issues)", (d) => ({ payload: { ...d.payload, queryCode: "ABCDEFGI" } }), "queryCode：查询码应为回执字母表中的8位字符"],
  [
    "the applicant's ID number",
    (d) => ({ payload: { ...d.payload, applicant: { ...(d.payload.applicant as object), idNumber: "110105194912310021" } } }),
    "applicant.idNumber：公民身份号码不正确（校验位不符或出生日期无效）",
  ],
  [
    "an extra member in the applicant",
    (d) => ({ payload: { ...d.payload, applicant: { ...(d.payload.applicant as object), vip: true } } }),
    "字段 applicant.vip：节点为 true，按市级目录与规则应为 （无）",
  ],
  [
    "the time in the payload (not the event's)",
    (d) => ({ payload: { ...d.payload, at: new Date(Date.parse(String(d.payload.at)) - 60_000).toISOString() } }),
    /^字段 at：节点为 "2026-09-29T00:59:00\.000Z"，按市级目录与规则应为 "2026-09-29T01:00:00\.000Z"$/,
  ],
  [
    "the case number's day (two days before intake)",
    (d, chain) => ({ caseNo: formatCaseNo(chain.origin, new Date(d.at.getTime() - 2 * 86_400_000), 1), payload: d.payload }),
    `caseNo：办件编号 ${"CODE"}-20260927-0001 应以 ${"CODE"}-20260929- 开头（受理节点与受理日期）`,
  ],
  [
    "an item handled only at the city centre, taken at a township window",
    (d) => ({ payload: { ...d.payload, itemCode: cityOnly.code } }),
    `itemCode：事项“${"CITYONLY"}”不在乡镇（街道）便民服务中心办理`,
  ],
  [
    "an item the city's catalog does not have",
    (d) => ({ payload: { ...d.payload, itemCode: "11350500003621153B3070032199999" } }),
    "事项 11350500003621153B3070032199999 不在市级事项目录中",
  ],
];

describe("every field of an opened event is re-made from the city's catalog and calendar", () => {
  it.each(OPENED_FORGERIES)("a forged %s is flagged with its reason, not applied", async (_what, alter, reason) => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const d = honest(chain);
    const altered = alter(d, chain);
    const caseNo = altered.caseNo ?? d.caseNo;
    const forged = await chain.forge({ caseNo, type: "opened", payload: altered.payload }, { at: d.at });
    const body = await pushOne(node, chain);
    expect(body).toMatchObject({ ackedSeq: 1, stored: 1 });
    expect(body.conflicts).toHaveLength(1);
    expect(body.conflicts[0]).toMatchObject({ origin: node.code, seq: forged.seq, caseNo });
    const expected = typeof reason === "string" ? reason.replaceAll("CITYONLY", cityOnly.name).replaceAll("CODE", node.code) : reason;
    if (typeof expected === "string") expect(body.conflicts[0]!.reason).toBe(expected);
    else expect(body.conflicts[0]!.reason).toMatch(expected);
    expect(await caseExists(caseNo)).toBe(0);
  });

  it("the honest draft itself is accepted (the table above alters one field each)", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const d = honest(chain);
    await chain.forge({ caseNo: d.caseNo, type: "opened", payload: d.payload }, { at: d.at });
    const body = await pushOne(node, chain);
    expect(body).toMatchObject({ ackedSeq: 1, stored: 1, conflicts: [] });
    expect(await caseExists(d.caseNo)).toBe(1);
  });
});

describe("every later event is the command the city itself would have run", () => {
  /** A node whose case (incomplete: the application form is missing) the city already holds. */
  async function waitingCase() {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const form = promisedItem.materials.find((m) => m.required && !m.deferrable)!.id;
    const opened = await chain.open({ materials: completeMaterials().filter((id) => id !== form) });
    expect(chain.cases.get(opened.caseNo)).toMatchObject({ state: "supplement", missing: [form] });
    expect((await pushOne(node, chain)).conflicts).toEqual([]);
    return { node, chain, caseNo: opened.caseNo, form };
  }

  /** A node whose accepted case the city already holds. */
  async function acceptedCase() {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const opened = await chain.open();
    expect((await pushOne(node, chain)).conflicts).toEqual([]);
    return { node, chain, caseNo: opened.caseNo };
  }

  async function flagged(node: TestNode, chain: Chain, seq: number) {
    const body = await pushOne(node, chain);
    expect(body).toMatchObject({ ackedSeq: seq, stored: 1 });
    expect(body.conflicts.map((c) => c.seq)).toEqual([seq]);
    return body.conflicts[0]!.reason;
  }

  it("a supplement whose deadline was pushed a week later", async () => {
    const { node, chain, caseNo, form } = await waitingCase();
    const real = await chain.act(caseNo, { action: "supplement", materials: [form] });
    chain.events.pop();
    const p = real.payload as Record<string, unknown>;
    const later = new Date(Date.parse(String(p.deadlineAt)) + 7 * 86_400_000).toISOString();
    await chain.forge({ caseNo, type: "supplemented", payload: { ...p, deadlineAt: later } }, { at: new Date(real.occurredAt) });
    expect(await flagged(node, chain, 2)).toBe(`字段 deadlineAt：节点为 "${later}"，按市级目录与规则应为 "${String(p.deadlineAt)}"`);
    expect(await env.DB.prepare("select state from cases where case_no = ?").bind(caseNo).first()).toEqual({ state: "supplement" });
  });

  it("a supplement that slips in a material nobody asked for", async () => {
    const { node, chain, caseNo, form } = await waitingCase();
    const real = await chain.act(caseNo, { action: "supplement", materials: [form] });
    chain.events.pop();
    const p = real.payload as Record<string, unknown>;
    const optional = promisedItem.materials.find((m) => !m.required)!.id;
    const withExtra = [...(p.materials as string[]), optional];
    await chain.forge({ caseNo, type: "supplemented", payload: { ...p, materials: withExtra } }, { at: new Date(real.occurredAt) });
    expect(await flagged(node, chain, 2)).toBe(`字段 materials：节点为 ${JSON.stringify(withExtra)}，按市级目录与规则应为 ${JSON.stringify(p.materials)}`);
  });

  it("a refusal whose reason is not the text a person wrote (untrimmed)", async () => {
    const { node, chain, caseNo } = await waitingCase();
    await chain.forge({ caseNo, type: "refused", payload: { reason: " 材料不符 ", at: new Date(CHAIN_EPOCH + 60_000).toISOString(), role: "clerk" } }, { at: new Date(CHAIN_EPOCH + 60_000) });
    expect(await flagged(node, chain, 2)).toBe('字段 reason：节点为 " 材料不符 "，按市级目录与规则应为 "材料不符"');
  });

  it("a window grant of a promised case (review skipped)", async () => {
    const { node, chain, caseNo } = await acceptedCase();
    const at = new Date(CHAIN_EPOCH + 60_000).toISOString();
    await chain.forge({ caseNo, type: "decided", payload: { decision: "grant", reason: "", at, role: "clerk" } }, { at: new Date(at) });
    expect(await flagged(node, chain, 2)).toBe("办件到达市级时已处于“已受理”状态，“办结决定”不再有效");
    expect(await env.DB.prepare("select state, decision from cases where case_no = ?").bind(caseNo).first()).toEqual({ state: "accepted", decision: null });
  });

  it("a forward to departments the item does not name, or claiming a department's role", async () => {
    const { node, chain, caseNo } = await acceptedCase();
    const at = new Date(CHAIN_EPOCH + 60_000).toISOString();
    await chain.forge({ caseNo, type: "forwarded", payload: { departments: ["XXJ"], note: "", at, role: "clerk" } }, { at: new Date(at) });
    expect(await flagged(node, chain, 2)).toBe(`字段 departments：节点为 ["XXJ"]，按市级目录与规则应为 ["${promisedItem.departmentCode}"]`);

    const at2 = new Date(CHAIN_EPOCH + 120_000).toISOString();
    await chain.forge({ caseNo, type: "forwarded", payload: { departments: [promisedItem.departmentCode], note: "", at: at2, role: "approver" } }, { at: new Date(at2) });
    expect(await flagged(node, chain, 3)).toBe('字段 role：节点为 "approver"，按市级目录与规则应为 "clerk"');
  });

  it("a delivery by a method the city does not know", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const immediate = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;
    const { caseNo } = await chain.open({ item: immediate, materials: completeMaterials(immediate) });
    await chain.act(caseNo, { action: "decide", decision: "grant" });
    expect((await pushOne(node, chain)).conflicts).toEqual([]);
    const at = new Date(CHAIN_EPOCH + 10 * 60_000).toISOString();
    await chain.forge({ caseNo, type: "delivered", payload: { method: "drone", at, role: "clerk" } }, { at: new Date(at) });
    expect(await flagged(node, chain, 3)).toBe("method：送达方式应为 window、post、electronic 之一");
  });
});

describe("who and when: the actor names the node, and the node's clock cannot run backwards or ahead of its batch", () => {
  it("an event recorded under another node's window", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const d = chain.openDraft();
    await chain.forge({ caseNo: d.caseNo, type: d.type, payload: d.payload }, { at: d.at, actor: "window@OTHER1" });
    const body = await pushOne(node, chain);
    expect(body.conflicts).toEqual([{ origin: node.code, seq: 1, caseNo: d.caseNo, reason: `操作人 window@OTHER1 不是节点 ${node.code} 的人员` }]);
  });

  it("an event dated after the batch carrying it was signed (by the node's own clock)", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const sentAt = new Date();
    // Past the five minutes a stepped clock is allowed.
    const future = new Date(sentAt.getTime() + 6 * 60_000);
    const d = chain.openDraft({ at: future });
    await chain.forge({ caseNo: d.caseNo, type: d.type, payload: d.payload }, { at: future });
    const res = await pushEvents(node, chain.events, { sentAt: sentAt.toISOString() });
    expect(res.status).toBe(200);
    expect((await json<PushResponse>(res)).conflicts).toEqual([
      { origin: node.code, seq: 1, caseNo: d.caseNo, reason: `事件时间 ${future.toISOString()} 晚于节点签发批次的时间 ${sentAt.toISOString()}` },
    ]);
    expect(await caseExists(d.caseNo)).toBe(0);
  });

  it("an event a day earlier than the one before it in the chain", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const first = await chain.open();
    const earlier = new Date(Date.parse(first.occurredAt) - 86_400_000);
    const d = chain.openDraft({ at: earlier });
    await chain.forge({ caseNo: d.caseNo, type: d.type, payload: d.payload }, { at: earlier });
    const body = await pushOne(node, chain);
    expect(body.conflicts).toEqual([
      { origin: node.code, seq: 2, caseNo: d.caseNo, reason: `事件时间 ${earlier.toISOString()} 早于本链上一事件的时间 ${first.occurredAt}` },
    ]);
    expect(localDate(earlier)).toBe(addDays(localDate(first.occurredAt), -1));
  });

  it("a clock corrected by a few minutes is tolerated", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const first = await chain.open();
    const back = new Date(Date.parse(first.occurredAt) - 3 * 60_000);
    await chain.open({ at: back });
    expect((await pushOne(node, chain)).conflicts).toEqual([]);
  });
});

describe("staff see a flagged event as a conflict", () => {
  it("lists it for a supervisor with its reason", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { at, ...opened } = chain.openDraft({ item: { ...hukouMove, kind: "immediate" } });
    await chain.forge(opened, { at });
    await pushOne(node, chain);
    const res = await staffJson("GET", "/api/conflicts?open=1", "supervisor");
    const { conflicts } = await json<{ conflicts: { origin: string; seq: number; caseNo: string; reason: string }[] }>(res);
    expect(conflicts.filter((c) => c.origin === node.code)).toEqual([
      expect.objectContaining({ origin: node.code, seq: 1, caseNo: opened.caseNo, type: "opened", reason: '字段 itemKind：节点为 "immediate"，按市级目录与规则应为 "promised"' }),
    ]);
  });
});
