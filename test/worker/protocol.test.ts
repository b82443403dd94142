/**
 * Sync protocol versions at the city, and the hall's accounts in the pull feed (workerd, local D1).
 * A node one version behind keeps syncing in its own format; a version the city does not speak is
 * refused, saying which it does; every answer carries exactly what its version's schema describes.
 *
 * Tests share one D1: each enrols its own nodes and makes its own accounts.
 */
import { env } from "cloudflare:test";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { PULL_LISTS_V2 } from "../../domain/sync-items.js";
import { SYNC_MESSAGES, type PullResponse } from "../../domain/sync-protocol.js";
import type { Db } from "../../store/db.js";
import { testCityAccounts } from "../shared/city-accounts.js";
import { enrolNode, footprint, json, makeEvents, newBatchId, NOTHING, problem, problemBody, pull, pullAs, push, signPush, staffJson, type TestNode } from "./helpers.js";

const accounts = testCityAccounts(drizzle(env.DB) as unknown as Db);

/** The reconciliation row of one node. */
async function reconciliationOf(code: string): Promise<Record<string, unknown>> {
  const { nodes } = await json<{ nodes: Record<string, unknown>[] }>(await staffJson("GET", "/api/reconcile", "supervisor"));
  return nodes.find((n) => n.code === code)!;
}

/** A version 1 message exactly as a node of that version makes it (checked against the version 1 schema). */
function v1Push(node: TestNode, events: unknown[]) {
  return SYNC_MESSAGES[1].pushPayload.parse({ v: 1, kind: "push", node: node.code, batchId: newBatchId(), sentAt: new Date().toISOString(), headSeq: events.length, events });
}
function v1Pull(node: TestNode, cursor: number | null) {
  return SYNC_MESSAGES[1].pullPayload.parse({ v: 1, kind: "pull", node: node.code, batchId: newBatchId(), sentAt: new Date().toISOString(), cursor });
}

/** The members of a version 1 pull answer, and of a version 2 one. */
const V1_MEMBERS = ["calendarDays", "calendarYears", "conflicts", "cursor", "delegations", "departments", "events", "hasMore", "items", "revocations", "serverTime", "snapshot", "v"];
const V2_MEMBERS = [...V1_MEMBERS, "accounts", "departedAccounts"].sort();

/** An account as the pull carries it. */
const asPulled = (a: Awaited<ReturnType<typeof accounts.create>>) => ({
  id: a.id,
  login: a.login,
  name: a.name,
  role: a.role,
  hall: a.hall,
  department: a.department,
  passwordHash: a.passwordHash,
  mustChangePassword: a.mustChangePassword,
  disabledAt: a.disabledAt,
  updatedAt: a.updatedAt,
});

describe("a node one version behind", () => {
  it("keeps syncing: its push is taken and answered in version 1, its pull in the version 1 format (no accounts), and reconciliation says it needs an upgrade", async () => {
    const node = await enrolNode();
    await accounts.create({ id: `${node.code.toLowerCase()}.clerk`, hall: node.code });
    const events = await makeEvents(node.code, 2);

    const pushed = await push(await signPush(node, v1Push(node, events)));
    expect(pushed.status).toBe(200);
    const ack = SYNC_MESSAGES[1].pushResponse.parse(await json(pushed));
    expect(ack).toMatchObject({ v: 1, ackedSeq: 2, chainHead: events[1]!.hash, stored: 2, duplicates: 0, conflicts: [], divergence: null });
    expect(await reconciliationOf(node.code)).toMatchObject({ ackedSeq: 2, protocolVersion: 1, upgradeNeeded: true });

    const pulled = await pull(await signPush(node, v1Pull(node, null)));
    expect(pulled.status).toBe(200);
    const body = await json<Record<string, unknown>>(pulled);
    expect(Object.keys(body).sort()).toEqual(V1_MEMBERS);
    expect(SYNC_MESSAGES[1].pullResponse.safeParse(body).success).toBe(true);
    expect(body).toMatchObject({ v: 1, snapshot: true, hasMore: false });
    expect(await reconciliationOf(node.code)).toMatchObject({ protocolVersion: 1, upgradeNeeded: true });

    // Upgraded, the node asks for every account of its hall once: its version 1 cursor is past them.
    const upgraded = await json<PullResponse>(await pullAs(node, body.cursor as number, { accountsSnapshot: true }));
    expect(upgraded).toMatchObject({ v: 2, accounts: [{ id: `${node.code.toLowerCase()}.clerk`, hall: node.code }], departedAccounts: [] });
    // Without asking, a pull after that cursor has no account in it: nothing changed since.
    expect(await json<PullResponse>(await pullAs(node, body.cursor as number))).toMatchObject({ v: 2, accounts: [], departedAccounts: [] });
    expect(await reconciliationOf(node.code)).toMatchObject({ protocolVersion: 2, upgradeNeeded: false });
  });
});

