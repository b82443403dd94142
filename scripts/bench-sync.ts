/**
 * `npm run bench:sync`: 30 days of offline township work (305 cases per working day, the Hongqiao
 * figure) caught up with the city when the uplink returns, in several rounds (a new hall each
 * round, the same city). The node notices the link by itself; the benchmark never pokes it. For
 * each round it reports link detection, catch-up and the first pull after it, as seen at the
 * uplink and in the node's log; over all rounds it pools the window's intake latency (an open-loop
 * clerk, timed from each request's due time); inside the node it reads the event-loop delay (a
 * preload, the node's code unchanged) and the kernel's RSS high-water mark; and it measures the
 * storage floor in the city's own engine (D1 in the same workerd).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createInterface } from "node:readline";
import { Worker } from "node:worker_threads";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { drizzle } from "drizzle-orm/d1";
import { seedItems } from "../schema/seed/catalog.js";
import { caseEvents, cases, serviceItems } from "../schema/tables.js";
import { formatCaseNo, queryCodeFrom } from "../domain/case-number.js";
import { chainEvent, GENESIS_HASH, type ChainedEvent } from "../domain/events.js";
import { applyEvent, decide, openCase, type CaseEventDraft, type CaseSnapshot } from "../domain/lifecycle.js";
import { addDays, instantAt, isWorkingDay } from "../domain/time.js";
import { itemForCase } from "../store/catalog.js";
import { loadCalendar } from "../store/calendar.js";
import { insertSql } from "../store/seed.js";
import { insertEventStatements, writeCaseStatements } from "../store/sync.js";
import type { Db } from "../store/db.js";
import { openNodeDatabase } from "../edge-node/database.js";
import { loadOrCreateIdentity } from "../edge-node/identity.js";
import { signedHeaders, syncSigner } from "../edge-node/jws.js";
import { newEd25519Jwk, publicJwk } from "../domain/keys.js";
import { PROTOCOL_VERSION } from "../domain/sync-protocol.js";
import { buildEdge, EDGE_NODE_FLAGS } from "./lib/build-edge.js";
import { startLocalCity, type LocalCity } from "./lib/local-city.js";
import { monoMs, ObservedLink, type Exchange } from "./lib/observed-link.js";
import { cpuSeconds, descendants, machineCpu, vmHwmMb } from "./lib/proc-stats.js";
import { ROOT } from "./lib/wrangler.js";

const num = (name: string, fallback: number) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v < 0) throw new Error(`${name} must be a non-negative number`);
  return v;
};
const PER_DAY = num("BENCH_CASES_PER_DAY", 305);
const CALENDAR_DAYS = num("BENCH_DAYS", 30);
/** At least this many catch-ups, more until MIN_SAMPLES intake samples fell within catch-ups, at most MAX_ROUNDS. */
const MIN_ROUNDS = Math.max(1, num("BENCH_ROUNDS", 3));
const MIN_SAMPLES = num("BENCH_MIN_SAMPLES", 1000);
const MAX_ROUNDS = Math.max(MIN_ROUNDS, num("BENCH_MAX_ROUNDS", 12));
/** The clerk's schedule: one intake request due every INTAKE_MS, whatever the answers do. */
const INTAKE_MS = num("BENCH_INTAKE_MS", 10);
/** How long the clerk works with the link down before it comes up (the idle comparison). */
const IDLE_MS = num("BENCH_IDLE_MS", 1000);
/** The clerk stops this long after the backlog is acknowledged if the node has not pulled by then. */
const TAIL_MS = num("BENCH_TAIL_MS", 3000);
const LOOP_RESOLUTION_MS = Math.max(1, num("BENCH_LOOP_RESOLUTION_MS", 1));
/** A round that has not reached its end points this long after the link came up fails. */
const DEADLINE_MS = num("BENCH_DEADLINE_MS", 180_000);
const ID = ["11010519491231002X", "35050219900101123X", "350521198512150041", "350582197006305512"];
const PRELOAD = join(ROOT, "scripts/lib/loop-delay-preload.mjs");
const CLERK = join(ROOT, "scripts/lib/open-loop-clerk.mjs");

/** Nodes started by this run: stopped however the run ends, so none outlives it. */
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

const CORES = availableParallelism();
/** The share of the machine's cores that other processes used while a round synced, in %. */
const othersShare = (r: { cpu: { others: number; wall: number } }) => (100 * r.cpu.others) / (CORES * r.cpu.wall);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentiles (the p99 of 1,000 samples is the 990th smallest). */
function quantiles(xs: readonly number[]) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  const at = (p: number) => (s.length ? s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]! : NaN);
  return { n: s.length, p50: at(50), p90: at(90), p99: at(99), max: s.length ? s.at(-1)! : NaN };
}

type Calendar = Awaited<ReturnType<typeof loadCalendar>>;
type ItemForCase = ReturnType<typeof itemForCase>;

