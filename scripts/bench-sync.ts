/**
 * `npm run bench:sync`: 30 days of offline township work (305 cases per working day, the Hongqiao
 * figure) caught up with the city in one go. Prints time to full acknowledgement, events per
 * second, node intake latency while the catch-up runs, node RSS, and the raw libSQL insert floor.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { Worker } from "node:worker_threads";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { seedItems } from "../schema/seed/catalog.js";
import { caseEvents, cases } from "../schema/tables.js";
import { formatCaseNo, queryCodeFrom } from "../domain/case-number.js";
import { chainEvent, GENESIS_HASH, type ChainedEvent } from "../domain/events.js";
import { applyEvent, decide, openCase, type CaseEventDraft, type CaseSnapshot } from "../domain/lifecycle.js";
import { addDays, instantAt, isWorkingDay } from "../domain/time.js";
import { itemForCase } from "../store/catalog.js";
import { loadCalendar } from "../store/calendar.js";
import { insertSql } from "../store/seed.js";
import { openNodeDatabase } from "../edge-node/database.js";
import { loadOrCreateIdentity } from "../edge-node/identity.js";
import { signedHeaders, syncSigner } from "../edge-node/jws.js";
import { newEd25519Jwk, publicJwk } from "../domain/keys.js";
import { PROTOCOL_VERSION } from "../domain/sync-protocol.js";
import { buildEdge, EDGE_NODE_FLAGS } from "./lib/build-edge.js";
import { startLocalCity } from "./lib/local-city.js";
import { TcpLink } from "./lib/tcp-link.js";
import { ROOT } from "./lib/wrangler.js";

const CODE = "HQ01";
const PER_DAY = Number(process.env.BENCH_CASES_PER_DAY ?? 305);
const CALENDAR_DAYS = Number(process.env.BENCH_DAYS ?? 30);
const ID = ["11010519491231002X", "35050219900101123X", "350521198512150041", "350582197006305512"];

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

/** A hall's offline work: the chained events and final case rows of `perDay` cases per working day. */
async function generate(code: string, perDay: number, calendarDays: number, calendar: Awaited<ReturnType<typeof loadCalendar>>, items: ReturnType<typeof itemForCase>[]) {
  const events: ChainedEvent[] = [];
  const finals = new Map<string, CaseSnapshot>();
  let head = { seq: 0, hash: GENESIS_HASH };
  const append = async (draft: CaseEventDraft, at: Date, before: CaseSnapshot | null) => {
    const e = await chainEvent(head.hash, { origin: code, seq: head.seq + 1, caseNo: draft.caseNo, type: draft.type, payload: draft.payload, actor: `window@${code}`, occurredAt: at.toISOString() });
    head = { seq: e.seq, hash: e.hash };
    events.push(e);
    const after = applyEvent(before, draft);
    finals.set(draft.caseNo, after);
    return after;
  };
  // The working days of the last `calendarDays` days, `perDay` cases each, spread over office hours.
  const today = new Date().toISOString().slice(0, 10);
  const days: string[] = [];
  for (let i = calendarDays; i >= 1; i--) if (isWorkingDay(calendar, addDays(today, -i))) days.push(addDays(today, -i));
  let n = 0;
  for (const d of days) {
    for (let k = 0; k < perDay; k++, n++) {
      const item = items[n % items.length]!;
      const at = instantAt(d, 8 * 60 + 30 + Math.floor((k * 420) / perDay));
      const complete = n % 10 !== 0; // one in ten is a 补办件 first
      const received = complete ? item.materials.map((m) => m.id) : [];
      const opened = openCase(calendar, item, {
        caseNo: formatCaseNo(code, at, k + 1),
        queryCode: queryCodeFrom(new Uint8Array([n, n >> 8, 3, 4, 5, 6, 7, 8])),
        origin: code,
        channel: "window",
        applicant: { name: `申请人${n}`, idNumber: ID[n % 4]!, phone: "13800138000" },
        materials: received,
        at,
      });
      if (!opened.ok) throw new Error(JSON.stringify(opened.error));
      let c = await append(opened.value.event, at, null);
      const ctx = { role: "clerk" as const, at: new Date(at.getTime() + 600_000), calendar, item };
      if (c.state === "supplement") {
        const r = decide(c, { action: "supplement", materials: c.missing }, ctx);
        if (r.ok) c = await append(r.value.event, ctx.at, c);
      }
      const next = c.kind === "immediate" || c.kind === "special" ? decide(c, { action: "decide", decision: "grant" }, ctx) : decide(c, { action: "forward" }, ctx);
      if (next.ok) c = await append(next.value.event, ctx.at, c);
      if (c.state === "decided") {
        const del = decide(c, { action: "deliver" }, { ...ctx, at: new Date(ctx.at.getTime() + 600_000) });
        if (del.ok) await append(del.value.event, new Date(ctx.at.getTime() + 600_000), c);
      }
    }
  }
  return { events, finals };
}

