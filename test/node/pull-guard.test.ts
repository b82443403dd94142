/**
 * A node checks every pull answer before it writes anything (real worker in workerd, real node
 * processes, real HTTP; a proxy on the path rewrites the city's answers as a city bug or someone on
 * the link might). A bad answer is refused whole and asked for again; a bad item is set aside with
 * its reason and never stops the pulls after it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/d1";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { startLocalCity, type LocalCity } from "../../scripts/lib/local-city.js";
import type { Db } from "../../store/db.js";
import { TEST_ACCOUNT_PASSWORD, testCityAccounts } from "../shared/city-accounts.js";
import { enrol, FaultProxy, spawnNode, type NodeProcess } from "./harness.js";
import { ID, refusedPort, signIn } from "./helpers.js";

const promised = seedItems.find((i) => i.kind === "promised" && i.places.includes("township"))!;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let city: LocalCity;
let accounts: ReturnType<typeof testCityAccounts>;
const dirs: string[] = [];
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  city = await startLocalCity();
  accounts = testCityAccounts(drizzle(city.d1 as never) as unknown as Db);
}, 60_000);
afterAll(async () => {
  await city?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
afterEach(async () => {
  while (running.length) await running.pop()!.stop().catch(() => {});
});

let counter = 0;
/** An enrolled node that has synced once, behind a proxy that can rewrite pull answers. */
async function hall(): Promise<{ n: NodeProcess; proxy: FaultProxy; login: (id: string) => string }> {
  const proxy = new FaultProxy(await refusedPort(), city.url);
  await proxy.up();
  running.push({ stop: () => proxy.down() });
  const dir = mkdtempSync(join(tmpdir(), "tongban-guard-"));
  dirs.push(dir);
  const code = `PG${++counter}${process.pid % 1000}`;
  const n = await spawnNode({ dir, code, city: proxy.url });
  running.push(n);
  await enrol(city, n);
  expect((await n.post("/api/sync/now")).body).toMatchObject({ online: true, flaggedItems: 0 });
  return { n, proxy, login: (id: string) => `${code.toLowerCase()}.${id}` };
}

