/**
 * Staff accounts reach a township node by pull (real worker in workerd, real node processes with
 * libSQL files, real HTTP): a clerk signs in at the node while the city is unreachable; disabling,
 * moving and password rules made at the city take effect at the node with its next pull.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { drizzle } from "drizzle-orm/d1";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startLocalCity, type LocalCity } from "../../scripts/lib/local-city.js";
import { openNodeDatabase } from "../../edge-node/database.js";
import { upsertLocalClerk } from "../../edge-node/clerk.js";
import type { Db } from "../../store/db.js";
import { TEST_ACCOUNT_PASSWORD, testCityAccounts } from "../shared/city-accounts.js";
import { enrol, FaultProxy, spawnNode, type NodeProcess } from "./harness.js";
import { refusedPort, signIn } from "./helpers.js";

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
/** A node behind a proxy the test can take down (the city unreachable), enrolled and synced once. */
async function hall(opts: { dir?: string; code?: string } = {}): Promise<{ n: NodeProcess; proxy: FaultProxy; login: (id: string) => string }> {
  const proxy = new FaultProxy(await refusedPort(), city.url);
  await proxy.up();
  running.push({ stop: () => proxy.down() });
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "tongban-accounts-"));
  if (!opts.dir) dirs.push(dir);
  const code = opts.code ?? `AC${++counter}${process.pid % 1000}`;
  const n = await spawnNode({ dir, code, city: proxy.url });
  running.push(n);
  return { n, proxy, login: (id: string) => `${code.toLowerCase()}.${id}` };
}

/** One sync round now, which must succeed. */
async function synced(n: NodeProcess): Promise<void> {
  expect((await n.post("/api/sync/now")).body).toMatchObject({ online: true, lastError: null, flaggedItems: 0 });
}

/** A sign-in attempt at the node: its status and body. */
async function trySignIn(n: NodeProcess, login: string, password: string) {
  const res = await fetch(`${n.url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login, password }) });
  return { status: res.status, body: (await res.json()) as any };
}

/** Who a session cookie belongs to at the node, or the problem. */
async function whoIs(n: NodeProcess, cookie: string) {
  const res = await fetch(`${n.url}/api/session`, { headers: { cookie } });
  return { status: res.status, body: (await res.json()) as any };
}

const problem = (code: string, title: string, status: number, detail: string) => ({
  type: `https://tongban.example.cn/problems/${code.replaceAll("_", "-")}`,
  title,
  status,
  detail,
  code,
  instance: "/api/session",
});
const SIGNED_OUT = problem("unauthorized", "未认证", 401, "请先登录，再使用个人账号功能");
const WRONG = problem("unauthorized", "未认证", 401, "登录名或密码不正确");
const DISABLED = problem("unauthorized", "未认证", 401, "账号已停用，请联系管理员");