async function fill(dir: string) {
  const store = await openNodeDatabase(dir);
  const calendar = await loadCalendar(store.db);
  const township = seedItems.filter((i) => i.places.includes("township"));
  const rows = await store.db.select().from((await import("../schema/tables.js")).serviceItems);
  const items = township.map((s) => itemForCase(rows.find((r) => r.code === s.code)!));
  const { events, finals } = await generate(CODE, PER_DAY, CALENDAR_DAYS, calendar, items);
  const rowsOut = [
    ...insertSql(caseEvents, events.map((e) => ({ ...e, payload: e.payload as Record<string, unknown>, receivedAt: null }))),
    ...insertSql(cases, [...finals.values()]),
  ];
  const t0 = process.hrtime.bigint();
  await store.client.batch(rowsOut, "write");
  const fillMs = ms(t0);
  store.client.close();
  return { events: events.length, cases: finals.size, statements: rowsOut, fillMs, calendar, items };
}

/** The physical floor: the same rows into a fresh libSQL file in one transaction. */
async function rawFloor(statements: string[]): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "tongban-floor-"));
  const store = await openNodeDatabase(dir);
  const t0 = process.hrtime.bigint();
  await store.client.batch(statements, "write");
  const t = ms(t0);
  store.client.close();
  rmSync(dir, { recursive: true, force: true });
  return t;
}

/** Another hall (WARM01) pushes a week of its work (one batch) straight to the city. */
async function warmCity(city: Awaited<ReturnType<typeof startLocalCity>>, calendar: Awaited<ReturnType<typeof loadCalendar>>, items: ReturnType<typeof itemForCase>[]): Promise<number> {
  const code = "WARM01";
  const privateJwk = await newEd25519Jwk(code);
  const enrolled = await city.api("/api/admin/nodes", "admin", { body: { code, name: "预热镇便民服务中心", publicJwk: (({ kty, crv, x }) => ({ kty, crv, x }))(publicJwk(privateJwk)) } });
  if (enrolled.status !== 201) throw new Error(`warm-up enrolment failed: ${JSON.stringify(enrolled.body)}`);
  const { events } = await generate(code, 40, 7, calendar, items);
  const payload = { v: PROTOCOL_VERSION, kind: "push", node: code, batchId: crypto.randomUUID(), sentAt: new Date().toISOString(), headSeq: events.at(-1)!.seq, events };
  const signed = syncSigner(privateJwk, code)(JSON.stringify(payload));
  const res = await fetch(`${city.url}/api/sync/push`, { method: "POST", headers: signedHeaders(signed), body: signed.body });
  if (res.status !== 200) throw new Error(`warm-up push failed: ${res.status} ${await res.text()}`);
  return events.length;
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** The pids of this process's descendants named `comm` (the city's workerd). */
function descendants(comm: string): number[] {
  const parent = new Map<number, number>();
  const names = new Map<number, string>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      names.set(Number(d), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === process.pid) return true;
    return false;
  };
  return [...names].filter(([pid, name]) => name === comm && mine(pid)).map(([pid]) => pid);
}

/**
 * The clerk at the counter, in a thread of its own: its timings must not include this process
 * relaying the uplink's bytes or polling the status, which share the harness's event loop.
 */
