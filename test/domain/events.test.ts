/**
 * Canonical event encoding and the per-origin hash chain. Hashes are recomputed here with
 * node:crypto, independently of the domain's Web Crypto implementation.
 */
import { createHash } from "node:crypto";
import { describe, it, expect } from "vitest";
import {
  GENESIS_HASH,
  canonicalEvent,
  canonicalJson,
  chainEvent,
  eventHash,
  sha256Hex,
  verifyChain,
  type ChainedEvent,
  type ChainedEventBody,
} from "../../domain/events.js";

const nodeSha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("canonicalJson", () => {
  it("sorts keys recursively and writes no whitespace", () => {
    const v = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } };
    expect(canonicalJson(v)).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
  });

  it("gives the same bytes whatever the insertion order", () => {
    const a = { x: 1, y: { p: [1, 2], q: null }, z: "终" };
    const b = { z: "终", y: { q: null, p: [1, 2] }, x: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
  });

  it("orders keys by UTF-16 code unit", () => {
    // B (0x42) < Z (0x5A) < _ (0x5F) < a (0x61) < b < 中 (0x4E2D)
    expect(canonicalJson({ b: 1, a: 2, B: 3, _: 4, 中: 5, Z: 6 })).toBe('{"B":3,"Z":6,"_":4,"a":2,"b":1,"中":5}');
    // 😀 is U+1F600 = \uD83D\uDE00, which sorts before ﬁ U+FB01 by code unit (but after it by code point).
    expect(canonicalJson({ "\uFB01": 2, "\u{1F600}": 1 })).toBe('{"\u{1F600}":1,"\uFB01":2}');
  });

  it("keeps Chinese text literal and stable", () => {
    const v = { 部门: "市场监督管理局", 名称: "营业执照", 备注: "引号\"与反斜杠\\" };
    const expected = '{"名称":"营业执照","备注":"引号\\"与反斜杠\\\\","部门":"市场监督管理局"}';
    // 名 U+540D < 备 U+5907 < 部 U+90E8
    expect(canonicalJson(v)).toBe(expected);
    expect(canonicalJson({ 备注: v.备注, 部门: v.部门, 名称: v.名称 })).toBe(expected);
    expect(canonicalJson(v)).not.toContain("\\u");
  });

  it("drops undefined members, writes undefined array items as null", () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson([undefined, 1, null])).toBe("[null,1,null]");
    expect(canonicalJson(null)).toBe("null");
    expect(canonicalJson(undefined)).toBe("null");
    expect(canonicalJson("x")).toBe('"x"');
    expect(canonicalJson(true)).toBe("true");
    expect(canonicalJson(-1.5)).toBe("-1.5");
    expect(canonicalJson([])).toBe("[]");
    expect(canonicalJson({})).toBe("{}");
  });

  it("refuses non-finite numbers", () => {
    expect(() => canonicalJson({ a: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson([Number.POSITIVE_INFINITY])).toThrow(TypeError);
  });
});

const body: ChainedEventBody = {
  origin: "QZ01",
  seq: 1,
  caseNo: "QZ01-20260309-0001",
  type: "opened",
  payload: { state: "accepted", applicant: { phone: "13800138000", name: "张三" }, materials: ["m-id", "m-form"] },
  actor: "clerk:王五",
  occurredAt: "2026-03-09T02:00:00.000Z",
};
const bodyCanonical =
  '{"actor":"clerk:王五","caseNo":"QZ01-20260309-0001","occurredAt":"2026-03-09T02:00:00.000Z","origin":"QZ01",' +
  '"payload":{"applicant":{"name":"张三","phone":"13800138000"},"materials":["m-id","m-form"],"state":"accepted"},' +
  '"seq":1,"type":"opened"}';