describe("versions the city does not speak", () => {
  for (const [v, detail] of [
    [0, "同步协议版本 0 不受支持：市级支持版本 1–2（当前版本 2），请将节点升级到受支持的版本"],
    [3, "同步协议版本 3 不受支持：市级支持版本 1–2（当前版本 2），请先升级市级系统"],
  ] as const) {
    it(`refuses version ${v} with 400 unsupported_protocol naming the supported versions, push and pull alike, and records nothing`, async () => {
      const node = await enrolNode();
      const events = await makeEvents(node.code, 1);
      const extra = { protocolVersion: 2, supportedVersions: { min: 1, max: 2 }, received: v };
      const pushBody = { v, kind: "push", node: node.code, batchId: newBatchId(), sentAt: new Date().toISOString(), headSeq: 1, events };
      expect(await problem(await push(await signPush(node, pushBody)), 400)).toEqual(problemBody("unsupported_protocol", detail, "/api/sync/push", extra));
      const pullBody = { v, kind: "pull", node: node.code, batchId: newBatchId(), sentAt: new Date().toISOString(), cursor: null };
      expect(await problem(await pull(await signPush(node, pullBody)), 400)).toEqual(problemBody("unsupported_protocol", detail, "/api/sync/pull", extra));
      expect(await footprint(node.code)).toEqual(NOTHING);
      expect(await reconciliationOf(node.code)).toMatchObject({ protocolVersion: null, upgradeNeeded: false });
    });
  }
});

describe("what the city answers", () => {
  it("a version 2 answer carries exactly the members its schema describes, for the answer and for every item in it", async () => {
    const node = await enrolNode();
    await accounts.create({ id: `${node.code.toLowerCase()}.one`, hall: node.code });
    const events = await makeEvents(node.code, 1);
    expect((await push(await signPush(node, { ...v1Push(node, events), v: 2 }))).status).toBe(200);
    const body = await json<Record<string, unknown[]>>(await pullAs(node, null));
    expect(Object.keys(body).sort()).toEqual(V2_MEMBERS);
    expect(SYNC_MESSAGES[2].pullResponse.safeParse(body).success).toBe(true);
    // A column added at the city (say, to service_items) without a new protocol version would show here.
    for (const [list, schema] of Object.entries(PULL_LISTS_V2)) {
      if (!(schema instanceof z.ZodObject)) continue;
      const known = new Set(Object.keys(schema.shape));
      const undocumented = [...new Set((body[list] ?? []).flatMap((item) => Object.keys(item as object).filter((k) => !known.has(k))))];
      expect(undocumented, `members of ${list} not in its schema`).toEqual([]);
    }
    expect(body.items!.length).toBeGreaterThan(0);
    expect(body.accounts).toHaveLength(1);
  });
});

describe("accounts in the pull feed", () => {
  it("a first pull carries every staff account of the node's hall, disabled ones too — never an applicant, the city's staff or another hall's", async () => {
    const node = await enrolNode();
    const other = await enrolNode();
    const p = node.code.toLowerCase();
    const clerk = await accounts.create({ id: `${p}.clerk`, hall: node.code, name: "窗口甲" });
    const supervisor = await accounts.create({ id: `${p}.sup`, hall: node.code, role: "supervisor", mustChangePassword: true });
    await accounts.create({ id: `${p}.gone`, hall: node.code });
    const disabled = await accounts.update(`${p}.gone`, { disabledAt: "2026-11-20T01:00:00.000Z" });
    await accounts.create({ id: `${p}.city`, hall: "CITY", role: "approver", department: "GAJ" });
    await accounts.create({ id: `${p}.other`, hall: other.code });
    await accounts.create({ id: `${p}.applicant`, hall: node.code, role: "applicant" });

    const first = await json<PullResponse>(await pullAs(node, null));
    expect(first.accounts).toEqual([asPulled(clerk), asPulled(disabled), asPulled(supervisor)]);
    expect(first.departedAccounts).toEqual([]);
  });

  it("after the cursor, only what changed: a disabled account with its time, a moved one as departed at the old hall (no hash) and whole at the new one", async () => {
    const node = await enrolNode();
    const other = await enrolNode();
    const p = node.code.toLowerCase();
    await accounts.create({ id: `${p}.a`, hall: node.code });
    await accounts.create({ id: `${p}.b`, hall: node.code });
    await accounts.create({ id: `${p}.c`, hall: node.code });
    const { cursor } = await json<PullResponse>(await pullAs(node, null));
    const { cursor: otherCursor } = await json<PullResponse>(await pullAs(other, null));

    const disabled = await accounts.update(`${p}.a`, { disabledAt: "2026-11-24T02:00:00.000Z" });
    const moved = await accounts.update(`${p}.b`, { hall: other.code });
    const next = await json<PullResponse>(await pullAs(node, cursor));
    expect(next.accounts).toEqual([asPulled(disabled)]);
    expect(next.departedAccounts).toEqual([`${p}.b`]);
    expect(JSON.stringify(next)).not.toContain(moved.passwordHash);

    const there = await json<PullResponse>(await pullAs(other, otherCursor));
    expect(there.accounts).toEqual([asPulled(moved)]);
    expect(there.departedAccounts).toEqual([]);
  });
});