const CLERK = `
const { parentPort, workerData } = require("node:worker_threads");
const { base, body, pid } = workerData;
const fs = require("node:fs");
const rss = () => { try { return Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync("/proc/" + pid + "/status", "utf8"))[1]) / 1024; } catch { return NaN; } };
let running = false, latencies = [], serverSide = [], maxRss = 0;
const take = async () => {
  const s = process.hrtime.bigint();
  const res = await fetch(base + "/api/cases", { method: "POST", headers: { "content-type": "application/json" }, body });
  if (res.status !== 201) throw new Error("intake failed: " + res.status);
  await res.arrayBuffer();
  const elapsed = Number(process.hrtime.bigint() - s) / 1e6;
  serverSide.push(Number((/dur=([\\d.]+)/.exec(res.headers.get("server-timing") || "") || [])[1]));
  return elapsed;
};
parentPort.on("message", async (m) => {
  if (m.cmd === "series") {
    latencies = []; serverSide = [];
    for (let i = 0; i < m.n; i++) latencies.push(await take());
    parentPort.postMessage({ latencies, serverSide, rss: rss() });
  } else if (m.cmd === "start") {
    running = true; latencies = []; serverSide = []; maxRss = 0;
    parentPort.postMessage({ started: true });
    while (running) {
      latencies.push(await take());
      maxRss = Math.max(maxRss, rss());
      await new Promise((r) => setTimeout(r, 10));
    }
    parentPort.postMessage({ latencies, serverSide, rss: maxRss });
  } else if (m.cmd === "stop") running = false;
});
`;

interface ClerkReport {
  latencies: number[];
  serverSide: number[];
  rss: number;
}

