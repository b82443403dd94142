/**
 * No input gets a 500 from the sync endpoint, and nothing that breaks the event limits is stored:
 * a well-signed batch carrying such an event is refused with 400 `invalid_batch` naming the event's
 * seq, the field and the reason, before anything is written. (Each of these once answered 500 or
 * was stored unchecked.)
 */
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { EVENT_LIMITS } from "../../domain/limits.js";
import { applyEvent, type CaseSnapshot } from "../../domain/lifecycle.js";
import type { ChainedEvent } from "../../domain/events.js";
import { cases } from "../../schema/tables.js";
import {
  call,
  Chain,
  countRows,
  enrolNode,
  json,
  postDetached,
  problem,
  problemType,
  pushEvents,
  pushPayload,
  signDetached,
  type TestNode,
  footprint,
  NOTHING,
} from "./helpers.js";


/** The problem body for an event that breaks the limits. */
function refused(node: string, seq: number, field: string, reason: string, message: string) {
  return {
    type: problemType("invalid_batch"),
    title: "同步批次不合法",
    status: 400,
    detail: `批次中序号 ${seq} 的事件不合法：${message}`,
    code: "invalid_batch",
    instance: "/api/sync/push",
    node,
    seq,
    field,
    reason,
  };
}

/** Pushes a body text exactly as given (JSON a serializer would never write), signed as nodes sign. */
async function pushText(node: TestNode, body: string): Promise<Response> {
  return postDetached("/api/sync/push", body, await signDetached(node.privateKey, node.code, body));
}

/** A push body whose only event carries `payloadText` (raw JSON) as its payload. */
async function withRawPayload(node: TestNode, payloadText: string): Promise<string> {
  const chain = new Chain(node.code);
  const e = await chain.open();
  const marker = '"__PAYLOAD__"';
  const body = JSON.stringify(pushPayload(node, [{ ...e, payload: "__PAYLOAD__" as never }]));
  return body.replace(marker, payloadText);
}

