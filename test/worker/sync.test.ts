/**
 * The city's replication endpoints inside workerd with local D1 (DESIGN.md "Replication
 * invariants"): node enrolment, signed push (idempotent, in chain order, divergence and
 * conflicts recorded), signed pull, reconciliation and chain re-verification.
 *
 * Tests in this file share one D1: every test enrols its own nodes (fresh codes) and makes its
 * own cases, so none depends on another having run.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { base64url, CompactSign, exportJWK } from "jose";
import { chainEvent, eventHash, GENESIS_HASH, type ChainedEvent } from "../../domain/events.js";
import { MAX_CLOCK_SKEW_MS, MAX_PUSH_EVENTS, type PullResponse, type PushResponse } from "../../domain/sync-protocol.js";
import { seedDepartments, seedItems } from "../../schema/seed/catalog.js";
import {
  PROBLEM,
  call,
  caseCount,
  Chain,
  promisedItem,
  countRows,
  enrolNode,
  eventCount,
  freshCode,
  makeEvents,
  newNodeKey,
  postEnrolment,
  problemType,
  pullAs,
  push,
  pushEvents,
  pushPayload,
  pullPayload,
  postDetached,
  signDetached,
  revokeNode,
  signPush,
  signWith,
  staffJson,
  staffToken,
  type TestNode,
  json,
  problem,
  problemBody,
  validationProblem,
  footprint,
  NOTHING,
} from "./helpers.js";

const CHAIN_EPOCH_FOR_TESTS = Date.parse("2026-09-29T01:30:00.000Z");
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;


/** The whole problem body of a push (or pull) whose signature does not hold under `node`'s enrolled key. */
function badSignature(node: string, instance = "/api/sync/push") {
  return {
    type: problemType("bad_signature"),
    title: "签名无效",
    status: 401,
    detail: `批次签名无法用节点 ${node} 登记的公钥验证`,
    code: "bad_signature",
    instance,
    node,
  };
}

/** The reconciliation row of one node (supervisor token). */
async function reconciliationOf(code: string): Promise<Record<string, unknown>> {
  const res = await staffJson("GET", "/api/reconcile", "supervisor");
  expect(res.status).toBe(200);
  const { nodes } = await json<{ nodes: Record<string, unknown>[] }>(res);
  const row = nodes.find((n) => n.code === code);
  expect(row, `node ${code} in /api/reconcile`).toBeDefined();
  return row!;
}

/** What D1 holds of an origin's chain, in seq order. */
async function storedEvents(origin: string) {
  const { results } = await env.DB.prepare(
    "select origin, seq, case_no, type, payload, actor, occurred_at, prev_hash, hash, received_at from case_events where origin = ? order by seq",
  )
    .bind(origin)
    .all<Record<string, unknown>>();
  return results;
}


/** A node with `n` events pushed and acknowledged. */
async function nodeHolding(n: number): Promise<{ node: TestNode; chain: Chain }> {
  const node = await enrolNode();
  const chain = new Chain(node.code);
  await makeEvents(node.code, n, { chain });
  const res = await pushEvents(node, chain.events);
  expect(res.status).toBe(200);
  expect(await json<PushResponse>(res)).toMatchObject({ ackedSeq: n, chainHead: chain.head.hash, stored: n });
  return { node, chain };
}

// ------------------------------------------------------------------------------------------