/**
 * A hall's offline work: the chained events and final case rows of `perDay` cases per working day.
 * A case's later steps come minutes after its intake, while the next applicants are already at
 * the window, so each case's steps are planned first and the hall's chain then takes all of them
 * in the order of their times, as a node appends them (the city refuses a chain that goes back in
 * time).
 */
async function generate(code: string, perDay: number, calendarDays: number, calendar: Calendar, items: ItemForCase[]) {
  const planned: { draft: CaseEventDraft; at: Date }[] = [];
  const finals = new Map<string, CaseSnapshot>();
  const step = (draft: CaseEventDraft, at: Date, before: CaseSnapshot | null) => {
    planned.push({ draft, at });
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
      let c = step(opened.value.event, at, null);
      const ctx = { role: "clerk" as const, at: new Date(at.getTime() + 600_000), calendar, item };
      if (c.state === "supplement") {
        const r = decide(c, { action: "supplement", materials: c.missing }, ctx);
        if (r.ok) c = step(r.value.event, ctx.at, c);
      }
      const next = c.kind === "immediate" || c.kind === "special" ? decide(c, { action: "decide", decision: "grant" }, ctx) : decide(c, { action: "forward" }, ctx);
      if (next.ok) c = step(next.value.event, ctx.at, c);
      if (c.state === "decided") {
        const del = decide(c, { action: "deliver" }, { ...ctx, at: new Date(ctx.at.getTime() + 600_000) });
        if (del.ok) step(del.value.event, new Date(ctx.at.getTime() + 600_000), c);
      }
    }
  }
  // A stable sort: steps of one case at the same minute keep their order.
  planned.sort((a, b) => a.at.getTime() - b.at.getTime());
  const events: ChainedEvent[] = [];
  let head = { seq: 0, hash: GENESIS_HASH };
  for (const { draft, at } of planned) {
    const e = await chainEvent(head.hash, { origin: code, seq: head.seq + 1, caseNo: draft.caseNo, type: draft.type, payload: draft.payload, actor: `window@${code}`, occurredAt: at.toISOString() });
    head = { seq: e.seq, hash: e.hash };
    events.push(e);
  }
  return { events, finals };
}

/** The node's calendar and township items, read from a freshly seeded node file. */
async function reference(dir: string) {
  const store = await openNodeDatabase(dir);
  const calendar = await loadCalendar(store.db);
  const rows = await store.db.select().from(serviceItems);
  const items = seedItems.filter((i) => i.places.includes("township")).map((s) => itemForCase(rows.find((r) => r.code === s.code)!));
  return { store, calendar, items };
}

/** Writes a hall's offline month into a new node file in `dir`. */
async function fill(dir: string, code: string) {
  const { store, calendar, items } = await reference(dir);
  const { events, finals } = await generate(code, PER_DAY, CALENDAR_DAYS, calendar, items);
  await store.client.batch(
    [
      ...insertSql(caseEvents, events.map((e) => ({ ...e, payload: e.payload as Record<string, unknown>, receivedAt: null }))),
      ...insertSql(cases, [...finals.values()]),
    ],
    "write",
  );
  store.client.close();
  return { events: events.length, cases: finals.size, calendar, items };
}

/**
 * The storage floor in the engine the catch-up path writes to: a month of another hall's event
 * rows and case rows, written with the city's own statements (json_each inserts, the case-version
 * guard, the upserts) into the city's D1 in the same workerd through Miniflare's binding. No
 * signature, no hash, no rule is checked: this is what storing alone costs there. Written twice,
 * by two more halls: in one batch, and in batches of a push's size (one transaction each, as the
 * city writes them), since one large transaction is not necessarily the cheaper.
 */
async function d1Floor(city: LocalCity, calendar: Calendar, items: ItemForCase[]) {
  const db = drizzle(city.d1 as unknown as Parameters<typeof drizzle>[0]) as unknown as Db;
  const receivedAt = new Date().toISOString();
  type Stmt = ReturnType<typeof insertEventStatements>[number];
  const rowsOf = (events: ChainedEvent[], finals: CaseSnapshot[]): Stmt[] => [
    ...insertEventStatements(db, events.map((e) => ({ ...e, receivedAt }))),
    ...(finals.length ? writeCaseStatements(db, finals.map((after) => ({ before: null, after }))) : []),
  ];
  const write = async (code: string, batches: Stmt[][], events: number) => {
    const t0 = monoMs();
    for (const b of batches) await db.batch(b as [Stmt, ...Stmt[]]);
    const ms = monoMs() - t0;
    const held = await city.d1.prepare("select count(*) as n from case_events where origin = ?").bind(code).first<{ n: number }>();
    if (held?.n !== events) throw new Error(`floor: D1 holds ${held?.n} of ${events} events of ${code}`);
    return ms;
  };

  const one = await generate("FLOOR01", PER_DAY, CALENDAR_DAYS, calendar, items);
  const stmts = rowsOf(one.events, [...one.finals.values()]);
  // What handing the same parameters to workerd through the binding costs, inserting nothing: the
  // binding is a hop the city's own path does not take, so this part of the floor is not storage.
  const queries = stmts.map((st) => (st as unknown as { _prepare(): { getQuery(): { params: unknown[] } } })._prepare().getQuery());
  const probe = queries.map((q) => city.d1.prepare(`SELECT ${q.params.map(() => "length(?)").join(", ") || "1"}`).bind(...q.params));
  const t0 = monoMs();
  await city.d1.batch(probe);
  const transferMs = monoMs() - t0;
  const ms = await write("FLOOR01", [stmts], one.events.length);

  // Push-sized: each slice of events with the final rows of the cases whose last event is in it.
  const sliced = await generate("FLOOR02", PER_DAY, CALENDAR_DAYS, calendar, items);
  const size = Number(process.env.BENCH_PUSH_BATCH ?? 1000);
  const lastSlice = new Map<string, number>();
  sliced.events.forEach((e, i) => lastSlice.set(e.caseNo, Math.floor(i / size)));
  const batches: Stmt[][] = [];
  for (let k = 0; k * size < sliced.events.length; k++) {
    const finals = [...sliced.finals.values()].filter((c) => lastSlice.get(c.caseNo) === k);
    batches.push(rowsOf(sliced.events.slice(k * size, (k + 1) * size), finals));
  }
  const slicedMs = await write("FLOOR02", batches, sliced.events.length);
  return {
    ms,
    slicedMs,
    batches: batches.length,
    transferMs,
    events: one.events.length,
    cases: one.finals.size,
    statements: stmts.length,
    paramBytes: queries.reduce((a, q) => a + q.params.reduce<number>((b, p) => b + String(p).length, 0), 0),
  };
}