describe("accounts reach a node by pull", () => {
  it("a hall's accounts made before the node existed arrive with its first pull, and sign in with the city unreachable", async () => {
    const code = `AF${process.pid % 1000}`;
    const ids = ["wang", "li", "zhao"].map((x) => `${code.toLowerCase()}.${x}`);
    for (const id of ids) await accounts.create({ id, hall: code });
    const { n, proxy } = await hall({ code });
    await enrol(city, n);
    await synced(n);
    await proxy.down();

    for (const id of ids) {
      const cookie = await signIn(n.url, id, TEST_ACCOUNT_PASSWORD);
      expect(await whoIs(n, cookie)).toEqual({ status: 200, body: { principal: { id, role: "clerk", hall: code, name: `测试${id}` }, mustChangePassword: false } });
    }
    // The node still says it cannot reach the city: nothing of this needed it.
    expect((await n.post("/api/sync/now")).body).toMatchObject({ online: false, lastError: "fetch failed" });
  });

  it("a node upgraded from version 1 (a cursor, no accounts) asks for all of its hall's accounts once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tongban-upgrade-"));
    dirs.push(dir);
    const first = await hall({ dir });
    await enrol(city, first.n);
    await synced(first.n);
    const id = first.login("early");
    await accounts.create({ id, hall: first.n.code });
    await synced(first.n);
    await first.n.stop();
    // What a version 1 node's file holds: the cursor past the account's feed row, and no city account.
    const file = createClient({ url: `file:${join(dir, "node.db")}` });
    await file.execute("delete from accounts where source = 'city'");
    await file.execute("delete from settings where key = 'sync.accountsComplete'");
    file.close();

    const again = await spawnNode({ dir, code: first.n.code, city: first.proxy.url });
    running.push(again);
    expect((await trySignIn(again, id, TEST_ACCOUNT_PASSWORD)).status).toBe(401);
    await synced(again);
    expect((await trySignIn(again, id, TEST_ACCOUNT_PASSWORD)).status).toBe(200);
  });

  it("an account disabled at the city stops working at the node with its next pull, and its open session there ends", async () => {
    const { n, login } = await hall();
    await enrol(city, n);
    const id = login("disabled");
    await accounts.create({ id, hall: n.code });
    await synced(n);
    const cookie = await signIn(n.url, id, TEST_ACCOUNT_PASSWORD);
    expect((await whoIs(n, cookie)).status).toBe(200);

    await accounts.update(id, { disabledAt: new Date().toISOString() });
    await synced(n);
    expect(await whoIs(n, cookie)).toEqual({ status: 401, body: SIGNED_OUT });
    expect(await trySignIn(n, id, TEST_ACCOUNT_PASSWORD)).toEqual({ status: 401, body: DISABLED });
    const file = createClient({ url: `file:${join(n.dir, "node.db")}` });
    const left = await file.execute({ sql: "select count(*) as n from sessions where account_id = ?", args: [id] });
    file.close();
    expect(Number(left.rows[0]!.n)).toBe(0);
  });

  it("an account moved to another hall stops working at the old node (session ended) and works at the new one", async () => {
    const a = await hall();
    const b = await hall();
    await enrol(city, a.n);
    await enrol(city, b.n);
    const id = a.login("mover");
    await accounts.create({ id, hall: a.n.code });
    await synced(a.n);
    await synced(b.n);
    const cookie = await signIn(a.n.url, id, TEST_ACCOUNT_PASSWORD);
    expect(await trySignIn(b.n, id, TEST_ACCOUNT_PASSWORD)).toEqual({ status: 401, body: WRONG });

    await accounts.update(id, { hall: b.n.code });
    await synced(a.n);
    await synced(b.n);
    expect(await whoIs(a.n, cookie)).toEqual({ status: 401, body: SIGNED_OUT });
    expect(await trySignIn(a.n, id, TEST_ACCOUNT_PASSWORD)).toEqual({ status: 401, body: WRONG });
    const there = await signIn(b.n.url, id, TEST_ACCOUNT_PASSWORD);
    expect((await whoIs(b.n, there)).body.principal).toEqual({ id, role: "clerk", hall: b.n.code, name: `测试${id}` });
  });

  it("a city account with a local clerk's login replaces it: the city's password signs in, the local one no longer does, the local session ends", async () => {
    const { n, login } = await hall();
    await enrol(city, n);
    await synced(n);
    const id = login("desk");
    // Made on the hall's PC while the node runs (as `npm run node:clerk` does), then signed in.
    const store = await openNodeDatabase(n.dir);
    await upsertLocalClerk(store.db, { login: id, name: "本地窗口", hall: n.code, password: "Local-pass-2026" }, new Date(), 1_000);
    store.client.close();
    const local = await signIn(n.url, id, "Local-pass-2026");

    await accounts.create({ id, hall: n.code, name: "市级窗口" });
    await synced(n);
    expect(await whoIs(n, local)).toEqual({ status: 401, body: SIGNED_OUT });
    expect(await trySignIn(n, id, "Local-pass-2026")).toEqual({ status: 401, body: WRONG });
    const cityCookie = await signIn(n.url, id, TEST_ACCOUNT_PASSWORD);
    expect((await whoIs(n, cityCookie)).body.principal).toEqual({ id, role: "clerk", hall: n.code, name: "市级窗口" });
    // Managed at the city now: its password is not changed here.
    const change = await fetch(`${n.url}/api/session/password`, {
      method: "POST",
      headers: { "content-type": "application/json", cookie: cityCookie },
      body: JSON.stringify({ current: TEST_ACCOUNT_PASSWORD, password: "Another-pass-2026" }),
    });
    expect(change.status).toBe(403);
  });

  it("an account that must change its password is refused at the node, saying to change it at the city, until the new one arrives", async () => {
    const { n, login } = await hall();
    await enrol(city, n);
    const id = login("fresh");
    await accounts.create({ id, hall: n.code, mustChangePassword: true });
    await synced(n);
    expect(await trySignIn(n, id, TEST_ACCOUNT_PASSWORD)).toEqual({
      status: 403,
      body: problem(
        "password_change_required",
        "请先修改密码",
        403,
        "此账号须先修改初始密码或重置后的密码，本节点不能修改市级账号的密码：请先登录市级系统修改密码，新密码同步到本节点后再在此登录",
      ),
    });
    // A wrong password is told nothing more than any wrong password.
    expect(await trySignIn(n, id, "Wrong-pass-2026")).toEqual({ status: 401, body: WRONG });

    // The person changes it at the city (what POST /api/session/password there does).
    await accounts.update(id, { password: "Chosen-pass-2026", mustChangePassword: false });
    await synced(n);
    expect(await trySignIn(n, id, TEST_ACCOUNT_PASSWORD)).toEqual({ status: 401, body: WRONG });
    expect((await trySignIn(n, id, "Chosen-pass-2026")).status).toBe(200);
  });
});
