/** Running the project's own wrangler quietly and offline (see TOOLCHAIN.md). */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./root.js";
import { seedStatements } from "../../store/seed.js";
import { EDGE_NODE_FLAGS } from "./build-edge.js";

export { ROOT };
export const WRANGLER = join(ROOT, "node_modules/.bin/wrangler");

/** Environment that keeps wrangler from phoning home at every start. */
export function quietEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true",
    CI: "true",
    ...extra,
  };
}

/** Runs wrangler to completion; throws with its output on failure. */
export function wrangler(args: string[], persistTo?: string): string {
  const full = persistTo ? [...args, "--persist-to", persistTo] : args;
  const r = spawnSync(WRANGLER, full, { cwd: ROOT, env: quietEnv(), encoding: "utf8" });
  if (r.status !== 0) throw new Error(`wrangler ${full.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Applies migrations to the local D1 and loads the bundled seed (idempotent). */
export function prepareLocalD1(persistTo?: string): void {
  wrangler(["d1", "migrations", "apply", "DB", "--local"], persistTo);
  const dir = join(ROOT, ".wrangler");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "tongban-seed.sql");
  writeFileSync(file, seedStatements(new Date().toISOString()).join("\n") + "\n");
  wrangler(["d1", "execute", "DB", "--local", "--file", file], persistTo);
}

/** Starts `wrangler dev` on 127.0.0.1:<port> in its own process group. */
export function startCity(port: number, opts: { persistTo?: string; vars?: Record<string, string> } = {}): ChildProcess {
  const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", "0", "--show-interactive-dev-session=false"];
  if (opts.persistTo) args.push("--persist-to", opts.persistTo);
  for (const [k, v] of Object.entries(opts.vars ?? {})) args.push("--var", `${k}:${v}`);
  return spawn(WRANGLER, args, { cwd: ROOT, env: quietEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
}

/** Starts a township node process (the bundle `npm run edge` runs) in its own process group. */
export function startNode(bundle: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ["--enable-source-maps", ...EDGE_NODE_FLAGS, bundle, ...args], { cwd: ROOT, env: process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
}

/** Polls a URL until it answers 200, or throws after `ms`. */
export async function waitForOk(url: string, ms = 30_000, child?: ChildProcess): Promise<void> {
  const until = Date.now() + ms;
  let last = "";
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`${url}: process exited with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = String((err as Error).message);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} not ready after ${ms} ms (${last})`);
}

/** Stops a child and everything it spawned. */
export function stopGroup(child: ChildProcess | undefined, signal: NodeJS.Signals = "SIGTERM"): void {
  if (!child?.pid || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}
