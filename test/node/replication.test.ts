/**
 * Township ⇄ city replication against the real worker (workerd via Miniflare, local D1) and real
 * node processes with libSQL files, all over real HTTP on 127.0.0.1, with faults injected by a proxy.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { canonicalEvent, GENESIS_HASH } from "../../domain/events.js";
import { seedItems } from "../../schema/seed/catalog.js";
import { startLocalCity, type LocalCity } from "../../scripts/lib/local-city.js";
import { assertAgree, enrol, eventually, FaultProxy, spawnNode, type NodeProcess } from "./harness.js";
import { ID, refusedPort } from "./helpers.js";
import { nextIsoDate, officialRows, weekday } from "../domain/fixtures.js";

const promised = seedItems.find((i) => i.kind === "promised" && i.places.includes("township") && i.materials.length >= 2)!;
const immediate = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;
const all = (item: typeof promised) => item.materials.map((m) => m.id);
const applicants = [ID.zhang, ID.li, ID.wang, ID.chen];

let city: LocalCity;
const dirs: string[] = [];
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  city = await startLocalCity();
}, 60_000);
afterAll(async () => {
  await city?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
afterEach(async () => {
  while (running.length) await running.pop()!.stop().catch(() => {});
});

let codeCounter = 0;
async function node(cityUrl: string, opts: { dir?: string; code?: string; syncIntervalMs?: number } = {}): Promise<NodeProcess> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "tongban-repl-"));
  if (!opts.dir) dirs.push(dir);
  const n = await spawnNode({ dir, code: opts.code ?? `R${String(++codeCounter).padStart(2, "0")}${process.pid % 1000}`, city: cityUrl, syncIntervalMs: opts.syncIntervalMs });
  running.push(n);
  return n;
}

async function intake(n: NodeProcess, i: number, item = promised, materials = all(item)) {
  const res = await n.post("/api/cases", { itemCode: item.code, applicant: { name: `申请人${i}`, idNumber: applicants[i % 4], phone: "13800138000" }, materials });
  expect(res.status).toBe(201);
  return res.body as { caseNo: string; atCity: boolean };
}

const status = async (n: NodeProcess) => (await n.json("/api/sync/status")).body;

/**
 * These nodes' chains at the city are whole, judged on their own (the city's D1 is shared by
 * every test in this file, so nothing here depends on what other tests stored): the city's
 * re-verification names no break in them, and walked here link by link (seq 1…n, each prevHash the
 * hash before it, each hash SHA-256 of prevHash ‖ canonical event by node:crypto) they hold.
 */
async function expectChainsWhole(heads: Record<string, number>): Promise<void> {
  const verify = (await city.api("/api/reconcile/verify", "supervisor")).body as { breaks: { origin: string }[] };
  expect(verify.breaks.filter((b) => b.origin in heads)).toEqual([]);
  for (const [origin, n] of Object.entries(heads)) {
    const { results } = await city.d1
      .prepare("select origin, seq, case_no, type, payload, actor, occurred_at, prev_hash, hash from case_events where origin = ? order by seq")
      .bind(origin)
      .all<Record<string, string | number>>();
    expect(results.map((r) => r.seq), origin).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    let prev = GENESIS_HASH;
    for (const r of results) {
      const body = { origin, seq: r.seq as number, caseNo: r.case_no as string, type: r.type as string, payload: JSON.parse(r.payload as string), actor: r.actor as string, occurredAt: r.occurred_at as string };
      expect(r.prev_hash, `${origin}:${r.seq}`).toBe(prev);
      expect(r.hash, `${origin}:${r.seq}`).toBe(createHash("sha256").update(prev + canonicalEvent(body)).digest("hex"));
      prev = r.hash as string;
    }
  }
}

/**
 * The Beijing date `n` working days after the day `acceptedAt` falls on (that day never counts),
 * by the official arrangements plus `holidays`: worked out here with plain date arithmetic, not
 * with domain/time.ts, since the spawned node runs on the real clock.
 */
function workingDaysAfter(acceptedAt: string, n: number, holidays: readonly string[] = []): string {
  const overrides = new Map<string, string>(officialRows().map((r) => [r.date, r.kind]));
  for (const d of holidays) overrides.set(d, "holiday");
  let date = new Date(Date.parse(acceptedAt) + 8 * 3_600_000).toISOString().slice(0, 10);
  for (let counted = 0; counted < n; ) {
    date = nextIsoDate(date);
    const kind = overrides.get(date);
    if (kind ? kind === "workday" : weekday(date) !== 0 && weekday(date) !== 6) counted++;
  }
  return date;
}

/**
 * One successful round, after which the node's loop is online and waits out its (long) interval:
 * no round of its own can take a fault the test arms for the round it starts.
 */
async function quiet(n: NodeProcess): Promise<void> {
  expect((await n.post("/api/sync/now")).body).toMatchObject({ online: true });
}