/** Another hall (WARM01) pushes a week of its work (one batch) straight to the city. */
async function warmCity(city: LocalCity, calendar: Calendar, items: ItemForCase[]): Promise<number> {
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

interface Sample {
  /** When the request was due (monotonic ms). */
  due: number;
  /** How late the clerk's thread sent it. */
  lag: number;
  /** Due time → whole answer read. */
  latency: number;
  status: number;
  /** The node's `Server-Timing: app;dur=…` (Hono middleware in → out). */
  serverTiming: number;
}

interface LoopStats {
  label: string;
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

interface Round {
  code: string;
  events: number;
  cases: number;
  /** Events the node counted in its backlog (the month plus the clerk's warm-up and idle cases). */
  backlogEvents: number;
  /** The node's own figure in its log line: start of that push round → all acknowledged. */
  nodeReportedMs: number;
  clerkStart: number;
  linkUpAt: number;
  firstRequest: Exchange;
  ackedAt: number;
  appliedAt: number;
  clerkStoppedAt: number;
  exchanges: Exchange[];
  samples: Sample[];
  loop: Map<string, LoopStats>;
  hwmBeforeMb: number;
  hwmMb: number;
  /** Events of this hall the city flagged as conflicts (stored, not applied). */
  flagged: number;
  /** CPU seconds from link up to the pull applied: this run's processes, everything else, the hypervisor's steal, and the wall time. */
  cpu: { node: number; city: number; bench: number; others: number; steal: number; wall: number };
}

/** The open-loop clerk's thread (scripts/lib/open-loop-clerk.mjs). */
interface Clerk {
  /** Starts the schedule; resolves to the first request's due time. */
  start(): Promise<number>;
  /** Ends the schedule; resolves once every request sent is answered. */
  stop(): Promise<Sample[]>;
  terminate(): Promise<number>;
}

/** Starts the clerk's thread and lets it take 50 cases one after another (not kept: JIT, connections). */
async function startClerk(base: string, body: string): Promise<Clerk> {
  const worker = new Worker(CLERK, { workerData: { base, body, intervalMs: INTAKE_MS } });
  // It answers each command with a message of its own kind: { warmed }, { started }, { samples }.
  const replies = new Map<string, (m: unknown) => void>();
  let failed: (err: Error) => void = () => {};
  const crashed = new Promise<never>((_, reject) => (failed = reject));
  crashed.catch(() => {});
  worker.on("message", (m: Record<string, unknown>) => {
    for (const [key, resolve] of replies) if (key in m) (replies.delete(key), resolve(m[key]));
  });
  worker.on("error", (err) => failed(err));
  const ask = <T>(cmd: object, key: string) => {
    const answer = Promise.race([new Promise<T>((r) => replies.set(key, r as (m: unknown) => void)), crashed]);
    worker.postMessage(cmd);
    return answer;
  };
  await ask({ cmd: "warm", n: 50 }, "warmed");
  return {
    start: () => ask<number>({ cmd: "start" }, "started"),
    stop: () => ask<Sample[]>({ cmd: "stop" }, "samples"),
    terminate: () => worker.terminate(),
  };
}

/** Which stretch of a round a moment falls in. */
type Phase = "idle" | "undetected" | "catch-up" | "pull" | "after";
const phaseOf = (r: Round, t: number): Phase =>
  t < r.linkUpAt ? "idle" : t < r.firstRequest.requestAt ? "undetected" : t < r.ackedAt ? "catch-up" : t < r.appliedAt ? "pull" : "after";

async function runRound(city: LocalCity, link: ObservedLink, code: string, warm: () => Promise<void>): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), "tongban-bench-"));
  let node: ChildProcess | undefined;
  let clerk: Clerk | undefined;
  try {
    const filled = await fill(dir, code);
    const identity = await loadOrCreateIdentity(dir);
    const enrolled = await city.api("/api/admin/nodes", "admin", { body: { code, name: `虹桥镇便民服务中心（第 ${code} 轮）`, publicJwk: identity.publicJwk } });
    if (enrolled.status !== 201) throw new Error(`enrolment failed: ${JSON.stringify(enrolled.body)}`);
    await warm();

    // The node starts with the uplink down, its event-loop probe preloaded and an IPC channel to it.
    await link.down();
    const port = await freePort();
    const extra = process.env.BENCH_PUSH_BATCH ? ["--push-batch", process.env.BENCH_PUSH_BATCH] : [];
    const flags = process.env.BENCH_NODE_FLAGS !== undefined ? process.env.BENCH_NODE_FLAGS.split(" ").filter(Boolean) : EDGE_NODE_FLAGS;
    const child = spawn(process.execPath, [...flags, "--import", pathToFileURL(PRELOAD).href, buildEdge(), "--port", String(port), "--data", dir, "--code", code, "--city", link.url, ...extra], {
      cwd: ROOT,
      env: { ...process.env, TONGBAN_BENCH_LOOP_RESOLUTION_MS: String(LOOP_RESOLUTION_MS) },
      stdio: ["ignore", "pipe", "inherit", "ipc"],
    });
    node = child;
    children.add(child);
    const pid = child.pid!;
    const loop = new Map<string, LoopStats>();
    child.on("message", (m: { benchLoopDelay?: LoopStats }) => m.benchLoopDelay && loop.set(m.benchLoopDelay.label, m.benchLoopDelay));
    const mark = (label: string) => child.connected && child.send({ benchMark: label });

    // The end points come from the uplink and the node's log, read as it is written: no request to the node.
    let ackedAt = NaN;
    let appliedAt = NaN;
    let nodeReportedMs = NaN;
    let cpuAtApplied: Round["cpu"] | undefined;
    let cpu0: { node: number; city: number; bench: NodeJS.CpuUsage; machine: ReturnType<typeof machineCpu>; at: number } | undefined;
    const [cityPid] = descendants("workerd");
    const cpuSince = () => {
      const node = cpuSeconds(pid) - cpu0!.node;
      const city = cityPid ? cpuSeconds(cityPid) - cpu0!.city : NaN;
      const bench = (({ user, system }) => (user + system) / 1e6)(process.cpuUsage(cpu0!.bench));
      const machine = machineCpu();
      // Everything else the two cores did meanwhile: other engineers' test suites, the kernel's own work.
      const others = machine.busy - cpu0!.machine.busy - node - city - bench;
      return { node, city, bench, others, steal: machine.steal - cpu0!.machine.steal, wall: (monoMs() - cpu0!.at) / 1000 };
    };
    const logTail: string[] = [];
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (process.env.BENCH_NODE_STDOUT) console.log(`    [${code}] ${line}`);
      logTail.push(line);
      if (logTail.length > 20) logTail.shift();
      // The node's own account, when one push round took the whole backlog (a cross-check only).
      const acked = /积压已全部上传：市级已确认至序号 \d+（(\d+) 个事件，(\d+) ms）/.exec(line);
      if (acked && Number.isNaN(nodeReportedMs)) nodeReportedMs = Number(acked[2]);
      // Logged once the first round after being offline has pushed everything and applied every pull page.
      if (/已连接市级/.test(line) && Number.isNaN(appliedAt)) {
        appliedAt = monoMs();
        cpuAtApplied = cpuSince();
        mark("after");
      }
    });
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; !(await fetch(`${base}/healthz`).then((r) => r.ok, () => false)); i++) {
      if (child.exitCode !== null || i > 600) throw new Error(`node ${code} did not start`);
      await sleep(50);
    }

    const item = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;
    const body = JSON.stringify({ itemCode: item.code, applicant: { name: "测速", idNumber: ID[0], phone: "13800138000" }, materials: item.materials.map((m) => m.id) });
    clerk = INTAKE_MS > 0 ? await startClerk(base, body) : undefined;

    // Idle: the clerk on its schedule, the link down.
    mark("idle");
    const clerkStart = clerk ? await clerk.start() : monoMs();
    await sleep(IDLE_MS);

    // The backlog is what the node holds when the link comes back: one question before the clock starts.
    const before = (await (await fetch(`${base}/api/sync/status`)).json()) as { ackedSeq: number; headSeq: number };
    const backlogEvents = before.headSeq - before.ackedSeq;
    // The link comes back; the node has to notice by itself (its probe, or its backoff timer). The
    // backlog is in when a push answer passing the link acknowledges the head it had.
    let firstRequest: Exchange | undefined;
    const seenBefore = link.exchanges.length;
    link.keepBody = (ex) => ex.path === "/api/sync/push";
    link.onEvent = (what, ex) => {
      if (what === "request" && !firstRequest) {
        firstRequest = ex;
        mark("catch-up");
      }
      if (what === "done" && ex.path === "/api/sync/push" && ex.status === 200 && Number.isNaN(ackedAt)) {
        let ackedSeq = NaN;
        try {
          ackedSeq = Number((JSON.parse(ex.body ?? "") as { ackedSeq?: number }).ackedSeq);
        } catch {
          console.error(`    一个推送应答无法解析：${(ex.body ?? "").slice(0, 80)}`);
        }
        if (ackedSeq >= before.headSeq) {
          ackedAt = ex.doneAt!;
          mark("pull");
        }
      }
    };
    const hwmBeforeMb = vmHwmMb(pid);
    cpu0 = { node: cpuSeconds(pid), city: cityPid ? cpuSeconds(cityPid) : NaN, bench: process.cpuUsage(), machine: machineCpu(), at: monoMs() };
    mark("undetected");
    await link.up();
    const linkUpAt = monoMs();

    // The clerk works on until the first pull is applied; if the node keeps pushing the clerk's
    // new cases and never gets to pull, it stops TAIL_MS after the backlog is in.
    const deadline = linkUpAt + DEADLINE_MS;
    while (Number.isNaN(appliedAt) && monoMs() < deadline && !(monoMs() > ackedAt + TAIL_MS)) await sleep(20);
    const clerkStoppedAt = monoMs();
    const samples = (await clerk?.stop()) ?? [];
    while (Number.isNaN(appliedAt) && monoMs() < deadline) await sleep(20);
    if (!firstRequest || Number.isNaN(ackedAt) || Number.isNaN(appliedAt)) {
      const status = await fetch(`${base}/api/sync/status`).then((r) => r.text(), (e: Error) => e.message);
      const seen = link.exchanges.slice(seenBefore);
      const paths = [...new Set(seen.map((e) => `${e.method} ${e.path} ${e.status ?? "?"}`))].map((k) => `${k} ×${seen.filter((e) => `${e.method} ${e.path} ${e.status ?? "?"}` === k).length}`);
      throw new Error(`round ${code}: status ${status}; through the link: ${paths.join(", ")}; ${!firstRequest ? "the node never reached the city" : Number.isNaN(ackedAt) ? "the backlog was not acknowledged" : "the first pull was never applied"} within ${DEADLINE_MS / 1000} s; the node's log ends:\n${logTail.join("\n")}`);
    }
    // Only now ask the node: the measurement is over.
    const status = (await (await fetch(`${base}/api/sync/status`)).json()) as { ackedSeq: number; lastPullAt: string | null };
    if (status.ackedSeq < filled.events || !status.lastPullAt) throw new Error(`round ${code}: the node reports ackedSeq ${status.ackedSeq}, lastPullAt ${status.lastPullAt}`);
    const held = await city.d1.prepare("select count(*) as n from case_events where origin = ?").bind(code).first<{ n: number }>();
    if (!(held!.n >= filled.events)) throw new Error(`round ${code}: the city holds ${held!.n} of ${filled.events} events`);
    // Events the city stored but flagged instead of applying take a cheaper path: there should be none.
    const flagged = (await city.d1.prepare("select count(*) as n from conflicts where origin = ?").bind(code).first<{ n: number }>())!.n;
    for (let i = 0; i < 100 && !loop.has("pull"); i++) await sleep(20);
    const hwmMb = vmHwmMb(pid);
    return {
      code,
      events: filled.events,
      cases: filled.cases,
      backlogEvents,
      nodeReportedMs,
      clerkStart,
      linkUpAt,
      firstRequest,
      ackedAt,
      appliedAt,
      clerkStoppedAt,
      exchanges: link.exchanges.slice(seenBefore),
      samples,
      loop,
      hwmBeforeMb,
      hwmMb,
      flagged,
      cpu: cpuAtApplied!,
    };
  } finally {
    link.onEvent = () => {};
    await clerk?.terminate();
    if (node && node.exitCode === null) {
      const exited = new Promise((r) => node!.once("exit", r));
      node.kill("SIGTERM");
      await exited;
    }
    if (node) children.delete(node);
    await link.down();
    rmSync(dir, { recursive: true, force: true });
  }
}