const status = async (n: NodeProcess) => (await n.post("/api/sync/now")).body;
const flagged = async (n: NodeProcess) => (await n.json("/api/sync/flagged")).body;
const signInStatus = async (n: NodeProcess, login: string, password = TEST_ACCOUNT_PASSWORD) =>
  (await fetch(`${n.url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login, password }) })).status;

/** One row of the node's file. */
async function nodeRows(n: NodeProcess, sql: string, args: (string | number)[] = []) {
  const file = createClient({ url: `file:${join(n.dir, "node.db")}` });
  try {
    return (await file.execute({ sql, args })).rows.map((r) => ({ ...r }));
  } finally {
    file.close();
  }
}

describe("an item that fails the node's checks", () => {
  it("an account row with a role no staff has is flagged, its account disabled until a good row comes; the rest applies and later pulls continue", async () => {
    const { n, proxy, login } = await hall();
    const good = login("good");
    const bad = login("bad");
    await accounts.create({ id: good, hall: n.code });
    await accounts.create({ id: bad, hall: n.code });
    expect(await status(n)).toMatchObject({ online: true, flaggedItems: 0 });
    const badCookie = await signIn(n.url, bad, TEST_ACCOUNT_PASSWORD);

    await accounts.update(good, { name: "改名甲" });
    await accounts.update(bad, { name: "改名乙" });
    proxy.rewritePull = (a) => ({ ...a, accounts: a.accounts.map((x: { id: string }) => (x.id === bad ? { ...x, role: "boss" } : x)) });
    expect(await status(n)).toMatchObject({ online: true, lastError: null, flaggedItems: 1 });
    expect(await flagged(n)).toEqual({
      flagged: [
        {
          seq: expect.any(Number),
          kind: "accounts",
          key: bad,
          caseNo: null,
          reason: "账号不符合同步协议：字段 role：角色应为 clerk、approver、supervisor 或 admin",
          cursor: expect.any(Number),
          flaggedAt: expect.stringMatching(ISO),
        },
      ],
    });
    // The list is for the hall's staff: an anonymous visitor of the LAN gets nothing of it.
    const anonymous = await fetch(`${n.url}/api/sync/flagged`);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({
      type: "https://tongban.example.cn/problems/unauthorized",
      title: "未认证",
      status: 401,
      detail: "请先登录，再查看和控制同步",
      code: "unauthorized",
      instance: "/api/sync/flagged",
    });
    // Kept for whoever looks into it, without the password hash.
    const [row] = await nodeRows(n, "select item from pulled_flags");
    expect(JSON.parse(row!.item as string)).toMatchObject({ id: bad, role: "boss", name: "改名乙", passwordHash: "（不保存）" });
    // The good row applied; the bad one's account stops (its session too) rather than go on as it was.
    const goodCookie = await signIn(n.url, good, TEST_ACCOUNT_PASSWORD);
    expect(((await (await fetch(`${n.url}/api/session`, { headers: { cookie: goodCookie } })).json()) as any).principal.name).toBe("改名甲");
    expect((await fetch(`${n.url}/api/session`, { headers: { cookie: badCookie } })).status).toBe(401);
    expect(await signInStatus(n, bad)).toBe(401);

    // Later pulls go on: a new account arrives, and a good row of the flagged one enables it again.
    proxy.rewritePull = null;
    const later = login("later");
    await accounts.create({ id: later, hall: n.code });
    await accounts.update(bad, { name: "改名丙" });
    expect(await status(n)).toMatchObject({ online: true, lastError: null, flaggedItems: 1 });
    expect(await signInStatus(n, later)).toBe(200);
    expect(await signInStatus(n, bad)).toBe(200);
  });

  it("a city event whose hash does not match its content is flagged and holds back its case's later events; another case's events apply", async () => {
    const { n, proxy } = await hall();
    const opened = [];
    for (const [i, idNumber] of [ID.zhang, ID.li].entries()) {
      const res = await n.post("/api/cases", { itemCode: promised.code, applicant: { name: `申请人${i}`, idNumber, phone: "13800138000" }, materials: promised.materials.map((m) => m.id) });
      expect(res.status).toBe(201);
      expect((await n.post(`/api/cases/${res.body.caseNo}/actions`, { action: "forward" })).status).toBe(200);
      opened.push(res.body.caseNo as string);
    }
    const [x, y] = opened as [string, string];
    expect(await status(n)).toMatchObject({ online: true, pendingEvents: 0 });
    for (const caseNo of [x, y]) expect((await city.api(`/api/cases/${caseNo}/actions`, "approver", { body: { action: "suspend", reason: "专家评审" } })).status).toBe(200);

    proxy.rewritePull = (a) => ({ ...a, events: a.events.map((e: { caseNo: string; payload: object }) => (e.caseNo === x ? { ...e, payload: { ...e.payload, reason: "篡改后的理由" } } : e)) });
    expect(await status(n)).toMatchObject({ online: true, lastError: null, flaggedItems: 1 });
    const [first] = (await flagged(n)).flagged;
    expect(first).toMatchObject({ kind: "events", key: expect.stringMatching(/^CITY:\d+$/), caseNo: x, reason: "事件的哈希与内容不符" });
    expect((await n.json(`/api/cases/${x}`)).body.suspensions).toEqual([]);
    expect((await n.json(`/api/cases/${y}`)).body.suspensions).toEqual([{ from: expect.stringMatching(ISO), to: null, reason: "专家评审" }]);

    // Untampered from now on: x's resumption waits behind its flagged event, y's applies.
    proxy.rewritePull = null;
    for (const caseNo of [x, y]) expect((await city.api(`/api/cases/${caseNo}/actions`, "approver", { body: { action: "resume" } })).status).toBe(200);
    expect(await status(n)).toMatchObject({ online: true, lastError: null, flaggedItems: 2 });
    expect((await flagged(n)).flagged[0]).toMatchObject({ kind: "events", caseNo: x, reason: `事件所属办件 ${x} 有更早的同步事件未通过校验，后续事件暂不应用` });
    expect((await n.json(`/api/cases/${x}`)).body.suspensions).toEqual([]);
    expect((await n.json(`/api/cases/${y}`)).body.suspensions).toEqual([{ from: expect.stringMatching(ISO), to: expect.stringMatching(ISO), reason: "专家评审" }]);
    // Neither flagged event entered the node's log.
    expect(await nodeRows(n, "select count(*) as n from case_events where case_no = ? and origin = 'CITY'", [x])).toEqual([{ n: 0 }]);
  });
});

describe("an answer that fails the protocol", () => {
  /** What the rewrite does, the rewrite, and the reason the node gives (knowing the cursor it had). */
  const cases: [string, (a: Record<string, any>) => unknown, (cursor: number) => string][] = [
    ["a cursor that is no number", (a) => ({ ...a, cursor: "later" }), () => "市级的拉取响应不符合同步协议（版本 2），已整体拒收，未写入任何内容，下次同步时重试：字段 cursor：类型不正确，应为数字"],
    ["a list that is no list", (a) => ({ ...a, accounts: { first: a.accounts[0] } }), () => "市级的拉取响应不符合同步协议（版本 2），已整体拒收，未写入任何内容，下次同步时重试：字段 accounts：类型不正确，应为列表"],
    ["a cursor going back", (a) => ({ ...a, cursor: 0 }), (cursor) => `市级的拉取响应游标 0 早于本节点已应用的 ${cursor}，已整体拒收，未写入任何内容，下次同步时重试`],
    [
      "a version 1 answer (no accounts: below the node's floor)",
      ({ accounts: _a, departedAccounts: _d, ...rest }) => ({ ...rest, v: 1 }),
      () => "市级的拉取响应使用同步协议版本 1，本节点只接受版本 2：未写入任何内容，请升级市级系统",
    ],
  ];
  for (const [what, rewrite, reason] of cases) {
    it(`is refused whole — ${what}: nothing written, the status says why, and the next pull applies it`, async () => {
      const { n, proxy, login } = await hall();
      const before = await status(n);
      const id = login("waiting");
      await accounts.create({ id, hall: n.code });

      proxy.rewritePull = rewrite;
      const refused = await status(n);
      expect(before.cursor).toBeGreaterThan(0);
      expect(refused).toMatchObject({ online: false, lastError: reason(before.cursor), cursor: before.cursor, flaggedItems: 0 });
      expect(await signInStatus(n, id)).toBe(401);
      expect(await nodeRows(n, "select count(*) as n from accounts where id = ?", [id])).toEqual([{ n: 0 }]);

      proxy.rewritePull = null;
      const healed = await status(n);
      expect(healed).toMatchObject({ online: true, lastError: null, flaggedItems: 0 });
      expect(healed.cursor).toBeGreaterThan(before.cursor);
      expect(await signInStatus(n, id)).toBe(200);
    });
  }
});