describe("replication survives faults", () => {
  it("a long outage: everything made offline arrives exactly once when the link comes back by itself", async () => {
    const proxy = new FaultProxy(await refusedPort(), city.url);
    const n = await node(proxy.url, { syncIntervalMs: 500 });
    await proxy.up();
    await enrol(city, n);
    await proxy.down();

    const made = [];
    for (let i = 0; i < 60; i++) made.push(await intake(n, i));
    for (const c of made.slice(0, 20)) expect((await n.post(`/api/cases/${c.caseNo}/actions`, { action: "forward" })).status).toBe(200);
    expect(made.every((c) => c.atCity === false)).toBe(true);
    const offline = await status(n);
    expect(offline).toMatchObject({ online: false, pendingEvents: 80, headSeq: 80, ackedSeq: 0 });
    // The push thread's request found no city: the runtime's own network error, nothing else.
    expect(offline.lastError).toBe("fetch failed");
    const listed = await n.json("/api/cases?pageSize=5");
    expect(listed.body.cases.every((c: { atCity: boolean }) => c.atCity === false)).toBe(true);

    // The link comes back: no one presses anything; the probe notices and the loop catches up.
    await proxy.up();
    await eventually(async () => {
      const st = await status(n);
      return st.pendingEvents === 0 && st.online;
    }, "backlog acknowledged after the outage");
    const after = await status(n);
    expect(after).toMatchObject({ online: true, pendingEvents: 0, ackedSeq: 80, headSeq: 80, lastError: null });
    expect((await n.json(`/api/cases/${made[0]!.caseNo}`)).body.atCity).toBe(true);
    expect(await assertAgree(city, n)).toEqual({ own: 80, foreign: 0 });
    const rec = (await city.api("/api/reconcile", "supervisor")).body.nodes.find((x: { code: string }) => x.code === n.code);
    expect(rec).toMatchObject({ ackedSeq: 80, reportedHeadSeq: 80, pending: 0, conflicts: 0, divergences: 0 });
    await proxy.down();
  });

  it("SIGKILL after the city committed a batch but before the node stored the acknowledgement: restart, resend, no duplicate", async () => {
    const proxy = new FaultProxy(await refusedPort(), city.url);
    await proxy.up();
    const dir = mkdtempSync(join(tmpdir(), "tongban-kill-"));
    dirs.push(dir);
    let n = await node(proxy.url, { dir, code: `K${process.pid % 10000}` });
    await enrol(city, n);
    await quiet(n);
    for (let i = 0; i < 25; i++) await intake(n, i);

    const fired = proxy.arm("kill-after-commit", () => n.kill());
    void n.post("/api/sync/now").catch(() => {});
    await fired;
    const atCity = await city.d1.prepare("select count(*) as n from case_events where origin = ?").bind(n.code).first<{ n: number }>();
    expect(atCity!.n).toBe(25); // committed at the city…

    // …but the node never stored the acknowledgement.
    const file = createClient({ url: `file:${join(dir, "node.db")}` });
    const acked = await file.execute("select value from settings where key = 'sync.ackedSeq'");
    file.close();
    expect(acked.rows).toEqual([]);

    n = await node(proxy.url, { dir, code: n.code });
    const synced = (await n.post("/api/sync/now")).body;
    expect(synced).toMatchObject({ online: true, pendingEvents: 0, ackedSeq: 25 });
    expect(await assertAgree(city, n)).toEqual({ own: 25, foreign: 0 });
    await proxy.down();
  });

  it("a lost response and a connection cut mid-request: no duplicate, no gap", async () => {
    const proxy = new FaultProxy(await refusedPort(), city.url);
    await proxy.up();
    const n = await node(proxy.url);
    await enrol(city, n);
    await quiet(n);
    for (let i = 0; i < 10; i++) await intake(n, i);

    const dropped = proxy.arm("drop-response");
    const lost = (await n.post("/api/sync/now")).body;
    await dropped;
    expect(lost.online).toBe(false);
    expect(lost.ackedSeq).toBe(0);
    expect((await city.d1.prepare("select count(*) as n from case_events where origin = ?").bind(n.code).first<{ n: number }>())!.n).toBe(10);
    // Resent: the city acknowledges what it already holds and stores nothing twice.
    expect((await n.post("/api/sync/now")).body).toMatchObject({ online: true, pendingEvents: 0, ackedSeq: 10 });
    expect(await assertAgree(city, n)).toEqual({ own: 10, foreign: 0 });

    for (let i = 10; i < 20; i++) await intake(n, i);
    const cut = proxy.arm("cut-request");
    const broken = (await n.post("/api/sync/now")).body;
    await cut;
    expect(broken.online).toBe(false);
    // The cut request stored nothing: the city still holds only the first ten.
    expect((await city.d1.prepare("select count(*) as n from case_events where origin = ?").bind(n.code).first<{ n: number }>())!.n).toBe(10);

    const healed = (await n.post("/api/sync/now")).body;
    expect(healed).toMatchObject({ online: true, pendingEvents: 0, ackedSeq: 20 });
    expect(await assertAgree(city, n)).toEqual({ own: 20, foreign: 0 });
    await expectChainsWhole({ [n.code]: 20 });
    await proxy.down();
  });

  it("a revoked node is refused with a clear reason and nothing more is stored", async () => {
    const n = await node(city.url);
    await enrol(city, n);
    await intake(n, 1);
    expect((await n.post("/api/sync/now")).body.ackedSeq).toBe(1);
    expect((await city.api(`/api/admin/nodes/${n.code}/revoke`, "admin", { body: {} })).status).toBe(200);
    await intake(n, 2);
    const refused = (await n.post("/api/sync/now")).body;
    expect(refused).toMatchObject({ online: false, ackedSeq: 1, pendingEvents: 1 });
    expect(refused.lastError).toContain("已于");
    expect(refused.lastError).toContain("被撤销");
    expect((await city.d1.prepare("select count(*) as n from case_events where origin = ?").bind(n.code).first<{ n: number }>())!.n).toBe(1);
  });
});