const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const int = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–");
const s = (ms: number) => `${f2(ms / 1000)} s`;
const range = (xs: number[], fmt: (x: number) => string) => (xs.length ? `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}` : "–");
const ok = (b: boolean) => (b ? "✔" : "✘");

/** A push's status, and for a refusal the city's reason (`400 head_behind_batch`). */
function outcome(e: Exchange): string {
  if (e.status === 200 || e.status === undefined) return String(e.status ?? "?");
  try {
    const p = JSON.parse(e.body ?? "") as { reason?: string; code?: string };
    return `${e.status} ${p.reason ?? p.code ?? ""}`.trim();
  } catch {
    return String(e.status);
  }
}

/** "200 ×17，400 head_behind_batch ×2" */
const statuses = (xs: Exchange[]) => {
  const by = new Map<string, number>();
  for (const e of xs) by.set(outcome(e), (by.get(outcome(e)) ?? 0) + 1);
  return [...by].map(([k, n]) => `${k} ×${n}`).join("，") || "无";
};

function roundLine(r: Round, i: number): string {
  const pulls = r.exchanges.filter((e) => e.path === "/api/sync/pull" && e.requestAt >= r.ackedAt);
  const pushes = r.exchanges.filter((e) => e.path === "/api/sync/push" && e.requestAt <= r.ackedAt);
  const tailPushes = r.exchanges.filter((e) => e.path === "/api/sync/push" && e.requestAt > r.ackedAt && e.requestAt < r.appliedAt);
  const firstPull = pulls[0];
  const catchUp = r.ackedAt - r.firstRequest.requestAt;
  const loop = (l?: LoopStats) => (l ? `${f1(l.p50)}/${f1(l.p99)}/${f1(l.max)}` : "–");
  const starved = r.clerkStoppedAt < (firstPull?.requestAt ?? r.appliedAt);
  return [
    `  第 ${i + 1} 轮 ${r.code}：积压 ${int(r.backlogEvents)} 个事件（${int(r.cases)} 件办件及店员预热、空闲时的收件）；市级标为冲突的事件 ${r.flagged}${r.flagged ? "（！应为 0：这些事件只存不应用，速率不可比）" : ""}`,
    `    链路探知   ${s(r.firstRequest.requestAt - r.linkUpAt)}（链路恢复 → 节点首个请求 ${r.firstRequest.method} ${r.firstRequest.path}）`,
    `    追平       ${s(catchUp)}（首个请求 → 确认积压末尾的推送应答经过链路；${int(r.backlogEvents / (catchUp / 1000))} 事件/秒；推送应答 ${statuses(pushes)}${Number.isFinite(r.nodeReportedMs) ? `；节点日志自计 ${s(r.nodeReportedMs)}` : "；节点未记「积压已全部上传」（没有一轮推送一次走完积压）"}）`,
    `    首次拉取   确认 → 首个拉取请求 ${firstPull ? s(firstPull.requestAt - r.ackedAt) : "–"}，其间推送 ${statuses(tailPushes)}；拉取 ${pulls.filter((e) => e.requestAt < r.appliedAt).length} 页 ${int(pulls.reduce((a, e) => a + (e.requestAt < r.appliedAt ? e.responseBytes : 0), 0) / 1024)} kB；确认 → 节点日志「已连接市级」（拉取已应用）${s(r.appliedAt - r.ackedAt)}${starved ? `；店员在确认后 ${s(r.clerkStoppedAt - r.ackedAt)} 停止，节点此后才拉取（停止 → 已应用 ${s(r.appliedAt - r.clerkStoppedAt)}）` : ""}`,
    `    链路恢复 → 确认 ${s(r.ackedAt - r.linkUpAt)}，→ 拉取已应用 ${s(r.appliedAt - r.linkUpAt)}`,
    `    节点主线程事件循环延迟 p50/p99/最大 ms：链路断开 ${loop(r.loop.get("idle"))}，追平 ${loop(r.loop.get("catch-up"))}，首次拉取 ${loop(r.loop.get("pull"))}`,
    `    VmHWM ${f1(r.hwmMb)} MB（链路恢复前 ${f1(r.hwmBeforeMb)} MB）；CPU s（链路恢复 → 拉取已应用，${f2(r.cpu.wall)} s × ${CORES} 核）节点 ${f2(r.cpu.node)}，市级 ${f2(r.cpu.city)}，基准 ${f2(r.cpu.bench)}，本机其他进程 ${f2(r.cpu.others)}（占 ${othersShare(r).toFixed(0)} %）${r.cpu.steal > 0.05 ? `，虚拟机被宿主占用 ${f2(r.cpu.steal)}` : ""}`,
  ].join("\n");
}

