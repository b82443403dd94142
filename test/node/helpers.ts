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
import { upsertLocalClerk } from "../../edge-node/clerk.js";

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

/** The clerk every test node has, signed in unless a test asks otherwise. */
export const TEST_CLERK = { login: "clerk1", name: "测试窗口", password: "Clerk-pass-2026" };

type Call = <T = any>(path: string, init?: RequestInit) => Promise<{ status: number; body: T; headers: Headers }>;
type Post = <T = any>(path: string, body: unknown) => Promise<{ status: number; body: T; headers: Headers }>;

export interface RunningNode {
  url: string;
  dir: string;
  store: NodeDatabase;
  clock: TestClock;
  code: string;
  /** The signed-in clerk's session cookie (`name=value`), or "" when the node was started without one. */
  readonly cookie: string;
  /** Moves the node's clock (sessions expire by it: the clerk signs in again at the new time). */
  setClock(iso: string): Promise<void>;
  close(opts?: { keepData?: boolean }): Promise<void>;
  /** Requests as the signed-in clerk. */
  json: Call;
  post: Post;
  /** Requests with no session (an anonymous visitor of the hall's LAN). */
  anonymous: { json: Call; post: Post };
}

/** Signs in at a node (or the city) and returns the session cookie as `name=value`. */
export async function signIn(url: string, login: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login, password }) });
  if (res.status !== 200) throw new Error(`sign-in of ${login} failed: ${res.status} ${await res.text()}`);
  return res.headers.getSetCookie()[0]!.split(";")[0]!;
}

/** Starts a node app on an ephemeral port with its own data dir. */
export async function startTestNode(opts: { at?: string; dir?: string; code?: string; allowedHosts?: string[]; signedIn?: boolean } = {}): Promise<RunningNode> {
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
  // Every test node has a clerk (a local account, hashed with few iterations to keep tests quick).
  await upsertLocalClerk(store.db, { ...TEST_CLERK, hall: code }, new Date(), 1_000);
  let cookie = opts.signedIn === false ? "" : await signIn(url, TEST_CLERK.login, TEST_CLERK.password);
  const call = (signedIn: boolean) => async (path: string, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    if (signedIn && cookie && !headers.has("cookie")) headers.set("cookie", cookie);
    const res = await fetch(url + path, { ...init, headers });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* HTML or empty */
    }
    return { status: res.status, body: body as any, headers: res.headers };
  };
  const json = call(true);
  const anon = call(false);
  const postWith = (f: ReturnType<typeof call>) => (path: string, body: unknown) => f(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return {
    url,
    dir,
    store,
    clock,
    code,
    get cookie() {
      return cookie;
    },
    async setClock(iso: string) {
      clock.set(iso);
      if (cookie) cookie = await signIn(url, TEST_CLERK.login, TEST_CLERK.password);
    },
    json,
    post: postWith(json),
    anonymous: { json: anon, post: postWith(anon) },
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