describe("node enrolment (admin only)", () => {
  const enrolBody = async (code = freshCode()) => ({ code, name: `${code} 镇便民服务中心`, publicJwk: (await newNodeKey()).publicJwk });
  const nodeRow = (code: string) => env.DB.prepare("select * from nodes where code = ?").bind(code).first();

  it("401 without a token, with a garbage token, or with a token the city does not trust", async () => {
    const body = await enrolBody();
    const instance = "/api/admin/nodes";

    const none = await postEnrolment(body, {});
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="tongban"');
    expect(await problem(none, 401)).toEqual({
      type: problemType("unauthorized"),
      title: "未认证",
      status: 401,
      detail: "请先登录，再管理节点与密钥",
      code: "unauthorized",
      instance,
    });

    const garbage = await postEnrolment(body, { authorization: "Bearer not.a.jwt" });
    expect(garbage.headers.get("www-authenticate")).toBe('Bearer realm="tongban", error="invalid_token"');
    expect(await problem(garbage, 401)).toEqual({
      type: problemType("unauthorized"),
      title: "未认证",
      status: 401,
      detail: "访问令牌无效",
      code: "unauthorized",
      instance,
    });

    // Same kid as the trusted key, signed by another key.
    const otherKey = (await newNodeKey()).privateKey;
    const forged = await postEnrolment(body, { authorization: `Bearer ${await staffToken("admin", { key: otherKey })}` });
    expect(await problem(forged, 401)).toEqual({
      type: problemType("unauthorized"),
      title: "未认证",
      status: 401,
      detail: "访问令牌签名无效",
      code: "unauthorized",
      instance,
    });

    const unknownKid = await postEnrolment(body, { authorization: `Bearer ${await staffToken("admin", { key: otherKey, kid: "rogue" })}` });
    expect(unknownKid.headers.get("www-authenticate")).toBe('Bearer realm="tongban", error="invalid_token"');
    expect(await problem(unknownKid, 401)).toEqual(problemBody("unauthorized", "访问令牌不是由受信任的密钥签发", instance));

    const expired = await postEnrolment(body, { authorization: `Bearer ${await staffToken("admin", { ttl: -120 })}` });
    expect(expired.headers.get("www-authenticate")).toBe('Bearer realm="tongban", error="invalid_token"');
    expect(await problem(expired, 401)).toEqual(problemBody("unauthorized", "访问令牌已过期", instance));

    const otherAudience = await postEnrolment(body, { authorization: `Bearer ${await staffToken("admin", { audience: "someone-else" })}` });
    expect(otherAudience.headers.get("www-authenticate")).toBe('Bearer realm="tongban", error="invalid_token"');
    expect(await problem(otherAudience, 401)).toEqual(problemBody("unauthorized", "访问令牌的 aud 声明不符", instance));

    expect(await nodeRow(body.code)).toBeNull();
  });

  it("403 for a valid token of another role", async () => {
    const body = await enrolBody();
    const res = await postEnrolment(body, { authorization: `Bearer ${await staffToken("supervisor")}` });
    // RFC 6750 §3.1: the token is good, its privileges are not enough.
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="tongban", error="insufficient_scope"');
    expect(await problem(res, 403)).toEqual({
      type: problemType("forbidden"),
      title: "无权执行该操作",
      status: 403,
      detail: "电子监察人员无权管理节点与密钥",
      code: "forbidden",
      instance: "/api/admin/nodes",
      requiredRoles: ["admin"],
      role: "supervisor",
    });
    expect(await nodeRow(body.code)).toBeNull();
  });

  it("enrols a node (201), acknowledges the same key again (200) and refuses another key (409)", async () => {
    const body = await enrolBody();
    const t0 = Date.now();
    const res = await postEnrolment(body);
    expect(res.status).toBe(201);
    const enrolled = await json(res);
    expect(enrolled).toEqual({
      code: body.code,
      name: body.name,
      publicJwk: { kty: "OKP", crv: "Ed25519", x: body.publicJwk.x },
      enrolledAt: expect.stringMatching(ISO),
      revokedAt: null,
      updatedAt: enrolled.enrolledAt,
    });
    expect(Date.parse(enrolled.enrolledAt)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(await nodeRow(body.code)).toEqual({
      code: body.code,
      name: body.name,
      public_jwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: body.publicJwk.x }),
      enrolled_at: enrolled.enrolledAt,
      revoked_at: null,
      updated_at: enrolled.enrolledAt,
    });

    const again = await postEnrolment(body);
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual(enrolled);

    const other = await postEnrolment({ ...body, publicJwk: (await newNodeKey()).publicJwk });
    expect(await problem(other, 409)).toEqual({
      type: problemType("conflict"),
      title: "与现有数据冲突",
      status: 409,
      detail: `节点 ${body.code} 已用另一把公钥登记；如需换钥请先撤销`,
      code: "conflict",
      instance: "/api/admin/nodes",
      node: body.code,
    });
    // The enrolled key is unchanged.
    expect(await json(await staffJson("GET", "/api/admin/nodes", "admin"))).toMatchObject({
      nodes: expect.arrayContaining([expect.objectContaining({ code: body.code, publicJwk: enrolled.publicJwk })]),
    });
  });

  it("400 for a private key in publicJwk and for the city's own code", async () => {
    const body = await enrolBody();
    const { privateKey } = await newNodeKey();
    const priv = await exportJWK(privateKey);
    const withD = await postEnrolment({ ...body, publicJwk: { kty: priv.kty, crv: priv.crv, x: priv.x, d: priv.d } });
    // The strict JWK schema names the private member; the message is zod's own (zh-CN locale).
    expect(await problem(withD, 400)).toEqual(validationProblem("/api/admin/nodes", { field: "publicJwk", message: "不认识的字段：d" }));
    expect(await nodeRow(body.code)).toBeNull();

    const city = await postEnrolment({ ...body, code: "CITY" });
    expect(await problem(city, 400)).toEqual({
      type: problemType("validation_failed"),
      title: "请求参数不合法",
      status: 400,
      detail: "字段 code 不合法：节点编码不能是 CITY",
      code: "validation_failed",
      instance: "/api/admin/nodes",
      field: "code",
      errors: [{ field: "code", message: "节点编码不能是 CITY" }],
    });
    expect(await nodeRow("CITY")).toBeNull();

    const lower = await postEnrolment({ ...body, code: "town1" });
    expect(await problem(lower, 400)).toEqual(validationProblem("/api/admin/nodes", { field: "code", message: "节点编码应为 2–12 位大写字母或数字" }));
    expect(await nodeRow("town1")).toBeNull();
    expect(await nodeRow(body.code)).toBeNull();
  });

  it("revokes a node (200 with revokedAt), 404 for an unknown one, and never re-enrols a revoked code", async () => {
    const node = await enrolNode();
    const t0 = Date.now();
    const res = await revokeNode(node.code);
    expect(res.status).toBe(200);
    const revoked = await json(res);
    expect(revoked).toEqual({
      code: node.code,
      name: node.name,
      publicJwk: { kty: "OKP", crv: "Ed25519", x: node.publicJwk.x },
      enrolledAt: expect.stringMatching(ISO),
      revokedAt: expect.stringMatching(ISO),
      updatedAt: revoked.revokedAt,
    });
    expect(Date.parse(revoked.revokedAt)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(await nodeRow(node.code)).toEqual({
      code: node.code,
      name: node.name,
      public_jwk: JSON.stringify({ kty: "OKP", crv: "Ed25519", x: node.publicJwk.x }),
      enrolled_at: revoked.enrolledAt,
      revoked_at: revoked.revokedAt,
      updated_at: revoked.revokedAt,
    });

    // Revoking again changes nothing.
    const twice = await revokeNode(node.code);
    expect(twice.status).toBe(200);
    expect(await json(twice)).toEqual(revoked);

    const unknown = freshCode("X");
    expect(await problem(await revokeNode(unknown), 404)).toEqual({
      type: problemType("not_found"),
      title: "资源不存在",
      status: 404,
      detail: `节点 ${unknown} 未登记`,
      code: "not_found",
      instance: `/api/admin/nodes/${unknown}/revoke`,
      node: unknown,
    });

    const reEnrol = await postEnrolment({ code: node.code, name: node.name, publicJwk: node.publicJwk });
    expect(await problem(reEnrol, 409)).toEqual({
      type: problemType("conflict"),
      title: "与现有数据冲突",
      status: 409,
      detail: `节点 ${node.code} 已被撤销，不能重新登记；请使用新的节点编码`,
      code: "conflict",
      instance: "/api/admin/nodes",
      node: node.code,
      revokedAt: revoked.revokedAt,
    });

    const supervisor = await call(`/api/admin/nodes/${node.code}/revoke`, { method: "POST", headers: { authorization: `Bearer ${await staffToken("supervisor")}` } });
    expect(await problem(supervisor, 403)).toEqual(
      problemBody("forbidden", "电子监察人员无权管理节点与密钥", `/api/admin/nodes/${node.code}/revoke`, { requiredRoles: ["admin"], role: "supervisor" }),
    );
  });
});

// ------------------------------------------------------------------------------------------