async function main() {
  console.log(`通办 同步基准：离线 ${CALENDAR_DAYS} 天（其中工作日每日 ${PER_DAY} 件），联网后一次性追平`);
  const dir = mkdtempSync(join(tmpdir(), "tongban-bench-"));
  const city = await startLocalCity();
  let node: ReturnType<typeof spawn> | undefined;
  let linkRef: TcpLink | undefined;
  try {
    const filled = await fill(dir);
    console.log(`节点积压：${filled.cases} 件办件，${filled.events} 个事件（写入节点库 ${filled.fillMs.toFixed(0)} ms）`);
    const identity = await loadOrCreateIdentity(dir);
    const enrolled = await city.api("/api/admin/nodes", "admin", { body: { code: CODE, name: "虹桥镇便民服务中心", publicJwk: identity.publicJwk } });
    if (enrolled.status !== 201) throw new Error(`enrolment failed: ${JSON.stringify(enrolled.body)}`);
    // A city in service has already taken other halls' pushes today: another hall's small batch
    // first, so the measured catch-up does not include the worker compiling its ingest path.
    const warm = await warmCity(city, filled.calendar, filled.items);
    console.log(`市级已在服务：另一乡镇（WARM01）先上传了 ${warm} 个事件（一批）`);

    // The hall's uplink is down while the node starts and the clerk warms up; then it comes back.
    const link = new TcpLink(await freePort(), Number(new URL(city.url).port));
    linkRef = link;
    const port = await freePort();
    const extra = process.env.BENCH_PUSH_BATCH ? ["--push-batch", process.env.BENCH_PUSH_BATCH] : [];
    const flags = process.env.BENCH_NODE_FLAGS !== undefined ? process.env.BENCH_NODE_FLAGS.split(" ").filter(Boolean) : EDGE_NODE_FLAGS;
    node = spawn(process.execPath, [...flags, buildEdge(), "--port", String(port), "--data", dir, "--code", CODE, "--city", link.url, ...extra], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    // The node logs each push round that the city acknowledged: the moment the backlog is in is
    // read from there, without polling the node (which would load the very process measured).
    let ackedSeqLogged = 0;
    const ackWaiters: (() => void)[] = [];
    createInterface({ input: node.stdout! }).on("line", (line) => {
      if (process.env.BENCH_NODE_STDOUT) console.log(line);
      const m = /已确认至序号 (\d+)/.exec(line);
      if (m) {
        ackedSeqLogged = Math.max(ackedSeqLogged, Number(m[1]));
        for (const w of ackWaiters.splice(0)) w();
      }
    });
    const base = `http://127.0.0.1:${port}`;
    while (!(await fetch(`${base}/healthz`).then((r) => r.ok, () => false))) await new Promise((r) => setTimeout(r, 50));
    let maxRss = 0;
    let ackedMs = NaN;
    const item = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;
    const body = JSON.stringify({ itemCode: item.code, applicant: { name: "测速", idNumber: ID[0], phone: "13800138000" }, materials: item.materials.map((m) => m.id) });
    const clerk = new Worker(CLERK, { eval: true, workerData: { base, body, pid: node.pid } });
    const ask = (msg: object) =>
      new Promise<ClerkReport>((resolve, reject) => {
        clerk.once("message", resolve);
        clerk.once("error", reject);
        clerk.postMessage(msg);
      });
    await ask({ cmd: "series", n: 20 });
    const idle = (await ask({ cmd: "series", n: 50 })).latencies;
    const idleRss = rssMb(node.pid!);
    const [cityPid] = descendants("workerd");
    const cpu0 = { node: cpuSeconds(node.pid!), city: cityPid ? cpuSeconds(cityPid) : NaN, harness: process.cpuUsage() };

    await link.up();
    const t0 = process.hrtime.bigint();
    void fetch(`${base}/api/sync/now`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }).catch(() => undefined);
    // A clerk keeps taking cases, one after another, while the backlog drains.
    await ask({ cmd: "start" });
    const report = new Promise<ClerkReport>((resolve) => clerk.once("message", resolve));
    const rssTimer = setInterval(() => (maxRss = Math.max(maxRss, rssMb(node!.pid!))), 50);
    while (ms(t0) < 120_000 && ackedSeqLogged < filled.events) {
      await new Promise<void>((r) => {
        ackWaiters.push(r);
        setTimeout(r, 1000);
      });
    }
    if (ackedSeqLogged >= filled.events) ackedMs = ms(t0);
    clearInterval(rssTimer);
    const confirmed = (await (await fetch(`${base}/api/sync/status`)).json()) as { ackedSeq: number };
    if (confirmed.ackedSeq < filled.events) throw new Error(`the node reports ackedSeq ${confirmed.ackedSeq} < ${filled.events}`);
    const cpu = {
      node: cpuSeconds(node.pid!) - cpu0.node,
      city: cityPid ? cpuSeconds(cityPid) - cpu0.city : NaN,
      harness: (() => {
        const u = process.cpuUsage(cpu0.harness);
        return (u.user + u.system) / 1e6;
      })(),
    };
    clerk.postMessage({ cmd: "stop" });
    const { latencies, serverSide, rss: clerkRss } = await report;
    await clerk.terminate();
    maxRss = Math.max(maxRss, clerkRss, rssMb(node.pid!));
    const held = await city.d1.prepare("select count(*) as n from case_events where origin = ?").bind(CODE).first<{ n: number }>();
    const floor = await rawFloor(filled.statements);
    const eps = filled.events / (ackedMs / 1000);
    const floorEps = filled.events / (floor / 1000);
    console.log(`
结果（本机 ${process.platform}/${process.arch}，Node ${process.version}）
  联网后市级确认全部积压   ${(ackedMs / 1000).toFixed(2)} s   （目标 < 10 s）
  端到端摄入速率           ${Math.round(eps)} 事件/秒   （目标 ≥ 10000）
  空闲时窗口收件延迟       p50 ${pct(idle, 50).toFixed(1)} ms，p99 ${pct(idle, 99).toFixed(1)} ms（对照）
  追平期间节点内处理时间   p50 ${pct(serverSide, 50).toFixed(1)} ms，p99 ${pct(serverSide, 99).toFixed(1)} ms（Server-Timing，不含客户端与网络）
  追平期间窗口收件延迟     p50 ${pct(latencies, 50).toFixed(1)} ms，p99 ${pct(latencies, 99).toFixed(1)} ms，最慢 ${[...latencies].sort((a, b) => b - a).slice(0, 5).map((x) => x.toFixed(0)).join("/")} ms，共 ${latencies.length} 件   （目标 p99 < 20 ms）
  追平期间 CPU 时间         节点 ${cpu.node.toFixed(2)} s，市级 workerd ${cpu.city.toFixed(2)} s，基准进程（链路转发、店员、RSS 采样）${cpu.harness.toFixed(2)} s（本机 2 核，共用）
  节点进程 RSS 峰值        ${maxRss.toFixed(0)} MB（追平前 ${idleRss.toFixed(0)} MB）   （目标 < 150 MB）
  市级持有该节点事件       ${held!.n}（应为 ${filled.events} + 追平期间新收件）
  物理下限：同样的 ${filled.events} 个事件和 ${filled.cases} 个办件行，一次事务逐行写入本地 libSQL 文件 ${floor.toFixed(0)} ms（折合 ${Math.round(floorEps)} 事件/秒）；端到端速率为下限的 ${(eps / floorEps).toFixed(2)} 倍`);
    if (!(held!.n >= filled.events)) process.exitCode = 1;
  } finally {
    node?.kill("SIGTERM");
    await linkRef?.down();
    await city.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
