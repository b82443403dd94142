/**
 * Chain continuity at the city (README "Replication": "the city checks … every event's hash and
 * chain continuity"). Two separate checks guard it, and each test here fails if one is removed:
 *
 * - the link to the city's head (domain/ingest.ts planIngest): a batch whose first new event does
 *   not chain on the head the city holds is a divergence, answered 200 and recorded, never stored;
 * - the links inside a batch (checkBatch): consecutive seqs, each event's prevHash the hash of the
 *   one before, else 400 invalid_batch `not_contiguous`, nothing written at all.
 *
 * Every forged event is built honestly: its hash is recomputed over the prevHash it carries, so the
 * per-event hash check passes and only the link (or the seq) is wrong.
 *
 * Tests in this file share one D1: each enrols its own node and builds its own chain, and stores
 * only valid chains, so /api/reconcile/verify is ok whatever ran before.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { chainEvent, eventHash, GENESIS_HASH, type ChainedEvent } from "../../domain/events.js";
import type { PushResponse } from "../../domain/sync-protocol.js";
import { Chain, countRows, enrolNode, footprint, json, NOTHING, problem, problemType, pushEvents, staffJson, type TestNode } from "./helpers.js";

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** `e` placed after `prevHash` instead of its own predecessor, with its hash recomputed honestly. */
async function rechained(prevHash: string, e: ChainedEvent, seq = e.seq): Promise<ChainedEvent> {
  const { prevHash: _p, hash: _h, ...body } = e;
  const out = await chainEvent(prevHash, { ...body, seq });
  // The event's own hash is right: only where it links differs from the node's real chain.
  expect(await eventHash(out.prevHash, out)).toBe(out.hash);
  return out;
}

/** The head hash of another history of the same origin (a node restored from someone else's backup). */
async function foreignHash(origin: string, length: number): Promise<string> {
  const other = new Chain(origin);
  for (let i = 0; i < length; i++) await other.open({ applicantName: `另一历史申请人${i + 1}` });
  return other.head.hash;
}

/** What D1 holds of an origin's chain, in seq order. */
async function storedEvents(origin: string) {
  const { results } = await env.DB.prepare("select origin, seq, case_no, prev_hash, hash from case_events where origin = ? order by seq").bind(origin).all();
  return results;
}


/** The city's re-walk of every stored chain, with the totals it must report. */
async function verifyAll() {
  const res = await staffJson("GET", "/api/reconcile/verify", "supervisor");
  expect(res.status).toBe(200);
  return json(res);
}
const allChainsOk = async () => ({
  ok: true,
  origins: await countRows("select count(distinct origin) as n from case_events"),
  events: await countRows("select count(*) as n from case_events"),
  breaks: [],
});

/** A node whose first `n` events the city holds, and its chain grown `more` events past that. */
async function nodeWithChain(n: number, more: number): Promise<{ node: TestNode; chain: Chain }> {
  const node = await enrolNode();
  const chain = new Chain(node.code);
  for (let i = 0; i < n + more; i++) await chain.open();
  if (n > 0) {
    const res = await pushEvents(node, chain.range(1, n));
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ ackedSeq: n, chainHead: chain.event(n).hash, stored: n, divergence: null });
  }
  return { node, chain };
}

/** The whole 400 body for a batch that breaks continuity at `seq`. */
const notContiguous = (node: string, seq: number) => ({
  type: problemType("invalid_batch"),
  title: "同步批次不合法",
  status: 400,
  detail: `批次在序号 ${seq} 处不合法：not_contiguous`,
  code: "invalid_batch",
  instance: "/api/sync/push",
  node,
  seq,
  reason: "not_contiguous",
});

// ------------------------------------------------------------------------------------------