describe("push", () => {
  it("stores a node's first events in chain order and acknowledges them", async () => {
    const node = await enrolNode();
    const events = await makeEvents(node.code, 3);
    const t0 = Date.now();
    const res = await pushEvents(node, events);
    const t1 = Date.now();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await json<PushResponse>(res);
    expect(body).toEqual({
      v: 2,
      ackedSeq: 3,
      chainHead: events[2]!.hash,
      stored: 3,
      duplicates: 0,
      conflicts: [],
      divergence: null,
      serverTime: expect.stringMatching(ISO),
      skewMs: expect.any(Number),
      clockFlagged: false,
    });
    expect(Date.parse(body.serverTime)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(Date.parse(body.serverTime)).toBeLessThanOrEqual(t1 + 1000);
    expect(Math.abs(body.skewMs)).toBeLessThan(MAX_CLOCK_SKEW_MS);

    const stored = await storedEvents(node.code);
    expect(stored).toEqual(
      events.map((e) => ({
        origin: e.origin,
        seq: e.seq,
        case_no: e.caseNo,
        type: "opened",
        payload: expect.any(String),
        actor: `window@${node.code}`,
        occurred_at: e.occurredAt,
        prev_hash: e.prevHash,
        hash: e.hash,
        received_at: body.serverTime,
      })),
    );
    stored.forEach((row, i) => expect(JSON.parse(row.payload as string)).toEqual(events[i]!.payload));

    const { results: caseRows } = await env.DB.prepare("select case_no, origin, state, applicant_name from cases where origin = ? order by case_no")
      .bind(node.code)
      .all();
    expect(caseRows).toEqual(
      events.map((e) => ({ case_no: e.caseNo, origin: node.code, state: "accepted", applicant_name: (e.payload as any).applicant.name })),
    );

    expect(await reconciliationOf(node.code)).toEqual({
      code: node.code,
      name: node.name,
      revoked: false,
      ackedSeq: 3,
      chainHead: events[2]!.hash,
      reportedHeadSeq: 3,
      lastContactAt: body.serverTime,
      pending: 0,
      conflicts: 0,
      divergences: 0,
      skewMs: body.skewMs,
      clockFlagged: false,
      protocolVersion: 2,
      upgradeNeeded: false,
    });
  });

  it("acknowledges events it already holds again without storing them twice; a heartbeat reports the node's head", async () => {
    const { node, chain } = await nodeHolding(3);
    const before = await footprint(node.code);

    const again = await pushEvents(node, chain.events);
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual({
      v: 2,
      ackedSeq: 3,
      chainHead: chain.head.hash,
      stored: 0,
      duplicates: 3,
      conflicts: [],
      divergence: null,
      serverTime: expect.stringMatching(ISO),
      skewMs: expect.any(Number),
      clockFlagged: false,
    });
    expect(await footprint(node.code)).toEqual({ ...before, batches: before.batches + 1 });

    // Overlap: two held events and one new one.
    await chain.open();
    const overlap = await pushEvents(node, chain.range(2));
    expect(overlap.status).toBe(200);
    expect(await json(overlap)).toMatchObject({ ackedSeq: 4, chainHead: chain.head.hash, stored: 1, duplicates: 2, divergence: null });
    expect(await eventCount(node.code)).toBe(4);

    const lastPush = await env.DB.prepare("select last_push_at from node_contacts where code = ?").bind(node.code).first<{ last_push_at: string }>();
    const heartbeat = await pushEvents(node, [], { headSeq: 7 });
    expect(heartbeat.status).toBe(200);
    const hb = await json<PushResponse>(heartbeat);
    expect(hb).toEqual({
      v: 2,
      ackedSeq: 4,
      chainHead: chain.head.hash,
      stored: 0,
      duplicates: 0,
      conflicts: [],
      divergence: null,
      serverTime: expect.stringMatching(ISO),
      skewMs: expect.any(Number),
      clockFlagged: false,
    });
    expect(await env.DB.prepare("select * from node_contacts where code = ?").bind(node.code).first()).toEqual({
      code: node.code,
      last_contact_at: hb.serverTime,
      reported_head_seq: 7,
      skew_ms: hb.skewMs,
      last_push_at: lastPush!.last_push_at,
      last_pull_at: null,
      pulled_cursor: null,
      // The node's first push (it has never pulled) starts the grace for the reference it shipped with.
      push_since_pull_at: expect.stringMatching(ISO),
      protocol_version: 2,
    });
    expect(await eventCount(node.code)).toBe(4);
    expect(await reconciliationOf(node.code)).toMatchObject({ ackedSeq: 4, reportedHeadSeq: 7, pending: 3, lastContactAt: hb.serverTime });
  });

  it("stores event payloads byte-for-byte as far as the hash can tell, and keeps an event of an unknown type flagged, not applied", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open({ applicantName: "O'Brien \"引号\" 😀" });
    const at = new Date(CHAIN_EPOCH_FOR_TESTS).toISOString();
    const exotic = {
      role: "clerk",
      at,
      note: "备注\u2028换行\n制表\t反斜杠\\ 引号\" 表情😀 零宽\u200b",
      small: 0.1,
      tiny: 1e-7,
      huge: 1.7976931348623157e308,
      big: 12345678901234567000,
      negative: -42.5,
      nested: [[], {}, [null, true, false, ""], { "键 with space": { z: 1, a: 2 } }],
      empty: {},
      中文键: "值",
    };
    const noted = await chainEvent(chain.head.hash, { origin: node.code, seq: 2, caseNo, type: "noted", payload: exotic, actor: `window@${node.code}`, occurredAt: at });
    const events = [...chain.events, noted];
    const res = await pushEvents(node, events);
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({
      ackedSeq: 2,
      chainHead: noted.hash,
      stored: 2,
      conflicts: [{ origin: node.code, seq: 2, caseNo, reason: "未知的事件类型 noted" }],
    });

    const stored = await storedEvents(node.code);
    expect(stored.map((r) => r.hash)).toEqual([events[0]!.hash, noted.hash]);
    stored.forEach((row, i) => expect(JSON.parse(row.payload as string)).toEqual(events[i]!.payload));
    for (const row of stored) {
      const e = { origin: row.origin as string, seq: row.seq as number, caseNo: row.case_no as string, type: row.type as string, payload: JSON.parse(row.payload as string), actor: row.actor as string, occurredAt: row.occurred_at as string };
      expect(await eventHash(row.prev_hash as string, e)).toBe(row.hash);
    }
    const verify = await json(await staffJson("GET", "/api/reconcile/verify", "supervisor"));
    expect(verify.breaks.filter((b: { origin: string }) => b.origin === node.code)).toEqual([]);
    // An unknown type stays in the log, flagged, and leaves the case alone: the city cannot check it.
    expect(await env.DB.prepare("select state, applicant_name from cases where case_no = ?").bind(caseNo).first()).toEqual({
      state: "accepted",
      applicant_name: "O'Brien \"引号\" 😀",
    });
  });

  it("409 replayed_batch for the exact same signed batch sent twice, storing nothing the second time", async () => {
    const node = await enrolNode();
    const events = await makeEvents(node.code, 3);
    const payload = pushPayload(node, events);
    const jws = await signPush(node, payload);
    expect((await push(jws)).status).toBe(200);
    const after = await footprint(node.code);
    expect(after).toEqual({ events: 3, cases: 3, batches: 1, contacts: 1, conflicts: 0, divergences: 0 });
    const contact = await env.DB.prepare("select * from node_contacts where code = ?").bind(node.code).first();

    const replay = await push(jws);
    expect(await problem(replay, 409)).toEqual({
      type: problemType("replayed_batch"),
      title: "重放的同步批次",
      status: 409,
      detail: `批次 ${payload.batchId} 已处理过，拒绝重放`,
      code: "replayed_batch",
      instance: "/api/sync/push",
      node: node.code,
      batchId: payload.batchId,
    });
    expect(await footprint(node.code)).toEqual(after);
    // A replayed heartbeat does not count as contact either.
    expect(await env.DB.prepare("select * from node_contacts where code = ?").bind(node.code).first()).toEqual(contact);
  });

  it("401 bad_signature for a batch altered after signing; 400 invalid_batch for a signed batch with a wrong event hash", async () => {
    const node = await enrolNode();
    const events = await makeEvents(node.code, 3);
    const jws = await signPush(node, pushPayload(node, events));
    const [h, p, s] = jws.split(".") as [string, string, string];
    const i = Math.floor(p.length / 2);
    const flipped = p[i] === "A" ? "B" : "A";
    const tampered = `${h}.${p.slice(0, i)}${flipped}${p.slice(i + 1)}.${s}`;
    expect(tampered).not.toBe(jws);
    expect(await problem(await push(tampered), 401)).toEqual(badSignature(node.code));
    expect(await footprint(node.code)).toEqual(NOTHING);

    // Correctly signed, but an event's content no longer matches its hash.
    const forged: ChainedEvent[] = events.map((e) => ({ ...e }));
    forged[1] = { ...forged[1]!, payload: { ...forged[1]!.payload as object, state: "decided" } };
    expect(await problem(await pushEvents(node, forged), 400)).toEqual({
      type: problemType("invalid_batch"),
      title: "同步批次不合法",
      status: 400,
      detail: "批次在序号 2 处不合法：bad_event_hash",
      code: "invalid_batch",
      instance: "/api/sync/push",
      node: node.code,
      seq: 2,
      reason: "bad_event_hash",
    });
    expect(await footprint(node.code)).toEqual(NOTHING);
  });

  it("takes a push whose payload is the body itself, signed in the Tongban-Signature header (RFC 7797), as nodes send it", async () => {
    const node = await enrolNode();
    const events = await makeEvents(node.code, 3);
    const body = JSON.stringify(pushPayload(node, events));
    const res = await postDetached("/api/sync/push", body, await signDetached(node.privateKey, node.code, body));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ackedSeq: 3, stored: 3, duplicates: 0 });
    expect(await eventCount(node.code)).toBe(3);
    const pullBody = JSON.stringify(pullPayload(node, null));
    const pulled = await postDetached("/api/sync/pull", pullBody, await signDetached(node.privateKey, node.code, pullBody));
    expect(pulled.status).toBe(200);
    expect(await pulled.json()).toMatchObject({ hasMore: false });
  });

  it("refuses a detached push with one byte of the body changed, another node's key, or a header that does not declare the unencoded payload; nothing stored", async () => {
    const node = await enrolNode();
    const other = await enrolNode();
    const events = await makeEvents(node.code, 2);
    const body = JSON.stringify(pushPayload(node, events));
    const signature = await signDetached(node.privateKey, node.code, body);
    const changed = body.replace(`"seq":2`, `"seq":3`);
    expect(changed).not.toBe(body);
    expect(await problem(await postDetached("/api/sync/push", changed, signature), 401)).toEqual(badSignature(node.code));
    expect(await problem(await postDetached("/api/sync/push", body, await signDetached(other.privateKey, node.code, body)), 401)).toEqual(badSignature(node.code));
    // Signed correctly, but the header does not say the payload is unencoded (or says it without crit).
    for (const header of [
      { alg: "EdDSA", kid: node.code },
      { alg: "EdDSA", kid: node.code, b64: false },
      { alg: "EdDSA", kid: node.code, b64: true, crit: ["b64"] },
      { alg: "EdDSA", kid: node.code, b64: false, crit: ["b64", "exp"] },
    ]) {
      expect(await problem(await postDetached("/api/sync/push", body, await signDetached(node.privateKey, node.code, body, header)), 401)).toEqual(badSignature(node.code));
    }
    expect(await problem(await postDetached("/api/sync/push", body, "not a signature"), 400)).toEqual({
      type: problemType("bad_request"),
      title: "请求格式错误",
      status: 400,
      detail: "tongban-signature 应为分离式 JWS 签名（protected..signature）",
      code: "bad_request",
      instance: "/api/sync/push",
      field: "tongban-signature",
    });
    expect(await footprint(node.code)).toEqual(NOTHING);
  });

  it("refuses headers the city does not accept (alg none, HS256, critical extensions), a cut signature and a JWS of four parts; nothing stored", async () => {
    const node = await enrolNode();
    const events = await makeEvents(node.code, 1);
    const payload = pushPayload(node, events);
    const b64 = (x: unknown) => base64url.encode(JSON.stringify(x));
    const honest = await signPush(node, payload);
    const [, p, sig] = honest.split(".") as [string, string, string];
    // The node's own valid signature under a different header: the header is part of what it
    // signed, so each of these fails, and each names the node.
    const headers = [
      { alg: "none", kid: node.code },
      { alg: "HS256", kid: node.code },
      { alg: "EdDSA", kid: node.code, crit: ["exp"], exp: 1 },
    ];
    for (const h of headers) {
      expect(await problem(await push(`${b64(h)}.${p}.${sig}`), 401)).toEqual(badSignature(node.code));
    }
    // Signed with the node's key over a header asking for critical handling: still refused.
    const input = `${b64({ alg: "EdDSA", kid: node.code, crit: ["tongban-x"], "tongban-x": true })}.${p}`;
    const critSig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, node.privateKey, new TextEncoder().encode(input)));
    const crit = `${input}.${base64url.encode(critSig)}`;
    expect(await problem(await push(crit), 401)).toEqual(badSignature(node.code));
    expect(await problem(await push(honest.slice(0, -8)), 401)).toEqual(badSignature(node.code));
    expect(await problem(await push(`${honest}.${sig}`), 400)).toEqual({
      type: problemType("bad_request"),
      title: "请求格式错误",
      status: 400,
      detail: "请求体应为节点签名的 JWS（compact serialization）",
      code: "bad_request",
      instance: "/api/sync/push",
      field: "body",
    });
    expect(await footprint(node.code)).toEqual(NOTHING);
    // The honest batch itself still goes through afterwards.
    expect((await push(honest)).status).toBe(200);
  });

  it("refuses a batch signed with another node's key, a batch claiming another node, and events of another origin", async () => {
    const a = await enrolNode();
    const b = await enrolNode();
    const eventsA = await makeEvents(a.code, 2);

    // kid says A, B's key signed it.
    const wrongKey = await signWith(b.privateKey, a.code, pushPayload(a, eventsA));
    expect(await problem(await push(wrongKey), 401)).toEqual(badSignature(a.code));

    // B signs honestly as B, but the payload says it is A's batch.
    const claimsA = await signPush(b, pushPayload(a, eventsA));
    expect(await problem(await push(claimsA), 403)).toEqual({
      type: problemType("node_mismatch"),
      title: "签名节点与批次节点不一致",
      status: 403,
      detail: `批次声称来自 ${a.code}，但由节点 ${b.code} 签名`,
      code: "node_mismatch",
      instance: "/api/sync/push",
      node: b.code,
      claimed: a.code,
    });

    // B's own batch carrying A's events.
    const carriesA = await signPush(b, pushPayload(b, eventsA));
    expect(await problem(await push(carriesA), 400)).toEqual({
      type: problemType("invalid_batch"),
      title: "同步批次不合法",
      status: 400,
      detail: "批次在序号 1 处不合法：wrong_origin",
      code: "invalid_batch",
      instance: "/api/sync/push",
      node: b.code,
      seq: 1,
      reason: "wrong_origin",
    });

    expect(await footprint(a.code)).toEqual(NOTHING);
    expect(await footprint(b.code)).toEqual(NOTHING);
    expect(await countRows("select count(*) as n from cases where case_no in (?, ?)", eventsA[0]!.caseNo, eventsA[1]!.caseNo)).toBe(0);
  });

  it("401 unknown_node for a node the city never enrolled, 403 node_revoked after revocation", async () => {
    const code = freshCode("U");
    const { privateKey } = await newNodeKey();
    const events = await makeEvents(code, 1);
    const unknown = await signWith(privateKey, code, pushPayload({ code }, events));
    expect(await problem(await push(unknown), 401)).toEqual({
      type: problemType("unknown_node"),
      title: "节点未登记",
      status: 401,
      detail: `节点 ${code} 未在市级登记`,
      code: "unknown_node",
      instance: "/api/sync/push",
      node: code,
    });
    expect(await footprint(code)).toEqual(NOTHING);

    const noKid = await new CompactSign(new TextEncoder().encode(JSON.stringify(pushPayload({ code }, events))))
      .setProtectedHeader({ alg: "EdDSA" })
      .sign(privateKey);
    expect(await problem(await push(noKid), 401)).toEqual(problemBody("unknown_node", "节点 （未标明） 未在市级登记", "/api/sync/push", { node: null }));

    const node = await enrolNode();
    const revoked = await json(await revokeNode(node.code));
    const res = await pushEvents(node, await makeEvents(node.code, 2));
    expect(await problem(res, 403)).toEqual({
      type: problemType("node_revoked"),
      title: "节点已被撤销",
      status: 403,
      detail: `节点 ${node.code} 已于 ${revoked.revokedAt} 被撤销`,
      code: "node_revoked",
      instance: "/api/sync/push",
      node: node.code,
      revokedAt: revoked.revokedAt,
    });
    expect(await footprint(node.code)).toEqual(NOTHING);
    const pulled = await pullAs(node, null);
    expect(await problem(pulled, 403)).toEqual(
      problemBody("node_revoked", `节点 ${node.code} 已于 ${revoked.revokedAt} 被撤销`, "/api/sync/pull", { node: node.code, revokedAt: revoked.revokedAt }),
    );
  });

  it("409 sync_gap when a batch starts after the city's mark; the node can resend from there", async () => {
    const { node, chain } = await nodeHolding(3);
    await makeEvents(node.code, 3, { chain });
    const gap = await pushEvents(node, chain.range(5, 6));
    expect(await problem(gap, 409)).toEqual({
      type: problemType("sync_gap"),
      title: "事件序号不连续",
      status: 409,
      detail: "市级已确认到 3，批次从 5 开始，请从 4 重发",
      code: "sync_gap",
      instance: "/api/sync/push",
      node: node.code,
      ackedSeq: 3,
      chainHead: chain.event(3).hash,
      firstSeq: 5,
    });
    expect(await eventCount(node.code)).toBe(3);
    expect(await caseCount(node.code)).toBe(3);

    const resend = await pushEvents(node, chain.range(4, 6));
    expect(await json(resend)).toMatchObject({ ackedSeq: 6, chainHead: chain.event(6).hash, stored: 3, duplicates: 0 });
    expect(await eventCount(node.code)).toBe(6);
  });

  it("records a different event under a held seq as a divergence and never overwrites the held one", async () => {
    const { node, chain } = await nodeHolding(3);
    const held = await storedEvents(node.code);
    const heldCase = await env.DB.prepare("select * from cases where case_no = ?").bind(chain.event(2).caseNo).first();

    // Another history: the same first event, then a different case under seq 2.
    const other = chain.fork(1);
    await other.open({ applicantName: "另一位申请人" });
    expect(other.event(2).caseNo).toBe(chain.event(2).caseNo);
    expect(other.event(2).hash).not.toBe(chain.event(2).hash);

    const res = await pushEvents(node, other.events);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      v: 2,
      ackedSeq: 3,
      chainHead: chain.head.hash,
      stored: 0,
      duplicates: 1,
      conflicts: [],
      divergence: { seq: 2, heldHash: chain.event(2).hash, receivedHash: other.event(2).hash },
      serverTime: expect.stringMatching(ISO),
      skewMs: expect.any(Number),
      clockFlagged: false,
    });
    expect(await storedEvents(node.code)).toEqual(held);
    expect(await env.DB.prepare("select * from cases where case_no = ?").bind(chain.event(2).caseNo).first()).toEqual(heldCase);

    const { results: rows } = await env.DB.prepare("select * from divergences where origin = ?").bind(node.code).all<Record<string, unknown>>();
    expect(rows).toEqual([
      {
        origin: node.code,
        seq: 2,
        held_hash: chain.event(2).hash,
        received_hash: other.event(2).hash,
        received: expect.any(String),
        detected_at: expect.stringMatching(ISO),
      },
    ]);
    expect(JSON.parse(rows[0]!.received as string)).toEqual(other.event(2));

    // The node retrying the same divergent history does not record it twice.
    expect(await json(await pushEvents(node, other.events))).toMatchObject({ divergence: { seq: 2 } });
    expect(await countRows("select count(*) as n from divergences where origin = ?", node.code)).toBe(1);

    expect(await reconciliationOf(node.code)).toMatchObject({ ackedSeq: 3, chainHead: chain.head.hash, divergences: 1, conflicts: 0 });
  });

  it("400 unsupported_protocol for a protocol version the city does not speak, bad_request for a body that is no JWS, validation_failed for a malformed payload", async () => {
    const node = await enrolNode();
    const events = await makeEvents(node.code, 1);
    const v3 = await signPush(node, { ...pushPayload(node, events), v: 3 });
    expect(await problem(await push(v3), 400)).toEqual({
      type: problemType("unsupported_protocol"),
      title: "同步协议版本不受支持",
      status: 400,
      detail: "同步协议版本 3 不受支持：市级支持版本 1–2（当前版本 2），请先升级市级系统",
      code: "unsupported_protocol",
      instance: "/api/sync/push",
      protocolVersion: 2,
      supportedVersions: { min: 1, max: 2 },
      received: 3,
    });

    expect(await problem(await push("this is not a JWS"), 400)).toEqual({
      type: problemType("bad_request"),
      title: "请求格式错误",
      status: 400,
      detail: "请求体应为节点签名的 JWS（compact serialization）",
      code: "bad_request",
      instance: "/api/sync/push",
      field: "body",
    });

    const shortBatch = await signPush(node, pushPayload(node, events, { batchId: "x" }));
    expect(await problem(await push(shortBatch), 400)).toEqual(validationProblem("/api/sync/push", { field: "batchId", message: "批次编号应为 8–64 位字母、数字或 _.:-" }));

    // A signed JSON string: no version at all.
    const notJson = await signWith(node.privateKey, node.code, "just a string");
    expect(await problem(await push(notJson), 400)).toEqual(
      problemBody("unsupported_protocol", "同步协议版本 （未标明） 不受支持：市级支持版本 1–2（当前版本 2），请将节点升级到受支持的版本", "/api/sync/push", {
        protocolVersion: 2,
        supportedVersions: { min: 1, max: 2 },
        received: null,
      }),
    );

    expect(await footprint(node.code)).toEqual(NOTHING);
  });

  it("settles concurrent pushes of the same events: all acknowledged, each event stored once", async () => {
    const node = await enrolNode();
    const events = await makeEvents(node.code, 5);
    const responses = await Promise.all([pushEvents(node, events), pushEvents(node, events), pushEvents(node, events)]);
    expect(responses.map((r) => r.status)).toEqual([200, 200, 200]);
    const bodies = await Promise.all(responses.map((r) => json<PushResponse>(r)));
    for (const b of bodies) {
      expect(b).toMatchObject({ ackedSeq: 5, chainHead: events[4]!.hash, conflicts: [], divergence: null });
      expect(b.stored + b.duplicates).toBe(5);
    }
    expect(bodies.reduce((n, b) => n + b.stored, 0)).toBe(5);
    expect(await eventCount(node.code)).toBe(5);
    expect(await caseCount(node.code)).toBe(5);
    expect(await countRows("select count(distinct case_no) as n from cases where origin = ?", node.code)).toBe(5);
    expect(await countRows("select count(*) as n from sync_batches where node = ?", node.code)).toBe(3);
    expect((await storedEvents(node.code)).map((e) => e.hash)).toEqual(events.map((e) => e.hash));
  });

  it(`stores a full batch of ${MAX_PUSH_EVENTS} events in one push and refuses a larger one`, async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    await makeEvents(node.code, MAX_PUSH_EVENTS + 1, { chain });
    const full = chain.range(1, MAX_PUSH_EVENTS);

    const tooMany = await pushEvents(node, chain.events);
    // The limit's message is zod's own (zh-CN locale).
    expect(await problem(tooMany, 400)).toEqual(validationProblem("/api/sync/push", { field: "events", message: `最多 ${MAX_PUSH_EVENTS} 项` }));
    expect(await footprint(node.code)).toEqual(NOTHING);

    const acknowledged = (ackedSeq: number, stored: number, duplicates: number) => ({
      v: 2,
      ackedSeq,
      chainHead: chain.event(ackedSeq).hash,
      stored,
      duplicates,
      conflicts: [],
      divergence: null,
      serverTime: expect.stringMatching(ISO),
      skewMs: expect.any(Number),
      clockFlagged: false,
    });
    const res = await pushEvents(node, full);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual(acknowledged(MAX_PUSH_EVENTS, MAX_PUSH_EVENTS, 0));
    expect(await eventCount(node.code)).toBe(MAX_PUSH_EVENTS);
    expect(await caseCount(node.code)).toBe(MAX_PUSH_EVENTS);

    const again = await pushEvents(node, chain.range(2));
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual(acknowledged(MAX_PUSH_EVENTS + 1, 1, MAX_PUSH_EVENTS - 1));
   }, 30_000);

  it("flags a node whose clock is more than five minutes off", async () => {
    const node = await enrolNode();
    const events = await makeEvents(node.code, 1);
    const ahead = new Date(Date.now() + 7 * 60_000);
    const res = await pushEvents(node, events, { sentAt: ahead.toISOString() });
    expect(res.status).toBe(200);
    const body = await json<PushResponse>(res);
    expect(body.skewMs).toBeGreaterThan(MAX_CLOCK_SKEW_MS);
    expect(body.skewMs).toBeLessThanOrEqual(10 * 60_000);
    expect(body.skewMs).toBe(ahead.getTime() - Date.parse(body.serverTime));
    expect(body.clockFlagged).toBe(true);
    expect(body).toMatchObject({ ackedSeq: 1, stored: 1 });
    expect(await reconciliationOf(node.code)).toMatchObject({ clockFlagged: true, skewMs: body.skewMs });

    const behind = await pushEvents(node, [], { sentAt: new Date(Date.now() - 7 * 60_000).toISOString(), headSeq: 1 });
    const hb = await json<PushResponse>(behind);
    expect(hb.skewMs).toBeLessThan(-MAX_CLOCK_SKEW_MS);
    expect(hb.clockFlagged).toBe(true);
    expect(await reconciliationOf(node.code)).toMatchObject({ clockFlagged: true, skewMs: hb.skewMs });

    const fine = await json<PushResponse>(await pushEvents(node, [], { headSeq: 1 }));
    expect(fine.clockFlagged).toBe(false);
    expect(await reconciliationOf(node.code)).toMatchObject({ clockFlagged: false, skewMs: fine.skewMs });
  });

  it("keeps an event that no longer applies at the city, flags it as a conflict and hands the flag back on pull", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const opened = await chain.open();
    const caseNo = opened.caseNo;
    expect(chain.cases.get(caseNo)!.state).toBe("accepted");
    expect(await json(await pushEvents(node, chain.events))).toMatchObject({ ackedSeq: 1, stored: 1 });

    // The window forwards the case to its department.
    const forwarded = await chain.act(caseNo, { action: "forward" }, "clerk");
    expect(await json(await pushEvents(node, [forwarded]))).toMatchObject({ ackedSeq: 2, conflicts: [] });
    const cityCase = await env.DB.prepare("select * from cases where case_no = ?").bind(caseNo).first();
    expect(cityCase).toMatchObject({ state: "in_review", origin: node.code });

    // A second forward (a restored backup replaying its work, a node running modified code) no longer applies.
    const again = new Date(Date.parse(forwarded.occurredAt) + 60_000);
    const late = await chain.forge({ caseNo, type: "forwarded", payload: { ...(forwarded.payload as object), at: again.toISOString() } }, { at: again });
    const res = await pushEvents(node, [late]);
    expect(res.status).toBe(200);
    const reason = "办件到达市级时已处于“部门审查中”状态，“转送部门”不再有效";
    const body = await json<PushResponse>(res);
    expect(body).toEqual({
      v: 2,
      ackedSeq: 3,
      chainHead: late.hash,
      stored: 1,
      duplicates: 0,
      conflicts: [{ origin: node.code, seq: 3, caseNo, reason }],
      divergence: null,
      serverTime: expect.stringMatching(ISO),
      skewMs: expect.any(Number),
      clockFlagged: false,
    });
    // Kept in the log, not applied to the case.
    expect(await eventCount(node.code)).toBe(3);
    expect(await env.DB.prepare("select * from cases where case_no = ?").bind(caseNo).first()).toEqual(cityCase);
    expect(await env.DB.prepare("select * from conflicts where origin = ?").bind(node.code).all().then((r) => r.results)).toEqual([
      { origin: node.code, seq: 3, case_no: caseNo, type: "forwarded", node: node.code, reason, detected_at: body.serverTime, resolved_at: null, resolution: null },
    ]);

    const pulled = await pullAs(node, 0);
    expect(pulled.status).toBe(200);
    const p = await json<PullResponse>(pulled);
    expect(p.snapshot).toBe(false);
    expect(p.conflicts).toEqual([{ origin: node.code, seq: 3, caseNo, type: "forwarded", reason, detectedAt: body.serverTime }]);
    expect(p.events).toEqual([]);

    // Pulling again after that cursor hands the conflict out only once.
    const next = await json<PullResponse>(await pullAs(node, p.cursor));
    expect(next.conflicts).toEqual([]);
    expect(next.events).toEqual([]);

    expect(await reconciliationOf(node.code)).toMatchObject({ ackedSeq: 3, conflicts: 1, divergences: 0 });
  });
});

