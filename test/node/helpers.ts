/** Test harness for the township node: a real libSQL file in a temp dir, served over real HTTP on 127.0.0.1. */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { serve, type ServerType } from "@hono/node-server";
import { createNodeApp } from "../../edge-node/app.js";
import { openNodeDatabase, type NodeDatabase } from "../../edge-node/database.js";
import { LOOPBACK_HOSTS } from "../../http/security.js";

export interface TestClock {
  now: Date;
  set(iso: string): void;
}

/** A settable clock for injection. */
export function testClock(iso: string): TestClock {
  const clock = {
    now: new Date(iso),
    set(next: string) {
      clock.now = new Date(next);
    },
  };
  return clock;
}

/** A TCP port on 127.0.0.1 that refuses connections (bound, then closed). */
export async function refusedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface RunningNode {
  url: string;
  dir: string;
  store: NodeDatabase;
  clock: TestClock;
  code: string;
  close(opts?: { keepData?: boolean }): Promise<void>;
  json<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T; headers: Headers }>;
  post<T = any>(path: string, body: unknown): Promise<{ status: number; body: T; headers: Headers }>;
}

/** Starts a node app on an ephemeral port with its own data dir. */
export async function startTestNode(opts: { at?: string; dir?: string; code?: string; allowedHosts?: string[] } = {}): Promise<RunningNode> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "tongban-node-"));
  const code = opts.code ?? "TEST01";
  const store = await openNodeDatabase(dir);
  const clock = testClock(opts.at ?? "2026-11-23T02:00:00.000Z");
  const cityPort = await refusedPort();
  let port = 0;
  // Like main.ts: the loopback names (and any extra) on the port the server is bound to.
  const hosts = { names: [...LOOPBACK_HOSTS, ...(opts.allowedHosts ?? [])], port: () => port };
  const app = createNodeApp({ db: store.db, code, name: "测试镇便民服务中心", cityUrl: `http://127.0.0.1:${cityPort}`, now: () => clock.now, hosts });
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, () => resolve(s));
  });
  port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  const json = async (path: string, init?: RequestInit) => {
    const res = await fetch(url + path, init);
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* HTML or empty */
    }
    return { status: res.status, body: body as any, headers: res.headers };
  };
  return {
    url,
    dir,
    store,
    clock,
    code,
    json,
    post: (path, body) => json(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    async close({ keepData = false } = {}) {
      await new Promise<void>((r) => server.close(() => r()));
      store.client.close();
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Valid test ID numbers (GB 11643 check digits verified by hand). */
export const ID = { zhang: "11010519491231002X", li: "35050219900101123X", wang: "350521198512150041", chen: "350582197006305512" };

/**
 * One HTTP request with exactly the headers given (`fetch` would set Host and Origin itself):
 * what a browser at another origin, or a DNS-rebound page, sends.
 */
export function rawRequest(
  url: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; text: string; body: any }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port, path, method: opts.method ?? "GET", headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = null;
        try {
          body = JSON.parse(text);
        } catch {
          /* not JSON */
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, body });
      });
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}