describe("a batch that does not link to the city's chain head", () => {
  it("is a divergence at its first event: 200, recorded, nothing stored, the chains still verify", async () => {
    const { node, chain } = await nodeWithChain(3, 2);
    const held = await storedEvents(node.code);
    const casesOf = async () => (await env.DB.prepare("select * from cases where origin = ? order by case_no").bind(node.code).all()).results;
    const heldCases = await casesOf();
    const before = await footprint(node.code);

    // Seq 4 and 5 as the node would write them, but placed on a seq-3 the city never saw.
    const first = await rechained(await foreignHash(node.code, 3), chain.event(4));
    const second = await rechained(first.hash, chain.event(5));
    expect(first.prevHash).not.toBe(chain.event(3).hash);

    const res = await pushEvents(node, [first, second]);
    expect(res.status).toBe(200);
    expect(await json<PushResponse>(res)).toEqual({
      v: 2,
      ackedSeq: 3,
      chainHead: chain.event(3).hash,
      stored: 0,
      duplicates: 0,
      conflicts: [],
      // The city compares the link with the head it holds, so that is the hash it reports.
      divergence: { seq: 4, heldHash: chain.event(3).hash, receivedHash: first.hash },
      serverTime: expect.stringMatching(ISO),
      skewMs: expect.any(Number),
      clockFlagged: false,
    });

    // Neither event is stored, no case changed; the batch and the divergence are recorded.
    expect(await storedEvents(node.code)).toEqual(held);
    expect(await casesOf()).toEqual(heldCases);
    expect(await countRows("select count(*) as n from cases where case_no in (?, ?)", first.caseNo, second.caseNo)).toBe(0);
    expect(await footprint(node.code)).toEqual({ ...before, batches: before.batches + 1, divergences: 1 });
    const { results: rows } = await env.DB.prepare("select * from divergences where origin = ?").bind(node.code).all<Record<string, unknown>>();
    expect(rows).toEqual([
      { origin: node.code, seq: 4, held_hash: chain.event(3).hash, received_hash: first.hash, received: expect.any(String), detected_at: expect.stringMatching(ISO) },
    ]);
    expect(JSON.parse(rows[0]!.received as string)).toEqual(first);

    expect(await verifyAll()).toEqual(await allChainsOk());

    // The head did not move: the node's real seq 4 and 5 still chain on and are taken.
    const honest = await pushEvents(node, chain.range(4, 5));
    expect(await json(honest)).toMatchObject({ ackedSeq: 5, chainHead: chain.event(5).hash, stored: 2, duplicates: 0, divergence: null });
    expect(await verifyAll()).toEqual(await allChainsOk());
  });

  it("a node's very first event must start from the genesis hash", async () => {
    const { node, chain } = await nodeWithChain(0, 1);
    const first = await rechained(await foreignHash(node.code, 2), chain.event(1));
    expect(first.prevHash).not.toBe(GENESIS_HASH);

    const res = await pushEvents(node, [first]);
    expect(res.status).toBe(200);
    expect(await json<PushResponse>(res)).toEqual({
      v: 2,
      ackedSeq: 0,
      chainHead: GENESIS_HASH,
      stored: 0,
      duplicates: 0,
      conflicts: [],
      divergence: { seq: 1, heldHash: GENESIS_HASH, receivedHash: first.hash },
      serverTime: expect.stringMatching(ISO),
      skewMs: expect.any(Number),
      clockFlagged: false,
    });
    expect(await footprint(node.code)).toEqual({ events: 0, cases: 0, batches: 1, contacts: 1, conflicts: 0, divergences: 1 });
    expect(await countRows("select count(*) as n from cases where case_no = ?", first.caseNo)).toBe(0);
    expect(await verifyAll()).toEqual(await allChainsOk());
  });
});

describe("a batch whose events do not link to each other", () => {
  it("400 not_contiguous for a hole in the seqs, though every link and hash is right; nothing written", async () => {
    const { node, chain } = await nodeWithChain(2, 4);
    const before = await footprint(node.code);
    // Seqs 3, 4, 6: seq 6 carries event 5's content, chained on event 4, hash recomputed.
    const skipped = await rechained(chain.event(4).hash, chain.event(5), 6);
    expect(skipped.prevHash).toBe(chain.event(4).hash);

    expect(await problem(await pushEvents(node, [chain.event(3), chain.event(4), skipped]), 400)).toEqual(notContiguous(node.code, 6));
    expect(await footprint(node.code)).toEqual(before);
    expect((await storedEvents(node.code)).map((r) => r.seq)).toEqual([1, 2]);
  });

  it("400 not_contiguous for an event whose prevHash is not its predecessor's hash, though seqs are consecutive; nothing written", async () => {
    const { node, chain } = await nodeWithChain(2, 3);
    const before = await footprint(node.code);
    // Seq 5 as the node wrote it, but chained on a seq-4 of another history.
    const unlinked = await rechained(await foreignHash(node.code, 4), chain.event(5));
    expect(unlinked.prevHash).not.toBe(chain.event(4).hash);

    expect(await problem(await pushEvents(node, [chain.event(3), chain.event(4), unlinked]), 400)).toEqual(notContiguous(node.code, 5));
    expect(await footprint(node.code)).toEqual(before);
    expect((await storedEvents(node.code)).map((r) => r.seq)).toEqual([1, 2]);
    expect(await countRows("select count(*) as n from cases where case_no in (?, ?)", chain.event(3).caseNo, chain.event(4).caseNo)).toBe(0);
  });
});