describe("push: what a node may change at the city (DESIGN.md invariant 5)", () => {
  it("does not let a township node decide a reviewed case by claiming the approver role", async () => {
    // Township nodes have window clerks only; review and decision belong to the city's departments.
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    await chain.act(caseNo, { action: "forward" }, "clerk");
    const decided = await chain.act(caseNo, { action: "decide", decision: "grant" }, "approver");
    expect((decided.payload as Record<string, unknown>).role).toBe("approver");

    const res = await pushEvents(node, chain.events);
    expect(res.status).toBe(200);
    const body = await json<PushResponse>(res);
    expect(body).toMatchObject({ ackedSeq: 3, stored: 3, duplicates: 0, divergence: null });
    expect(body.conflicts).toEqual([{ origin: node.code, seq: 3, caseNo, reason: "窗口人员不能在“部门审查中”状态执行“办结决定”" }]);
    expect(await env.DB.prepare("select state, decision, decided_at from cases where case_no = ?").bind(caseNo).first()).toEqual({
      state: "in_review",
      decision: null,
      decided_at: null,
    });
  });

  it("keeps a node's case numbers its own: another node cannot take them first", async () => {
    const a = await enrolNode();
    const b = await enrolNode();
    const chainA = new Chain(a.code);
    const own = await chainA.open({ applicantName: "真实申请人" });
    // B opens a case under a number in A's range (A-yyyymmdd-0001) before A has pushed it.
    // B's node runs modified code: an honest node cannot even make this event.
    const chainB = new Chain(b.code);
    const { at, ...draft } = chainB.openDraft({ applicantName: "冒名者" });
    const forged = await chainB.forge({ ...draft, caseNo: own.caseNo }, { at });
    const rb = await pushEvents(b, chainB.events);
    expect(rb.status).toBe(200);
    expect((await json<PushResponse>(rb)).conflicts).toEqual([
      { origin: b.code, seq: forged.seq, caseNo: own.caseNo, reason: `办件编号 ${own.caseNo} 不属于节点 ${b.code}，不能由其开件` },
    ]);

    const ra = await pushEvents(a, chainA.events);
    expect(ra.status).toBe(200);
    expect(await json(ra)).toMatchObject({ ackedSeq: 1, stored: 1, conflicts: [] });
    expect(await env.DB.prepare("select origin, applicant_name from cases where case_no = ?").bind(own.caseNo).first()).toEqual({
      origin: a.code,
      applicant_name: "真实申请人",
    });
  });

  it("flags another node's event on a case it did not accept, for the supervisors, without telling the owner or whether the case exists", async () => {
    const a = await enrolNode();
    const b = await enrolNode();
    const chainA = new Chain(a.code);
    const { caseNo } = await chainA.open();
    expect((await pushEvents(a, chainA.events)).status).toBe(200);
    const { cursor } = await json<PullResponse>(await pullAs(a, null));

    // B acts on A's case (it learnt the number somehow), and on a number of A's that does not exist.
    const chainB = new Chain(b.code);
    chainB.cases.set(caseNo, chainA.cases.get(caseNo)!);
    await chainB.act(caseNo, { action: "forward" }, "clerk");
    const unknown = caseNo.replace(/\d{4}$/, "9999");
    chainB.cases.set(unknown, { ...chainA.cases.get(caseNo)!, caseNo: unknown });
    await chainB.act(unknown, { action: "forward" }, "clerk");
    const rb = await pushEvents(b, chainB.events);
    expect(rb.status).toBe(200);

    // B's window is told its actions were not applied, in words that do not tell the two cases apart.
    expect((await json<PushResponse>(rb)).conflicts).toEqual([
      { origin: b.code, seq: 1, caseNo, reason: `办件 ${caseNo} 不是节点 ${b.code} 受理的，不能办理` },
      { origin: b.code, seq: 2, caseNo: unknown, reason: `办件 ${unknown} 不是节点 ${b.code} 受理的，不能办理` },
    ]);
    const pb = await json<PullResponse>(await pullAs(b, null));
    expect(pb.conflicts.map((c) => `${c.origin}:${c.seq}`)).toEqual([`${b.code}:1`, `${b.code}:2`]);
    // A's feed is not B's to fill: A hears nothing; the supervisors see B's attempts.
    const p = await json<PullResponse>(await pullAs(a, cursor));
    expect(p.events).toEqual([]);
    expect(p.conflicts).toEqual([]);
    const open = await json<{ conflicts: { origin: string }[] }>(await staffJson("GET", "/api/conflicts?open=1", "supervisor"));
    expect(open.conflicts.filter((c) => c.origin === b.code)).toHaveLength(2);
    const row = await env.DB.prepare("select state from cases where case_no = ?").bind(caseNo).first<{ state: string }>();
    expect(row!.state).toBe("accepted");
  });

  it("keeps and flags a signed event whose payload lacks what its type needs (within the limits), never a 500", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    expect((await pushEvents(node, chain.events)).status).toBe(200);

    // A "forwarded" event without its departments (a buggy node build), correctly chained and signed.
    const bad = await chainEvent(chain.head.hash, {
      origin: node.code,
      seq: 2,
      caseNo,
      type: "forwarded",
      payload: { role: "clerk", at: new Date(CHAIN_EPOCH_FOR_TESTS).toISOString() },
      actor: `window@${node.code}`,
      occurredAt: new Date(CHAIN_EPOCH_FOR_TESTS).toISOString(),
    });
    const res = await pushEvents(node, [bad]);
    expect(res.status).toBe(200);
    expect((await json<PushResponse>(res)).conflicts).toEqual([{ origin: node.code, seq: 2, caseNo, reason: "事件内容格式错误：note 应为文本" }]);
    expect(await env.DB.prepare("select state from cases where case_no = ?").bind(caseNo).first()).toEqual({ state: "accepted" });

    // An "opened" event without an applicant.
    const other = await enrolNode();
    const opened = await chainEvent(GENESIS_HASH, {
      origin: other.code,
      seq: 1,
      caseNo: `${other.code}-20260929-0001`,
      type: "opened",
      payload: { origin: other.code, itemCode: promisedItem.code, channel: "window" },
      actor: `window@${other.code}`,
      occurredAt: new Date(CHAIN_EPOCH_FOR_TESTS).toISOString(),
    });
    const res2 = await pushEvents(other, [opened]);
    expect(res2.status).toBe(200);
    expect((await json<PushResponse>(res2)).conflicts).toEqual([{ origin: other.code, seq: 1, caseNo: opened.caseNo, reason: "事件内容格式错误：applicant 应为对象" }]);
    expect(await countRows("select count(*) as n from cases where case_no = ?", opened.caseNo)).toBe(0);
    expect(await eventCount(other.code)).toBe(1);
  });
});