describe("instants", () => {
  it.each(["2026-02-30T25:61:00.000Z", "2026-02-30T01:00:00.000Z", "2026-11-23T01:30:00Z", "2026-11-23T09:30:00.000+08:00", "1999-12-31T23:59:59.999Z"])(
    "an event at %s is refused before anything is stored",
    async (occurredAt) => {
      const node = await enrolNode();
      const chain = new Chain(node.code);
      const e = await chain.open();
      const res = await pushEvents(node, [{ ...e, occurredAt }]);
      expect(await problem(res, 400)).toEqual(refused(node.code, 1, "occurredAt", "bad_instant", "时间应为真实存在的 UTC 时刻，格式如 2026-11-23T01:30:00.000Z"));
      expect(await footprint(node.code)).toEqual(NOTHING);
    },
  );

  it("a batch whose own clock reading is not a real instant is a 400 naming sentAt", async () => {
    const node = await enrolNode();
    const res = await pushEvents(node, [], { sentAt: "2026-02-30T01:00:00.000Z", headSeq: 0 });
    expect(await problem(res, 400)).toMatchObject({
      code: "validation_failed",
      field: "sentAt",
      errors: [{ field: "sentAt", message: "时间应为真实存在的 UTC 时刻，格式如 2026-11-23T01:30:00.000Z" }],
    });
    expect(await footprint(node.code)).toEqual(NOTHING);
  });

  it("the track page of a case stored before instants were checked says the time is unknown instead of failing", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const e = await chain.open();
    const legacy: ChainedEvent = { ...e, occurredAt: "2026-02-30T25:61:00Z" };
    await env.DB.prepare("insert into case_events (origin, seq, case_no, type, payload, actor, occurred_at, prev_hash, hash, received_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .bind(legacy.origin, legacy.seq, legacy.caseNo, legacy.type, JSON.stringify(legacy.payload), legacy.actor, legacy.occurredAt, legacy.prevHash, legacy.hash, null)
      .run();
    const snap = applyEvent(null, e as never) as CaseSnapshot;
    await drizzle(env.DB).insert(cases).values({ ...snap, version: 1 });
    const res = await call(`/track?caseNo=${e.caseNo}&queryCode=${snap.queryCode}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain("时间不详 收件");
  });
});

describe("payloads", () => {
  it("a number JSON cannot represent (1e309) is refused, never a 500", async () => {
    const node = await enrolNode();
    const body = await withRawPayload(node, '{"at":"2026-09-29T01:00:00.000Z","fee":1e309}');
    expect(await problem(await pushText(node, body), 400)).toEqual(refused(node.code, 1, "payload.fee", "non_finite_number", "payload.fee 不是有限的数值"));
    expect(await footprint(node.code)).toEqual(NOTHING);
  });

  it.each([1_500, 20_000])("a payload nested %i levels deep is refused, never a 500", async (depth) => {
    const node = await enrolNode();
    const body = await withRawPayload(node, `{"deep":${"[".repeat(depth)}${"]".repeat(depth)}}`);
    const path = ["payload", "deep", ...Array(EVENT_LIMITS.maxPayloadDepth - 1).fill("0")].join(".");
    expect(await problem(await pushText(node, body), 400)).toEqual(refused(node.code, 1, path, "payload_too_deep", `事件内容嵌套超过 ${EVENT_LIMITS.maxPayloadDepth} 层`));
    expect(await footprint(node.code)).toEqual(NOTHING);
  });

  it("a signed batch of 3.6 MB made of four large events is refused at its first event, never SQLITE_TOOBIG", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    for (let i = 0; i < 3; i++) {
      const at = new Date(Date.parse(chain.events.at(-1)!.occurredAt) + 60_000);
      await chain.forge({ caseNo, type: "noted", payload: { note: "备".repeat(300_000), at: at.toISOString() } }, { at });
    }
    const events = [...chain.events];
    events[0] = { ...events[0]!, payload: { ...(events[0]!.payload as object), note: "备".repeat(300_000) } };
    const body = JSON.stringify(pushPayload(node, events));
    expect(new TextEncoder().encode(body).length).toBeGreaterThan(3_600_000);
    expect(await problem(await pushText(node, body), 400)).toEqual(refused(node.code, 1, "payload", "event_too_large", `事件超过 ${EVENT_LIMITS.maxEventBytes} 字节（规范化 JSON 的 UTF-8 长度）`));
    expect(await footprint(node.code)).toEqual(NOTHING);
  });

  it.each([
    ["a NUL", '"张\\u0000三"', "payload.applicant.name 包含空字符（NUL）"],
    ["a lone surrogate", '"张\\ud800三"', "payload.applicant.name 包含无效的 Unicode 字符（不成对的代理项）"],
    ["a control character", '"张\\u0007三"', "payload.applicant.name 包含控制字符"],
  ])("text holding %s is refused, so a value reads the same everywhere", async (_what, nameJson, message) => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const e = await chain.open();
    const payload = JSON.stringify({ ...(e.payload as object), applicant: { ...((e.payload as { applicant: object }).applicant), name: "__NAME__" } }).replace('"__NAME__"', nameJson);
    const body = JSON.stringify(pushPayload(node, [{ ...e, payload: "__PAYLOAD__" as never }])).replace('"__PAYLOAD__"', payload);
    expect(await problem(await pushText(node, body), 400)).toEqual(refused(node.code, 1, "payload.applicant.name", "bad_text", message));
    expect(await footprint(node.code)).toEqual(NOTHING);
  });

  it("an event just within the size limit is stored (and flagged: a note is no event the city knows)", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    const at = new Date(Date.parse(chain.events[0]!.occurredAt) + 60_000);
    await chain.forge({ caseNo, type: "noted", payload: { note: "备".repeat(5_000), at: at.toISOString() } }, { at });
    const res = await pushEvents(node, chain.events);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ ackedSeq: 2, stored: 2, conflicts: [{ seq: 2, reason: "未知的事件类型 noted" }] });
  });

  it("a head the node reports behind its own batch is a 400 naming headSeq", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    await chain.open();
    await chain.open();
    const res = await pushEvents(node, chain.events, { headSeq: 1 });
    expect(await problem(res, 400)).toEqual({
      type: problemType("invalid_batch"),
      title: "同步批次不合法",
      status: 400,
      detail: "节点报告的链头 1 小于批次中的序号 2",
      code: "invalid_batch",
      instance: "/api/sync/push",
      node: node.code,
      seq: 2,
      field: "headSeq",
      reason: "head_behind_batch",
    });
    expect(await footprint(node.code)).toEqual(NOTHING);
  });
});

describe("the re-probe's 500s", () => {
  it("an event type named after an object member (constructor, toString) is an unknown type, flagged", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    for (const type of ["constructor", "tostring", "hasownproperty"]) {
      const at = new Date(Date.parse(chain.events.at(-1)!.occurredAt) + 60_000);
      await chain.forge({ caseNo, type, payload: { at: at.toISOString() } }, { at });
    }
    const res = await pushEvents(node, chain.events);
    expect(res.status).toBe(200);
    expect((await json<{ conflicts: { reason: string }[] }>(res)).conflicts.map((c) => c.reason)).toEqual([
      "未知的事件类型 constructor",
      "未知的事件类型 tostring",
      "未知的事件类型 hasownproperty",
    ]);
  });

  it("a batch of 200 events of 12 KB each (2.4 MB, each within the limits) is stored, not SQLITE_TOOBIG", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    for (let i = 0; i < 199; i++) {
      const at = new Date(Date.parse(chain.events.at(-1)!.occurredAt) + 1_000);
      await chain.forge({ caseNo, type: "noted", payload: { note: "备".repeat(4_000), at: at.toISOString() } }, { at });
    }
    const body = JSON.stringify(pushPayload(node, chain.events));
    expect(new TextEncoder().encode(body).length).toBeGreaterThan(2_300_000);
    const res = await pushText(node, body);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ ackedSeq: 200, stored: 200 });
    expect(await footprint(node.code)).toMatchObject({ events: 200, cases: 1, conflicts: 199 });
  });

  it("a head beyond 10⁹ is refused (reconciliation would show it as pending)", async () => {
    const node = await enrolNode();
    const res = await pushEvents(node, [], { headSeq: 9_007_199_254_740_991 });
    expect(await problem(res, 400)).toMatchObject({ code: "validation_failed", field: "headSeq", errors: [{ field: "headSeq", message: "不能大于 1000000000" }] });
  });

  it("catalog search with a long query (an item's full name) answers, never a 500", async () => {
    const long = "企业开办“一件事”（设立登记、公章刻制、发票申领、社保登记）";
    const res = await call(`/api/catalog/items?q=${encodeURIComponent(long)}`);
    expect(res.status).toBe(200);
    const page = await call(`/?q=${encodeURIComponent("a".repeat(100))}`);
    expect(page.status).toBe(200);
    const upper = await json<{ total: number }>(await call(`/api/catalog/items?q=11350500003621153b3070032100101`));
    expect(upper.total).toBe(1);
  });
});