describe("hashing", () => {
  it("sha256Hex matches the FIPS 180-2 test vector and node:crypto on UTF-8 text", async () => {
    expect(await sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(await sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(await sha256Hex("张三办件")).toBe(nodeSha256("张三办件"));
  });

  it("GENESIS_HASH is 64 zeros", () => {
    expect(GENESIS_HASH).toBe("0000000000000000000000000000000000000000000000000000000000000000");
  });

  it("canonicalEvent covers exactly the hashed fields in sorted order", () => {
    expect(canonicalEvent(body)).toBe(bodyCanonical);
    // Extra fields (prevHash, hash, anything else) are not part of the canonical bytes.
    const withExtras = { ...body, prevHash: "x", hash: "y", note: "ignored" } as ChainedEventBody;
    expect(canonicalEvent(withExtras)).toBe(bodyCanonical);
  });

  it("eventHash = SHA-256(prevHash ‖ canonical), hex", async () => {
    expect(await eventHash(GENESIS_HASH, body)).toBe(nodeSha256(GENESIS_HASH + bodyCanonical));
    const prev = nodeSha256("previous");
    expect(await eventHash(prev, body)).toBe(nodeSha256(prev + bodyCanonical));
    expect(await eventHash(prev, body)).not.toBe(await eventHash(GENESIS_HASH, body));
  });

  it("chainEvent records prevHash and hash", async () => {
    const e = await chainEvent(GENESIS_HASH, body);
    expect(e.prevHash).toBe(GENESIS_HASH);
    expect(e.hash).toBe(nodeSha256(GENESIS_HASH + bodyCanonical));
    expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

async function buildChain(n: number, origin = "QZ01"): Promise<ChainedEvent[]> {
  const out: ChainedEvent[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= n; seq++) {
    const e = await chainEvent(prev, {
      origin,
      seq,
      caseNo: `${origin}-20260309-000${seq}`,
      type: seq === 1 ? "opened" : "forwarded",
      payload: { step: seq, note: `第${seq}步` },
      actor: "clerk:王五",
      occurredAt: `2026-03-09T0${seq}:00:00.000Z`,
    });
    out.push(e);
    prev = e.hash;
  }
  return out;
}

describe("verifyChain", () => {
  it("accepts an intact 5-event chain, whose links are independently verifiable", async () => {
    const chain = await buildChain(5);
    expect(await verifyChain(chain)).toEqual([]);
    let prev = GENESIS_HASH;
    for (const e of chain) {
      expect(e.prevHash).toBe(prev);
      expect(e.hash).toBe(nodeSha256(prev + canonicalEvent(e)));
      prev = e.hash;
    }
  });

  it("flags a changed payload byte as hash_mismatch at that seq", async () => {
    const chain = await buildChain(5);
    const e3 = chain[2]!;
    chain[2] = { ...e3, payload: { step: 3, note: "第4步" } };
    expect(await verifyChain(chain)).toEqual([{ origin: "QZ01", seq: 3, reason: "hash_mismatch" }]);
  });

  it("flags a changed actor or timestamp", async () => {
    const chain = await buildChain(5);
    chain[0] = { ...chain[0]!, actor: "clerk:李四" };
    chain[4] = { ...chain[4]!, occurredAt: "2026-03-09T05:00:01.000Z" };
    expect(await verifyChain(chain)).toEqual([
      { origin: "QZ01", seq: 1, reason: "hash_mismatch" },
      { origin: "QZ01", seq: 5, reason: "hash_mismatch" },
    ]);
  });

  it("flags a rewritten hash at that seq and the broken link after it", async () => {
    const chain = await buildChain(5);
    chain[1] = { ...chain[1]!, hash: "f".repeat(64) };
    expect(await verifyChain(chain)).toEqual([
      { origin: "QZ01", seq: 2, reason: "hash_mismatch" },
      { origin: "QZ01", seq: 3, reason: "prev_hash_mismatch" },
    ]);
  });

  it("flags a removed event as a gap", async () => {
    const chain = await buildChain(5);
    const without3 = [chain[0]!, chain[1]!, chain[3]!, chain[4]!];
    expect(await verifyChain(without3)).toEqual([
      { origin: "QZ01", seq: 4, reason: "gap" },
      { origin: "QZ01", seq: 4, reason: "prev_hash_mismatch" },
    ]);
    // Dropping the first event breaks at once too: seq 2 is where 1 was due, and it links to an
    // event that is not there; the rest of the chain links on from it.
    expect(await verifyChain(chain.slice(1))).toEqual([
      { origin: "QZ01", seq: 2, reason: "gap" },
      { origin: "QZ01", seq: 2, reason: "prev_hash_mismatch" },
    ]);
  });

  it("breaks on reordering", async () => {
    const chain = await buildChain(5);
    const swapped = [chain[0]!, chain[1]!, chain[3]!, chain[2]!, chain[4]!];
    // Walked in list order 1, 2, 4, 3, 5: each of the last three is not the seq due after the one
    // before it, nor linked to it; every event's own hash still holds.
    expect(await verifyChain(swapped)).toEqual([
      { origin: "QZ01", seq: 4, reason: "gap" },
      { origin: "QZ01", seq: 4, reason: "prev_hash_mismatch" },
      { origin: "QZ01", seq: 3, reason: "gap" },
      { origin: "QZ01", seq: 3, reason: "prev_hash_mismatch" },
      { origin: "QZ01", seq: 5, reason: "gap" },
      { origin: "QZ01", seq: 5, reason: "prev_hash_mismatch" },
    ]);
  });

  it("flags an event spliced in from another origin's chain", async () => {
    const a = await buildChain(3, "QZ01");
    const b = await buildChain(3, "QZ02");
    const mixed = [a[0]!, b[1]!, a[2]!];
    // QZ02's seq 2 does not link to QZ01's seq 1, and QZ01's seq 3 does not link to it.
    expect(await verifyChain(mixed)).toEqual([
      { origin: "QZ02", seq: 2, reason: "prev_hash_mismatch" },
      { origin: "QZ01", seq: 3, reason: "prev_hash_mismatch" },
    ]);
  });

  it("continues from a known checkpoint", async () => {
    const chain = await buildChain(5);
    const tail = chain.slice(2);
    expect(await verifyChain(tail, { seq: 2, hash: chain[1]!.hash })).toEqual([]);
    expect(await verifyChain(tail, { seq: 2, hash: chain[0]!.hash })).toEqual([{ origin: "QZ01", seq: 3, reason: "prev_hash_mismatch" }]);
    expect(await verifyChain(tail, { seq: 1, hash: chain[1]!.hash })).toEqual([{ origin: "QZ01", seq: 3, reason: "gap" }]);
  });

  it("accepts an empty list", async () => {
    expect(await verifyChain([])).toEqual([]);
  });
});