// ------------------------------------------------------------------------------------------

describe("pull", () => {
  it("snapshots catalog and calendar first, then hands out the city's decisions and calendar changes after the cursor", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    // The window forwards its case; the department suspends the clock at the city (an expert review).
    await chain.act(caseNo, { action: "forward" });
    expect((await pushEvents(node, chain.events)).status).toBe(200);
    const suspended = await json(await staffJson("POST", `/api/cases/${caseNo}/actions`, "approver", { action: "suspend", reason: "专家评审" }));
    expect(suspended).toMatchObject({ state: "in_review", event: { origin: "CITY", type: "suspended" } });

    const first = await pullAs(node, null);
    expect(first.status).toBe(200);
    const snap = await json<PullResponse>(first);
    const maxChange = await countRows("select coalesce(max(seq), 0) as n from changes");
    expect(snap).toMatchObject({ v: 2, snapshot: true, hasMore: false, cursor: maxChange, conflicts: [] });
    expect(snap.items).toHaveLength(seedItems.length);
    expect(snap.items.map((i) => i.code).sort()).toEqual(seedItems.map((i) => i.code).sort());
    expect(snap.departments).toHaveLength(seedDepartments.length);
    expect(snap.calendarDays.length).toBeGreaterThan(0);
    expect(snap.calendarDays).toHaveLength(await countRows("select count(*) as n from calendar_days"));
    expect(snap.calendarYears).toHaveLength(await countRows("select count(*) as n from calendar_years"));
    expect(snap.events.map((e) => [e.origin, e.caseNo, e.type])).toEqual([["CITY", caseNo, "suspended"]]);

    // The department resumes and decides at the city.
    const resumed = await json(await staffJson("POST", `/api/cases/${caseNo}/actions`, "approver", { action: "resume" }));
    const dec = await staffJson("POST", `/api/cases/${caseNo}/actions`, "approver", { action: "decide", decision: "grant" });
    expect(dec.status).toBe(200);
    const decided = await json(dec);
    expect(decided).toMatchObject({ state: "decided", event: { origin: "CITY", type: "decided" } });

    const second = await json<PullResponse>(await pullAs(node, snap.cursor));
    expect(second).toMatchObject({ v: 2, snapshot: false, hasMore: false, items: [], departments: [], calendarDays: [], conflicts: [] });
    expect(second.cursor).toBeGreaterThan(snap.cursor);
    // The resumption, the decision and the signed approval the city issued for the grant travel to the node.
    expect(second.events.map((e) => e.type)).toEqual(["resumed", "decided", "approval-issued"]);
    expect(second.events[0]!.hash).toBe(resumed.event.hash);
    expect(second.events.slice(1)).toEqual([
      {
        origin: "CITY",
        seq: decided.event.seq,
        caseNo,
        type: "decided",
        payload: { decision: "grant", reason: "", at: expect.stringMatching(ISO), role: "approver" },
        actor: "approver:approver-tester@CITY",
        occurredAt: expect.stringMatching(ISO),
        prevHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        hash: decided.event.hash,
      },
      {
        origin: "CITY",
        seq: decided.event.seq + 1,
        caseNo,
        type: "approval-issued",
        payload: {
          id: decided.approval.id,
          token: expect.stringMatching(/^ey[\w-]+\.[\w-]+\.[\w-]+$/),
          kid: "city-test-2",
          issuer: "CITY",
          licenceId: decided.approval.licenceId,
          issuedAt: expect.stringMatching(ISO),
          expiresAt: expect.stringMatching(ISO),
          at: expect.stringMatching(ISO),
        },
        actor: "approver:approver-tester@CITY",
        occurredAt: expect.stringMatching(ISO),
        prevHash: decided.event.hash,
        hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    ]);
    for (const ev of second.events) expect(await eventHash(ev.prevHash, ev)).toBe(ev.hash);

    const third = await json<PullResponse>(await pullAs(node, second.cursor));
    expect(third).toMatchObject({ snapshot: false, cursor: second.cursor, events: [], conflicts: [], calendarDays: [], items: [] });

    // The administrator publishes a holiday: the next pull carries it.
    const put = await staffJson("PUT", "/api/admin/calendar/days/2027-01-01", "admin", { kind: "holiday", name: "元旦" });
    expect(put.status).toBe(200);
    const day = await json(put);
    expect(day).toEqual({ date: "2027-01-01", kind: "holiday", name: "元旦", updatedAt: expect.stringMatching(ISO) });
    const fourth = await json<PullResponse>(await pullAs(node, third.cursor));
    expect(fourth.calendarDays).toEqual([day]);
    expect(fourth.events).toEqual([]);

    // And a removal reaches the node as a tombstone.
    expect((await staffJson("DELETE", "/api/admin/calendar/days/2027-01-01", "admin")).status).toBe(204);
    const fifth = await json<PullResponse>(await pullAs(node, fourth.cursor));
    expect(fifth.calendarDays).toEqual([{ date: "2027-01-01", kind: "holiday", name: "", updatedAt: expect.stringMatching(ISO), deleted: true }]);

    // Another node never sees this node's case events.
    const other = await enrolNode();
    const otherPull = await json<PullResponse>(await pullAs(other, 0));
    expect(otherPull.events.filter((e) => e.caseNo === caseNo)).toEqual([]);
  });

  it("pages with limit, in the city's order, until nothing is left", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    await chain.act(caseNo, { action: "forward" });
    expect((await pushEvents(node, chain.events)).status).toBe(200);
    const { cursor: c0 } = await json<PullResponse>(await pullAs(node, null));

    const sus = await json(await staffJson("POST", `/api/cases/${caseNo}/actions`, "approver", { action: "suspend", reason: "现场勘验" }));
    const dec = await json(await staffJson("POST", `/api/cases/${caseNo}/actions`, "approver", { action: "resume" }));

    const p1 = await json<PullResponse>(await pullAs(node, c0, { limit: 1 }));
    expect(p1).toMatchObject({ snapshot: false, hasMore: true });
    expect(p1.events.map((e) => [e.seq, e.type, e.payload.reason])).toEqual([[sus.event.seq, "suspended", "现场勘验"]]);
    const p2 = await json<PullResponse>(await pullAs(node, p1.cursor, { limit: 1 }));
    expect(p2.events.map((e) => [e.seq, e.type])).toEqual([[dec.event.seq, "resumed"]]);
    expect(p2.cursor).toBeGreaterThan(p1.cursor);
    const p3 = await json<PullResponse>(await pullAs(node, p2.cursor, { limit: 1 }));
    expect(p3).toMatchObject({ hasMore: false, cursor: p2.cursor, events: [] });
  });

  it("refuses unsigned and foreign pulls like pushes", async () => {
    const a = await enrolNode();
    const b = await enrolNode();
    const forged = await signWith(b.privateKey, a.code, { v: 1, kind: "pull", node: a.code, batchId: "pull-forged-01", sentAt: new Date().toISOString(), cursor: null });
    expect(await problem(await call("/api/sync/pull", { method: "POST", body: forged }), 401)).toEqual(badSignature(a.code, "/api/sync/pull"));
    const mismatch = await signPush(b, { v: 1, kind: "pull", node: a.code, batchId: "pull-mismatch-01", sentAt: new Date().toISOString(), cursor: null });
    expect(await problem(await call("/api/sync/pull", { method: "POST", body: mismatch }), 403)).toEqual(
      problemBody("node_mismatch", `批次声称来自 ${a.code}，但由节点 ${b.code} 签名`, "/api/sync/pull", { node: b.code, claimed: a.code }),
    );
    expect(await problem(await call("/api/sync/pull", { method: "POST", body: "nope" }), 400)).toEqual(
      problemBody("bad_request", "请求体应为节点签名的 JWS（compact serialization）", "/api/sync/pull", { field: "body" }),
    );
  });
});

