/**
 * Replays and races: a signed message (push, heartbeat, pull) is good once and only while fresh,
 * and of concurrent enrolments of one node code exactly one is told "enrolled".
 */
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { MAX_MESSAGE_AGE_MS, type PushPayload } from "../../domain/sync-protocol.js";
import { ingestPush } from "../../store/sync.js";
import type { Db } from "../../store/db.js";
import {
  Chain,
  countRows,
  enrolNode,
  freshCode,
  json,
  newNodeKey,
  postEnrolment,
  problem,
  problemType,
  pull,
  pullPayload,
  push,
  pushPayload,
  signPush,
} from "./helpers.js";

const contactOf = (code: string) => env.DB.prepare("select last_contact_at as at, reported_head_seq as head from node_contacts where code = ?").bind(code).first();

function replayed(node: string, batchId: string, instance: string) {
  return {
    type: problemType("replayed_batch"),
    title: "重放的同步批次",
    status: 409,
    detail: `批次 ${batchId} 已处理过，拒绝重放`,
    code: "replayed_batch",
    instance,
    node,
    batchId,
  };
}

describe("a signed message is taken once", () => {
  it("a captured heartbeat sent again is refused and does not refresh the hall's last contact", async () => {
    const node = await enrolNode();
    const payload = pushPayload(node, []);
    const jws = await signPush(node, payload);
    expect((await push(jws)).status).toBe(200);
    const first = await contactOf(node.code);
    await new Promise((r) => setTimeout(r, 5));
    expect(await problem(await push(jws), 409)).toEqual(replayed(node.code, payload.batchId, "/api/sync/push"));
    expect(await contactOf(node.code)).toEqual(first);
  });

  it("a captured pull sent again is refused, so it cannot hand the hall's cases to whoever replays it", async () => {
    const node = await enrolNode();
    const payload = pullPayload(node, null);
    const jws = await signPush(node, payload);
    expect((await pull(jws)).status).toBe(200);
    expect(await problem(await pull(jws), 409)).toEqual(replayed(node.code, payload.batchId, "/api/sync/pull"));
  });

  it("a message signed more than ten minutes away from the city's clock is refused as stale (pushes, heartbeats and pulls alike)", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    await chain.open();
    const old = new Date(Date.now() - 11 * 60_000).toISOString();
    for (const [path, send] of [
      ["/api/sync/push", () => signPush(node, pushPayload(node, chain.events, { sentAt: old })).then(push)],
      ["/api/sync/push", () => signPush(node, pushPayload(node, [], { sentAt: old })).then(push)],
      ["/api/sync/pull", () => signPush(node, pullPayload(node, null, { sentAt: old })).then(pull)],
    ] as const) {
      const body = await problem(await send(), 400);
      expect(body).toEqual({
        type: problemType("stale_message"),
        title: "同步请求已过期或节点时钟偏差过大",
        status: 400,
        detail: "请求的签发时间与市级时钟相差 11 分钟，超过 10 分钟：请校准节点的系统时间后重试",
        code: "stale_message",
        instance: path,
        node: node.code,
        sentAt: old,
        serverTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        skewMs: Date.parse(old) - Date.parse(body.serverTime as string),
      });
    }
    // A clock running ahead by as much is refused too.
    const ahead = new Date(Date.now() + 11 * 60_000).toISOString();
    expect(await problem(await push(await signPush(node, pushPayload(node, [], { sentAt: ahead }))), 400)).toMatchObject({ code: "stale_message", sentAt: ahead });
    expect(await countRows("select count(*) as n from case_events where origin = ?", node.code)).toBe(0);
    expect(await contactOf(node.code)).toBeNull();
  });

  it("remembers message ids only as long as a replay could still be fresh", async () => {
    const node = await enrolNode();
    const db = drizzle(env.DB) as unknown as Db;
    const t0 = new Date();
    const heartbeat = (at: Date): PushPayload => pushPayload(node, [], { sentAt: at.toISOString() });
    expect((await ingestPush(db, node.code, heartbeat(t0), t0)).kind).toBe("ok");
    const t1 = new Date(t0.getTime() + MAX_MESSAGE_AGE_MS);
    expect((await ingestPush(db, node.code, heartbeat(t1), t1)).kind).toBe("ok");
    expect(await countRows("select count(*) as n from sync_batches where node = ?", node.code)).toBe(2);
    // Twice the freshness window after the first, its id can no longer be replayed (it would be stale): it goes.
    const t2 = new Date(t0.getTime() + 2 * MAX_MESSAGE_AGE_MS + 1);
    expect((await ingestPush(db, node.code, heartbeat(t2), t2)).kind).toBe("ok");
    expect(await countRows("select count(*) as n from sync_batches where node = ?", node.code)).toBe(2);
  });
});

describe("concurrent enrolment of one node code", () => {
  it("ten enrolments with ten keys at once: exactly one is enrolled (201), nine are told another key holds the code (409)", async () => {
    const code = freshCode("RACE");
    const keys = await Promise.all(Array.from({ length: 10 }, () => newNodeKey()));
    const answers = await Promise.all(keys.map((k) => postEnrolment({ code, name: "竞争镇", publicJwk: k.publicJwk })));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    const winner = keys[answers.findIndex((r) => r.status === 201)]!;
    const stored = await env.DB.prepare("select public_jwk from nodes where code = ?").bind(code).first<{ public_jwk: string }>();
    expect(JSON.parse(stored!.public_jwk).x).toBe(winner.publicJwk.x);
    for (const r of answers.filter((x) => x.status === 409)) {
      expect(await json(r)).toEqual({
        type: problemType("conflict"),
        title: "与现有数据冲突",
        status: 409,
        detail: `节点 ${code} 已用另一把公钥登记；如需换钥请先撤销`,
        code: "conflict",
        instance: "/api/admin/nodes",
        node: code,
      });
    }
  });

  it("ten enrolments with the same key at once: one 201, nine 200, one row", async () => {
    const code = freshCode("SAME");
    const { publicJwk } = await newNodeKey();
    const answers = await Promise.all(Array.from({ length: 10 }, () => postEnrolment({ code, name: "同钥镇", publicJwk })));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(await countRows("select count(*) as n from nodes where code = ?", code)).toBe(1);
  });
});