describe("the node's background thread", () => {
  it("checkpoints the WAL into node.db while the node runs, so no window request has to", async () => {
    const n = await node(await refusedPort().then((p) => `http://127.0.0.1:${p}`));
    const file = join(n.dir, "node.db");
    const size = () => statSync(file).size;
    // Let the start-up writes settle into the file first.
    await new Promise((r) => setTimeout(r, 1500));
    const before = size();
    for (let i = 0; i < 40; i++) await intake(n, i);
    // 40 cases are far below the main connection's own checkpoint mark (10,000 pages): only the
    // background thread can have moved them from the WAL into the database file.
    await eventually(async () => size() > before, "node.db grows while the node keeps running", 10_000);
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
  });
});

describe("city-origin events reach the node", () => {
  it("the city forwards, a department decides, the node pulls it and the window delivers", async () => {
    const n = await node(city.url);
    await enrol(city, n);
    const c = await intake(n, 1);
    await n.post("/api/sync/now");

    // The window forwards its case to the department; the city's department decides it.
    expect((await n.post(`/api/cases/${c.caseNo}/actions`, { action: "forward" })).status).toBe(200);
    await n.post("/api/sync/now");
    const dec = await city.api(`/api/cases/${c.caseNo}/actions`, "approver", { body: { action: "decide", decision: "grant" } });
    expect(dec.status).toBe(200);
    expect(dec.body.state).toBe("decided");

    expect((await n.json(`/api/cases/${c.caseNo}`)).body.state).toBe("in_review");
    await n.post("/api/sync/now");
    const view = (await n.json(`/api/cases/${c.caseNo}`)).body;
    expect(view).toMatchObject({ state: "decided", decision: "grant", availableActions: ["deliver"] });
    expect(view.events.map((e: { origin: string; type: string }) => `${e.origin}:${e.type}`)).toEqual([`${n.code}:opened`, `${n.code}:forwarded`, "CITY:decided", "CITY:approval-issued"]);

    const delivered = await n.post(`/api/cases/${c.caseNo}/actions`, { action: "deliver" });
    expect(delivered.body.state).toBe("delivered");
    await n.post("/api/sync/now");
    expect((await city.api(`/api/cases/${c.caseNo}`, "supervisor")).body.state).toBe("delivered");
    expect(await assertAgree(city, n)).toEqual({ own: 3, foreign: 2 });
    // Applying a pull twice changes nothing: a fresh round leaves everything as it was.
    await n.post("/api/sync/now");
    expect(await assertAgree(city, n)).toEqual({ own: 3, foreign: 2 });
  });

  it("catalog and calendar changes at the city reach the node", async () => {
    const n = await node(city.url);
    await enrol(city, n);
    await n.post("/api/sync/now");
    // Cases taken before the change: the node has the item and the calendar in memory now.
    const before = await intake(n, 1, immediate);
    type Accepted = { acceptedAt: string; deadline: { date: string; instant: string } };
    expect(promised.promisedLimit).toEqual({ value: 5, unit: "day" });
    const promisedBefore = (await intake(n, 2)) as unknown as Accepted;
    const due = workingDaysAfter(promisedBefore.acceptedAt, 5);
    expect(promisedBefore.deadline).toEqual({ date: due, instant: `${due}T09:30:00.000Z` });
    // The day the promised case is due becomes a holiday at the city.
    expect((await city.api(`/api/admin/calendar/days/${due}`, "admin", { method: "PUT", body: { kind: "holiday", name: "临时放假" } })).status).toBe(200);
    const put = await city.api("/api/admin/calendar/days/2027-02-08", "admin", { method: "PUT", body: { kind: "holiday", name: "春节" } });
    expect(put.status).toBe(200);
    const year = await city.api("/api/admin/calendar/years/2027", "admin", { method: "PUT", body: { source: "国务院办公厅关于2027年部分节假日安排的通知" } });
    expect(year.status).toBe(200);
    const edited = { ...immediate, name: `${immediate.name}（已修订）` };
    const { code, basicCode: _b, category: _c, level: _l, ...body } = edited;
    expect((await city.api(`/api/admin/catalog/items/${code}`, "admin", { method: "PUT", body })).status).toBe(200);
    await n.post("/api/sync/now");
    expect((await n.json(`/api/catalog/items/${code}`)).body.name).toBe(edited.name);
    // Monday 8 Feb 2027 is now a holiday at the node: 1 working day from Friday 5 Feb ends Tuesday 9 Feb.
    const dl = (await n.json(`/api/calendar/deadline?start=2027-02-05T02:00:00Z&days=1`)).body;
    expect(dl).toEqual({ deadline: "2027-02-09T09:30:00.000Z", date: "2027-02-09", warnings: [] });
    // Cases taken after the pull use the new item row and the new calendar, not what was cached.
    const after = (await intake(n, 3, immediate)) as unknown as { itemName: string };
    expect((before as unknown as { itemName: string }).itemName).toBe(immediate.name);
    expect(after.itemName).toBe(edited.name);
    // A promised case taken now counts without that day (and without 8 Feb 2027).
    const promisedAfter = (await intake(n, 4)) as unknown as Accepted;
    const dueAfter = workingDaysAfter(promisedAfter.acceptedAt, 5, [due, "2027-02-08"]);
    expect(promisedAfter.deadline).toEqual({ date: dueAfter, instant: `${dueAfter}T09:30:00.000Z` });
    expect((await city.api(`/api/admin/calendar/days/${due}`, "admin", { method: "DELETE" })).status).toBe(204);
  });
});