async function main() {
  console.log(`通办 同步基准：离线 ${CALENDAR_DAYS} 天（工作日每日 ${PER_DAY} 件）后链路恢复，节点自行发现并追平；至少 ${MIN_ROUNDS} 轮，直到追平期间收件样本 ≥ ${MIN_SAMPLES}（至多 ${MAX_ROUNDS} 轮）`);
  console.log(INTAKE_MS > 0 ? `开环店员：每 ${INTAKE_MS} ms 一件（自计划发送时刻计时），链路恢复前先工作 ${IDLE_MS} ms，积压确认后若节点仍未拉取则再工作 ${TAIL_MS} ms 停止；事件循环采样分辨率 ${LOOP_RESOLUTION_MS} ms` : `不运行店员；事件循环采样分辨率 ${LOOP_RESOLUTION_MS} ms`);
  const city = await startLocalCity();
  const link = new ObservedLink(await freePort(), Number(new URL(city.url).port));
  const scratch = mkdtempSync(join(tmpdir(), "tongban-bench-ref-"));
  try {
    const { store, calendar, items } = await reference(scratch);
    store.client.close();
    // A city in service has already taken other halls' pushes today: another hall's small batch
    // first, so the first catch-up does not include the worker compiling its ingest path.
    let warmed = false;
    const warm = async () => {
      if (warmed) return;
      warmed = true;
      console.log(`市级已在服务：另一乡镇（WARM01）先上传了 ${await warmCity(city, calendar, items)} 个事件（一批）`);
    };
    const rounds: Round[] = [];
    const inCatchUp = () => rounds.reduce((a, r) => a + r.samples.filter((x) => phaseOf(r, x.due) === "catch-up").length, 0);
    while (rounds.length < MIN_ROUNDS || (INTAKE_MS > 0 && inCatchUp() < MIN_SAMPLES && rounds.length < MAX_ROUNDS)) {
      const r = await runRound(city, link, `HQ${String(rounds.length + 1).padStart(2, "0")}`, warm);
      rounds.push(r);
      console.log(roundLine(r, rounds.length - 1));
      if (process.env.BENCH_TRACE) {
        const at = (t?: number) => (t === undefined ? "–" : ((t - r.linkUpAt) / 1000).toFixed(3));
        for (const e of r.exchanges) console.log(`      ${at(e.requestAt)} → ${at(e.responseAt)} → ${at(e.doneAt)} s  ${e.method} ${e.path} ${outcome(e)}  ${e.requestBytes} B ↑ ${e.responseBytes} B ↓  #${e.conn}`);
        const slow = r.samples.filter((x) => x.latency > 50);
        console.log(`      慢于 50 ms 的收件（计划时刻，链路恢复起 s：延迟/迟发 ms）：${slow.map((x) => `${at(x.due)}:${x.latency.toFixed(0)}/${x.lag.toFixed(0)}`).join(" ")}`);
      }
    }
    const floor = await d1Floor(city, calendar, items);
    report(rounds, floor);
  } finally {
    await link.down();
    await city.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

function report(rounds: Round[], floor: Awaited<ReturnType<typeof d1Floor>>) {
  const catchUpMs = rounds.map((r) => r.ackedAt - r.firstRequest.requestAt);
  const detectMs = rounds.map((r) => r.firstRequest.requestAt - r.linkUpAt);
  const upToAcked = rounds.map((r) => r.ackedAt - r.linkUpAt);
  const upToApplied = rounds.map((r) => r.appliedAt - r.linkUpAt);
  const eps = rounds.map((r, i) => r.backlogEvents / (catchUpMs[i]! / 1000));
  const hwm = rounds.map((r) => r.hwmMb);
  const refused = rounds.map((r) => r.exchanges.filter((e) => e.path === "/api/sync/push" && e.requestAt <= r.ackedAt && e.status !== 200));
  const pooled = (phases: Phase[]) => rounds.flatMap((r) => r.samples.filter((x) => phases.includes(phaseOf(r, x.due))));
  const rows: [string, Sample[]][] = [
    ["链路断开（节点只收件）", pooled(["idle"])],
    ["追平期间（首个请求 → 积压确认）", pooled(["catch-up"])],
    ["首次拉取期间（确认 → 拉取已应用）", pooled(["pull"])],
    ["追平 + 首次拉取", pooled(["catch-up", "pull"])],
  ];
  const catchUp = quantiles(rows[1]![1].map((x) => x.latency));
  const sync = quantiles(rows[3]![1].map((x) => x.latency));
  const floorMs = Math.min(floor.ms, floor.slicedMs);
  const floorEps = floor.events / (floorMs / 1000);
  const loops = (label: string) => rounds.map((r) => r.loop.get(label)).filter((l): l is LoopStats => !!l);
  const loopRow = (label: string) => {
    const ls = loops(label);
    return `p50 ${range(ls.map((l) => l.p50), f1)}，p99 ${range(ls.map((l) => l.p99), f1)}，最大 ${range(ls.map((l) => l.max), f1)} ms（各轮范围，每轮 ${range(ls.map((l) => l.count), int)} 个采样）`;
  };
  const sec = (xs: number[]) => `${range(xs, (x) => f2(x / 1000))} s`;
  const out: string[] = [
    "",
    `结果（${rounds.length} 轮，本机 ${process.platform}/${process.arch}，Node ${process.version}，${new Date().toISOString()}）`,
    "",
    "  轮 | 链路探知 | 追平 | 事件/秒（追平） | 追平期间被拒的推送 | 链路恢复→确认 | 链路恢复→首次拉取已应用 | VmHWM（恢复前）MB | CPU s 节点/市级/基准/其他进程",
    ...rounds.map(
      (r, i) =>
        `  ${i + 1}  | ${s(detectMs[i]!)} | ${s(catchUpMs[i]!)} | ${int(eps[i]!)} | ${refused[i]!.length ? statuses(refused[i]!) : "0"} | ${s(upToAcked[i]!)} | ${s(upToApplied[i]!)} | ${f1(r.hwmMb)} (${f1(r.hwmBeforeMb)}) | ${f2(r.cpu.node)}/${f2(r.cpu.city)}/${f2(r.cpu.bench)}/${f2(r.cpu.others)}`,
    ),
    "",
  ];
  if (INTAKE_MS > 0) {
    out.push(
      `  窗口收件延迟（开环：每 ${INTAKE_MS} ms 一件，自计划发送时刻计至读完响应；各轮合并）`,
      "    阶段 | 样本 | p50 | p90 | p99 | 最大 ms | 失败 | Server-Timing app;dur p50/p99 ms | 店员线程迟发 p99 ms",
      ...rows.map(([label, xs]) => {
        const q = quantiles(xs.map((x) => x.latency));
        const st = quantiles(xs.map((x) => x.serverTiming));
        return `    ${label} | ${q.n} | ${f1(q.p50)} | ${f1(q.p90)} | ${f1(q.p99)} | ${f1(q.max)} | ${xs.filter((x) => x.status !== 201).length} | ${f1(st.p50)}/${f1(st.p99)} | ${f1(quantiles(xs.map((x) => x.lag)).p99)}`;
      }),
      "    （Server-Timing 是节点 Hono 中间件从进入到返回的时间：不含 HTTP 解析、套接字和进入中间件前的事件循环排队；店员线程迟发计入延迟）",
      "",
    );
  } else out.push("  未运行店员（BENCH_INTAKE_MS=0）：无收件延迟", "");
  out.push(
    `  节点主线程事件循环延迟（monitorEventLoopDelay，预加载模块，分辨率 ${LOOP_RESOLUTION_MS} ms，已减去分辨率）`,
    `    链路断开   ${loopRow("idle")}`,
    `    追平       ${loopRow("catch-up")}`,
    `    首次拉取   ${loopRow("pull")}`,
    "",
    `  存储下限（同一引擎）：另一乡镇同样规模的 ${int(floor.events)} 个事件行和 ${int(floor.cases)} 个办件行，用市级自己的写入语句经 Miniflare 的 D1 绑定写入同一 workerd 中的市级 D1`,
    `    一批（${floor.statements} 条语句，一个事务）${int(floor.ms)} ms；按推送大小分 ${floor.batches} 批（每批一个事务）${int(floor.slicedMs)} ms；取较快者 ${int(floorMs)} ms（${int(floorEps)} 事件/秒）`,
    `    其中经绑定把同样的 ${int(floor.paramBytes / 1024)} kB 参数交给 workerd（同样条数的语句，只取 length(?)，不写入）${int(floor.transferMs)} ms，市级自身的路径没有这一步`,
    `    追平速率 ÷ 下限速率：${range(eps.map((e) => e / floorEps), f2)}（下限只是存储：不含验签、哈希链和市级按自身规则复核）`,
    "",
    "  目标",
    `    积压确认 < 10 s（自链路恢复计，含链路探知）：${sec(upToAcked)} ${ok(Math.max(...upToAcked) < 10_000)}；仅追平 ${sec(catchUpMs)} ${ok(Math.max(...catchUpMs) < 10_000)}`,
    `    ≥ 10,000 事件/秒（追平：首个请求 → 积压确认）：${range(eps, int)} ${ok(Math.min(...eps) >= 10_000)}`,
    INTAKE_MS > 0
      ? `    追平期间窗口收件 p99 < 20 ms：p99 ${f1(catchUp.p99)} ms（${catchUp.n} 个样本${catchUp.n < 1000 ? "，不足 1000" : ""}）${ok(catchUp.p99 < 20 && catchUp.n >= 1000)}；含首次拉取 p99 ${f1(sync.p99)} ms ${ok(sync.p99 < 20)}`
      : "    追平期间窗口收件 p99 < 20 ms：未测（无店员）",
    `    节点 RSS 峰值 < 150 MB（VmHWM）：${range(hwm, f1)} MB ${ok(Math.max(...hwm) < 150)}`,
    "",
    // One line for the README's table, so what is recorded there is what was printed here.
    "  README 行：",
    `  | ${new Date().toISOString().slice(0, 10)} | ${rounds.length} | ${sec(detectMs)} | ${sec(catchUpMs)} | ${range(eps, int)} | ${refused.flat().length} | ${sec(upToAcked)} | ${sec(upToApplied)} | ${INTAKE_MS > 0 ? `${catchUp.n}: ${f1(catchUp.p50)} / ${f1(catchUp.p90)} / ${f1(catchUp.p99)} / ${f1(catchUp.max)} ms` : "–"} | ${INTAKE_MS > 0 ? `${f1(sync.p99)} / ${f1(sync.max)} ms` : "–"} | ${range(loops("catch-up").map((l) => l.p99), f1)} / ${f1(Math.max(...loops("catch-up").map((l) => l.max)))} ms | ${f1(Math.max(...hwm))} MB | ${int(floor.ms)} / ${int(floor.slicedMs)} ms (${int(floorEps)}/s; binding's transfer ${int(floor.transferMs)} ms) | ${range(rounds.map(othersShare), (x) => x.toFixed(0))} % |`,
  );
  console.log(out.join("\n"));
}

await main();
