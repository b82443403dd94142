/**
 * A node offline across an administrator's change works with the catalog and calendar of its last
 * pull. The city judges its events by that reference too (kept as versions when the change was
 * made), so honest offline work is accepted — and work made with a reference the node could not
 * have had is not.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { PushResponse } from "../../domain/sync-protocol.js";
import { seedItems } from "../../schema/seed/catalog.js";
import { call, Chain, completeMaterials, countRows, enrolNode, json, pullAs, pushEvents, staffJson, type TestNode } from "./helpers.js";

/** The admin route's body for an item: the seed's own guide with some fields changed. */
function itemBody(item: (typeof seedItems)[number], change: Partial<(typeof seedItems)[number]>) {
  const { code: _c, basicCode: _b, category: _cat, level: _l, ...guide } = { ...item, ...change } as Record<string, unknown>;
  return guide;
}

async function pushed(node: TestNode, chain: Chain, over: { sentAt?: string } = {}): Promise<PushResponse> {
  const res = await pushEvents(node, chain.events, over);
  expect(res.status).toBe(200);
  return json<PushResponse>(res);
}

/**
 * An enrolled node that has pushed a heartbeat and pulled up to today's change feed, and pulled
 * again with that cursor: the city knows it applied today's catalog and calendar.
 */
async function pulledNode(): Promise<{ node: TestNode; cursor: number }> {
  const node = await enrolNode();
  expect((await pushEvents(node, [], { headSeq: 0 })).status).toBe(200);
  const first = await json<{ cursor: number }>(await pullAs(node, null));
  expect((await pullAs(node, first.cursor)).status).toBe(200);
  return { node, cursor: first.cursor };
}

/** Pulls what changed since `cursor`, then asks again with the new cursor: proof that the node applied it. */
async function pullAndApply(node: TestNode, cursor: number): Promise<number> {
  const next = await json<{ cursor: number }>(await pullAs(node, cursor));
  expect((await pullAs(node, next.cursor)).status).toBe(200);
  return next.cursor;
}

describe("a node offline across a change", () => {
  it("a holiday entered after the node's last pull: its deadline, computed without it, is accepted", async () => {
    const { node, cursor } = await pulledNode();
    const chain = new Chain(node.code);
    // Made offline (the node's calendar has no such holiday); the city then enters one inside its window.
    const opened = await chain.open();
    const nodeDeadline = chain.cases.get(opened.caseNo)!.deadlineAt;
    expect((await staffJson("PUT", "/api/admin/calendar/days/2026-09-30", "admin", { kind: "holiday", name: "临时调整" })).status).toBe(200);
    try {
      expect((await pushed(node, chain)).conflicts).toEqual([]);
      expect(await env.DB.prepare("select deadline_at from cases where case_no = ?").bind(opened.caseNo).first()).toEqual({ deadline_at: nodeDeadline });
      // Once the node has pulled the change and says so (its next pull's cursor), a deadline
      // computed without it is no longer its to claim.
      await pullAndApply(node, cursor);
      const late = await chain.open();
      const body = await pushed(node, chain);
      expect(body.conflicts).toEqual([{ origin: node.code, seq: late.seq, caseNo: late.caseNo, reason: expect.stringMatching(/^字段 deadlineAt：/) }]);
    } finally {
      // The other tests of this file share the database: put the calendar back.
      expect((await staffJson("DELETE", "/api/admin/calendar/days/2026-09-30", "admin")).status).toBe(204);
    }
  });

  it("an item renamed after the node's last pull: the old name is accepted", async () => {
    const item = seedItems.find((i) => i.kind === "promised" && i.places.includes("township") && i.name.startsWith("户口迁移"))!;
    const { node } = await pulledNode();
    const chain = new Chain(node.code);
    const opened = await chain.open({ item, materials: completeMaterials(item) });
    expect((await staffJson("PUT", `/api/admin/catalog/items/${item.code}`, "admin", itemBody(item, { name: `${item.name}（更正）` }))).status).toBe(200);
    expect((await pushed(node, chain)).conflicts).toEqual([]);
    expect(await env.DB.prepare("select item_name from cases where case_no = ?").bind(opened.caseNo).first()).toEqual({ item_name: item.name });
  });

  it("an item reclassified after a window granted it: the grant stands and the city signs the result", async () => {
    const item = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township") && !i.name.startsWith("出生登记"))!;
    const { node } = await pulledNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open({ item, materials: completeMaterials(item) });
    await chain.act(caseNo, { action: "decide", decision: "grant" });
    expect((await staffJson("PUT", `/api/admin/catalog/items/${item.code}`, "admin", itemBody(item, { kind: "promised" }))).status).toBe(200);
    expect((await pushed(node, chain)).conflicts).toEqual([]);
    const queryCode = chain.cases.get(caseNo)!.queryCode;
    const res = await call(`/api/cases/${caseNo}/result?queryCode=${queryCode}`, { headers: { accept: "application/json" } });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ issuer: "CITY", status: "valid" });
    // The version the node worked with is kept.
    expect(await countRows("select count(*) as n from service_item_versions where code = ?", item.code)).toBe(1);
  });

  it("a node that keeps pushing without pulling keeps its old reference only for work made within five minutes of its first push", async () => {
    const item = seedItems.find((i) => i.kind === "promised" && i.places.includes("township") && !i.name.startsWith("户口迁移"))!;
    const { node } = await pulledNode();
    expect((await pushEvents(node, [], { headSeq: 0 })).status).toBe(200);
    expect((await staffJson("PUT", `/api/admin/catalog/items/${item.code}`, "admin", itemBody(item, { name: `${item.name}（新）` }))).status).toBe(200);
    const chain = new Chain(node.code);
    // Both made with the old name and pushed with the node's clock; only the first is early enough.
    const early = new Date(Date.now() + 60_000);
    const d1 = chain.openDraft({ item, materials: completeMaterials(item), at: early });
    await chain.forge({ caseNo: d1.caseNo, type: d1.type, payload: d1.payload }, { at: early });
    expect((await pushed(node, chain, { sentAt: early.toISOString() })).conflicts).toEqual([]);
    const late = new Date(Date.now() + 6 * 60_000);
    const d2 = chain.openDraft({ item, materials: completeMaterials(item), at: late });
    await chain.forge({ caseNo: d2.caseNo, type: d2.type, payload: d2.payload }, { at: late });
    const body = await pushed(node, chain, { sentAt: late.toISOString() });
    expect(body.conflicts).toEqual([{ origin: node.code, seq: 2, caseNo: d2.caseNo, reason: `字段 itemName：节点为 "${item.name}"，按市级目录与规则应为 "${item.name}（新）"` }]);
  });
});
