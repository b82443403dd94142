/**
 * The real city worker in workerd via Miniflare, on 127.0.0.1, with local D1 and R2: used by the
 * node ⇄ city tests and the sync benchmark. The worker is bundled exactly as `wrangler deploy` would.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { newEd25519Jwk, publicJwk } from "../../domain/keys.js";
import { Miniflare } from "miniflare";
import { seedStatements } from "../../store/seed.js";
import { mintToken } from "./dev-auth.js";
import { quietEnv, ROOT, WRANGLER } from "./wrangler.js";

let bundled: string | null = null;

/** Bundles the worker once per process with `wrangler deploy --dry-run`. */
export function bundleWorker(): string {
  if (bundled) return bundled;
  const out = mkdtempSync(join(tmpdir(), "tongban-worker-"));
  const r = spawnSync(WRANGLER, ["deploy", "--dry-run", "--outdir", out], { cwd: ROOT, env: quietEnv(), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`bundling the worker failed:\n${r.stdout}\n${r.stderr}`);
  bundled = join(out, "index.js");
  return bundled;
}

export interface LocalCity {
  url: string;
  mf: Miniflare;
  d1: D1DatabaseLike;
  /** A staff token; an approver's names a department (`department`, default: the one of the case the call is about, if any). */
  token(role: StaffRole, opts?: TokenClaims): Promise<string>;
  /**
   * Calls the city's JSON API with a staff token. An approver acting on `/api/cases/<caseNo>/…`
   * belongs to that case's department unless `department` says otherwise.
   */
  api<T = any>(path: string, role: StaffRole, init?: { method?: string; body?: unknown } & TokenClaims): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export type StaffRole = "clerk" | "approver" | "supervisor" | "admin";
/** Claims a test token may carry besides its role. */
export interface TokenClaims {
  sub?: string;
  hall?: string;
  department?: string;
}

/** The part of a D1 binding the harness uses. */
export interface D1StatementLike {
  bind(...values: unknown[]): D1StatementLike;
  all<T = Record<string, unknown>>(): Promise<{ results: T[] }>;
  first<T = Record<string, unknown>>(): Promise<T | null>;
  run(): Promise<unknown>;
}
export interface D1DatabaseLike {
  prepare(sql: string): D1StatementLike;
  batch(stmts: D1StatementLike[]): Promise<unknown>;
}

/** Starts a city on an ephemeral port with a migrated, seeded D1. */
export async function startLocalCity(opts: { port?: number; persistDir?: string; inspectorPort?: number } = {}): Promise<LocalCity> {
  const priv = await newEd25519Jwk("local-staff");
  const pub = publicJwk(priv);
  const signing = await newEd25519Jwk("city-local");
  const mf = new Miniflare({
    modules: true,
    scriptPath: bundleWorker(),
    modulesRoot: dirname(bundleWorker()),
    compatibilityDate: "2026-04-01",
    compatibilityFlags: ["nodejs_compat"],
    d1Databases: { DB: "tongban-local" },
    r2Buckets: ["MATERIALS"],
    ...(opts.persistDir ? { d1Persist: join(opts.persistDir, "d1"), r2Persist: join(opts.persistDir, "r2") } : {}),
    bindings: { CENTRE_NAME: "泉州市行政服务中心", AUTH_ISSUER: "tongban-local", AUTH_JWKS: JSON.stringify({ keys: [pub] }), SIGNING_JWK: JSON.stringify(signing) },
    host: "127.0.0.1",
    port: opts.port ?? 0,
    ...(opts.inspectorPort ? { inspectorPort: opts.inspectorPort } : {}),
  });
  const url = (await mf.ready).toString().replace(/\/$/, "");
  const d1 = (await mf.getD1Database("DB")) as unknown as D1DatabaseLike;
  const dir = join(ROOT, "schema/migrations");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".sql")).sort()) {
    const stmts = readFileSync(join(dir, file), "utf8").split("--> statement-breakpoint").map((s) => s.trim()).filter(Boolean);
    await d1.batch(stmts.map((s) => d1.prepare(s)));
  }
  await d1.batch(seedStatements().map((s) => d1.prepare(s)));
  const token = (role: StaffRole, opts: TokenClaims = {}) => mintToken(priv, { role, ...opts, issuer: "tongban-local" });
  /** The department of the case a path is about (what an approver acting on it belongs to). */
  const departmentOfPath = async (path: string) => {
    const caseNo = /^\/api\/cases\/([^/?]+)/.exec(path)?.[1];
    if (!caseNo) return "GAJ";
    const row = await d1.prepare("select department_code as d from cases where case_no = ?").bind(decodeURIComponent(caseNo)).first<{ d: string }>();
    return row?.d ?? "GAJ";
  };
  return {
    url,
    mf,
    d1,
    token,
    async api(path, role, init = {}) {
      const res = await fetch(url + path, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers: {
          authorization: `Bearer ${await token(role, { sub: init.sub, hall: init.hall, department: init.department ?? (role === "approver" ? await departmentOfPath(path) : undefined) })}`,
          ...(init.body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    close: () => mf.dispose(),
  };
}
