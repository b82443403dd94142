/** Node processes and a fault-injecting HTTP proxy for the node ⇄ city tests (real HTTP on 127.0.0.1). */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { expect } from "vitest";
import type { LocalCity } from "../../scripts/lib/local-city.js";
import { SwitchableServer } from "../../scripts/lib/tcp-link.js";
import { refusedPort, signIn, TEST_CLERK } from "./helpers.js";
import { openNodeDatabase } from "../../edge-node/database.js";
import { upsertLocalClerk } from "../../edge-node/clerk.js";

import { EDGE_BUNDLE, EDGE_NODE_FLAGS } from "../../scripts/lib/build-edge.js";

export interface NodeProcess {
  url: string;
  code: string;
  dir: string;
  child: ChildProcess;
  /** The signed-in clerk's session cookie (`name=value`). */
  cookie: string;
  output(): string;
  json<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  post<T = any>(path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Graceful stop. */
  stop(): Promise<void>;
  /** SIGKILL, like pulling the plug. */
  kill(): Promise<void>;
}

/** Starts `edge-node/main.ts` as its own process and waits until it answers. */
export async function spawnNode(opts: { dir: string; code: string; city: string; port?: number; syncIntervalMs?: number; args?: string[] }): Promise<NodeProcess> {
  const port = opts.port ?? (await refusedPort());
  // The hall's first clerk, made on its PC before the node starts (as `npm run node:clerk` does).
  const store = await openNodeDatabase(opts.dir);
  await upsertLocalClerk(store.db, { ...TEST_CLERK, hall: opts.code }, new Date(), 1_000);
  store.client.close();
  const child = spawn(
    process.execPath,
    [...EDGE_NODE_FLAGS, EDGE_BUNDLE, "--port", String(port), "--data", opts.dir, "--code", opts.code, "--city", opts.city, "--sync-interval", String(opts.syncIntervalMs ?? 60_000), ...(opts.args ?? [])],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`node ${opts.code} exited: ${out}`);
    if (await fetch(`${url}/healthz`).then((r) => r.ok, () => false)) break;
    if (i > 300) throw new Error(`node ${opts.code} did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const cookie = await signIn(url, TEST_CLERK.login, TEST_CLERK.password);
  const json = async (path: string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    if (!headers.has("cookie")) headers.set("cookie", cookie);
    const res = await fetch(url + path, { ...init, headers });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const exited = () => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once("exit", () => r())));
  return {
    url,
    code: opts.code,
    dir: opts.dir,
    child,
    cookie,
    output: () => out,
    json,
    post: (path, body) => json(path, { method: "POST", headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }),
    async stop() {
      child.kill("SIGTERM");
      await exited();
    },
    async kill() {
      child.kill("SIGKILL");
      await exited();
    },
  };
}

/** Enrols a running node's public key at the city. */
export async function enrol(city: LocalCity, node: NodeProcess): Promise<void> {
  const identity = (await node.json("/api/node")).body;
  const res = await city.api("/api/admin/nodes", "admin", { body: { code: identity.code, name: identity.name, publicJwk: identity.publicJwk } });
  // Every caller enrols a node it has just started under a fresh code: a first enrolment (201).
  // A 200 would mean the city already held that code, i.e. tests sharing a node by accident.
  expect(res.status).toBe(201);
}

type Fault = "drop-response" | "cut-request" | "kill-after-commit";

/** An HTTP proxy in front of the city that can be taken down and can inject one fault into the next push. */
export class FaultProxy extends SwitchableServer {
  private fault: { kind: Fault; hook?: () => Promise<void> | void; fired?: () => void } | null = null;
  pushesSeen = 0;
  /** Rewrites the city's successful pull answers on their way to the node (a city bug, or someone on the path), while set. */
  rewritePull: ((answer: Record<string, any>) => unknown) | null = null;
  constructor(
    port: number,
    private readonly target: string,
  ) {
    super(port, () => createServer((req, res) => void this.handle(req, res)));
  }

  /** Arms one fault for the next push that carries events; resolves when it has fired. */
  arm(kind: Fault, hook?: () => Promise<void> | void): Promise<void> {
    return new Promise((fired) => (this.fault = { kind, hook, fired }));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const fault = this.fault && req.url === "/api/sync/push" && eventsIn(body) > 0 ? this.fault : null;
    if (req.url === "/api/sync/push") this.pushesSeen++;
    if (fault) this.fault = null;
    if (fault?.kind === "cut-request") {
      // Half the body reaches the city, then the connection dies in both directions.
      const up = httpRequest(this.target + req.url, { method: req.method, headers: { ...req.headers, "content-length": String(body.length) } });
      up.on("error", () => {});
      up.write(body.subarray(0, Math.floor(body.length / 2)));
      await new Promise((r) => setTimeout(r, 50));
      up.destroy();
      req.socket.destroy();
      fault.fired?.();
      return;
    }
    let upstream: Response;
    try {
      upstream = await fetch(this.target + req.url, {
        method: req.method,
        headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !["host", "connection", "content-length"].includes(k)) as [string, string][]),
        body: req.method === "GET" || req.method === "HEAD" ? undefined : body,
      });
    } catch {
      req.socket.destroy();
      return;
    }
    let answer = Buffer.from(await upstream.arrayBuffer());
    if (this.rewritePull && req.url === "/api/sync/pull" && upstream.status === 200) {
      answer = Buffer.from(JSON.stringify(this.rewritePull(JSON.parse(answer.toString("utf8")) as Record<string, any>)));
    }
    if (fault) {
      // The city has committed the batch; the node never hears back.
      await fault.hook?.();
      req.socket.destroy();
      fault.fired?.();
      return;
    }
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
    res.end(answer);
  }
}

/** Events in a push body: the payload JSON itself (detached signature) or inside a compact JWS. */
function eventsIn(body: Buffer): number {
  try {
    const text = body.toString();
    const json = text.trimStart().startsWith("{") ? text : Buffer.from(text.split(".")[1]!, "base64url").toString();
    return ((JSON.parse(json) as { events?: unknown[] }).events ?? []).length;
  } catch {
    return 0;
  }
}

/** Waits until `check` returns true (polling), or fails with `what`. */
export async function eventually(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

/**
 * City and node agree: the same per-origin counts and chain heads for the node's own chain, the
 * same events made elsewhere on the node's cases, and no event stored twice on either side.
 */
export async function assertAgree(city: LocalCity, node: NodeProcess): Promise<{ own: number; foreign: number }> {
  const local = createClient({ url: `file:${join(node.dir, "node.db")}` });
  try {
    const q = async (sql: string, args: (string | number)[] = []) => (await local.execute({ sql, args })).rows;
    const [own] = await q("select count(*) as n, coalesce(max(seq),0) as head from case_events where origin = ?", [node.code]);
    const [ownHash] = await q("select hash from case_events where origin = ? order by seq desc limit 1", [node.code]);
    const cityOwn = await city.d1.prepare("select count(*) as n, coalesce(max(seq),0) as head from case_events where origin = ?").bind(node.code).first<{ n: number; head: number }>();
    const cityHash = await city.d1.prepare("select hash from case_events where origin = ? order by seq desc limit 1").bind(node.code).first<{ hash: string }>();
    expect({ n: Number(own!.n), head: Number(own!.head), hash: ownHash?.hash ?? null }).toEqual({ n: cityOwn!.n, head: cityOwn!.head, hash: cityHash?.hash ?? null });
    expect(Number(own!.n)).toBe(Number(own!.head));

    const foreignLocal = await q("select origin, count(*) as n, max(seq) as head from case_events where origin <> ? group by origin order by origin", [node.code]);
    const foreignCity = await city.d1
      .prepare("select e.origin, count(*) as n, max(e.seq) as head from case_events e join cases c on c.case_no = e.case_no where c.origin = ? and e.origin <> ? group by e.origin order by e.origin")
      .bind(node.code, node.code)
      .all<{ origin: string; n: number; head: number }>();
    expect(foreignLocal.map((r) => ({ origin: r.origin, n: Number(r.n), head: Number(r.head) }))).toEqual(foreignCity.results.map((r) => ({ origin: r.origin, n: r.n, head: r.head })));

    const [dupLocal] = await q("select count(*) - count(distinct hash) as d from case_events");
    const dupCity = await city.d1.prepare("select count(*) - count(distinct hash) as d from case_events").first<{ d: number }>();
    expect(Number(dupLocal!.d)).toBe(0);
    expect(dupCity!.d).toBe(0);
    const [localCases] = await q("select count(*) as n from cases where origin = ?", [node.code]);
    const cityCases = await city.d1.prepare("select count(*) as n from cases where origin = ?").bind(node.code).first<{ n: number }>();
    expect(Number(localCases!.n)).toBe(cityCases!.n);
    return { own: Number(own!.n), foreign: foreignLocal.reduce((s, r) => s + Number(r.n), 0) };
  } finally {
    local.close();
  }
}