describe("two nodes and the city acting at once", () => {
  it("logs converge, nothing is lost, nothing is flagged", async () => {
    const [a, b] = [await node(city.url, { syncIntervalMs: 300 }), await node(city.url, { syncIntervalMs: 300 })];
    await enrol(city, a);
    await enrol(city, b);
    const casesA: string[] = [];
    const casesB: string[] = [];
    // Both halls take cases while their loops push in the background and the city decides what arrives.
    const work = async (n: NodeProcess, list: string[]) => {
      for (let i = 0; i < 40; i++) {
        const c = await intake(n, i);
        list.push(c.caseNo);
        if (i % 2 === 0) await n.post(`/api/cases/${c.caseNo}/actions`, { action: "forward" });
      }
    };
    const cityWork = async () => {
      for (let round = 0; round < 15; round++) {
        const { body } = await city.api("/api/cases?state=in_review&pageSize=200", "supervisor");
        for (const c of body.cases as { caseNo: string }[]) {
          await city.api(`/api/cases/${c.caseNo}/actions`, "approver", { body: { action: "decide", decision: "grant" } });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await Promise.all([work(a, casesA), work(b, casesB), cityWork()]);

    // A case A forwards while the city is busy deciding the others.
    const target = casesA[1]!;
    expect((await a.post(`/api/cases/${target}/actions`, { action: "forward" })).status).toBe(200);

    for (const n of [a, b, a, b]) await n.post("/api/sync/now");
    await cityWork();
    for (const n of [a, b, a, b]) await n.post("/api/sync/now");

    const ra = await assertAgree(city, a);
    const rb = await assertAgree(city, b);
    expect(ra.own).toBe(40 + 20 + 1);
    expect(rb.own).toBe(40 + 20);
    // Every case a hall forwarded was decided at the city and the decision is back at the hall.
    for (const [n, list] of [[a, casesA], [b, casesB]] as const) {
      for (let i = 0; i < list.length; i += 2) expect((await n.json(`/api/cases/${list[i]}`)).body.state).toBe("decided");
    }
    // Window and departments each acted in their own phase: the city's rules accept all of it.
    expect((await a.json("/api/conflicts")).body.conflicts).toEqual([]);
    expect((await a.json(`/api/cases/${target}`)).body.state).toBe("decided");
    const rec = (await city.api("/api/reconcile", "supervisor")).body.nodes;
    expect(rec.find((x: { code: string }) => x.code === a.code)).toMatchObject({ conflicts: 0, divergences: 0, pending: 0 });
    expect(rec.find((x: { code: string }) => x.code === b.code)).toMatchObject({ conflicts: 0, divergences: 0, pending: 0 });
    await expectChainsWhole({ [a.code]: ra.own, [b.code]: rb.own });
  }, 120_000);
});