// ------------------------------------------------------------------------------------------

describe("reconciliation", () => {
  it("re-verifies every stored chain and names the event whose stored content no longer matches its hash", async () => {
    const { node, chain } = await nodeHolding(3);

    const totals = async () => ({
      origins: await countRows("select count(distinct origin) as n from case_events"),
      events: await countRows("select count(*) as n from case_events"),
    });
    const verify = async () => {
      const res = await staffJson("GET", "/api/reconcile/verify", "supervisor");
      expect(res.status).toBe(200);
      return json(res);
    };

    expect(await verify()).toEqual({ ok: true, ...(await totals()), breaks: [] });

    const original = await env.DB.prepare("select payload from case_events where origin = ? and seq = 2").bind(node.code).first<{ payload: string }>();
    await env.DB.prepare("update case_events set payload = json_set(payload, '$.applicant.name', '篡改者') where origin = ? and seq = 2").bind(node.code).run();
    try {
      expect(await verify()).toEqual({ ok: false, ...(await totals()), breaks: [{ origin: node.code, seq: 2, reason: "hash_mismatch" }] });
    } finally {
      await env.DB.prepare("update case_events set payload = ? where origin = ? and seq = 2").bind(original!.payload, node.code).run();
    }
    expect(await verify()).toEqual({ ok: true, ...(await totals()), breaks: [] });
    expect(chain.head.seq).toBe(3);
  });

  it("is for supervisors and administrators only", async () => {
    for (const path of ["/api/reconcile", "/api/reconcile/verify"]) {
      expect(await problem(await call(path), 401)).toEqual({
        type: problemType("unauthorized"),
        title: "未认证",
        status: 401,
        detail: "请先登录，再查看节点对账",
        code: "unauthorized",
        instance: path,
      });
      expect(await problem(await staffJson("GET", path, "clerk"), 403)).toEqual(
        problemBody("forbidden", "窗口人员无权查看节点对账", path, { requiredRoles: ["supervisor", "admin"], role: "clerk" }),
      );
      expect((await staffJson("GET", path, "admin")).status).toBe(200);
    }
  });
});
