import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { parseNodeConfig } from "../../edge-node/config.js";
import { ID, refusedPort, signIn } from "./helpers.js";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe("npm run edge", () => {
  it("starts on its own with an empty data dir, city unreachable, and accepts a case over HTTP", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tongban-cli-"));
    dirs.push(dir);
    const port = await refusedPort();
    const cityPort = await refusedPort();
    // Exactly the documented command: npm run edge -- --port … --data … --code … --city …
    const child = spawn(NPM, ["run", "-s", "edge", "--", "--port", String(port), "--data", dir, "--code", "hx02", "--city", `http://127.0.0.1:${cityPort}`], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 200; i++) {
        if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(existsSync(join(dir, "node.db"))).toBe(true);
      const item = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;
      // Nobody is anonymous: the hall's first clerk is made with the documented command, while the node runs.
      const anonymous = await fetch(`${base}/api/cases`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(anonymous.status).toBe(401);
      const clerk = spawnSync(NPM, ["run", "-s", "node:clerk", "--", "--data", dir, "--login", "wangli", "--name", "王丽"], { input: "Window-pass-2026\n", encoding: "utf8" });
      expect(clerk.status, clerk.stderr).toBe(0);
      expect(clerk.stdout).toContain("已创建本地窗口账号 wangli（节点 HX02）");
      const cookie = await signIn(base, "wangli", "Window-pass-2026");
      const res = await fetch(`${base}/api/cases`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie },
        body: JSON.stringify({ itemCode: item.code, applicant: { name: "王五", idNumber: ID.wang, phone: "13900001111" }, materials: item.materials.map((m) => m.id) }),
      });
      expect(res.status).toBe(201);
      const body = (await res.json()) as { caseNo: string };
      expect(body.caseNo).toMatch(/^HX02-\d{8}-0001$/);
      const node = (await (await fetch(`${base}/api/node`)).json()) as { code: string };
      expect(node.code).toBe("HX02");
      expect(out).toContain("已初始化本地数据库");
      const journal = await fetch(`${base}/`, { headers: { cookie } });
      expect(await journal.text()).toContain("窗口工作台");
      // The same command resets the password; a wrong node code for the data directory is refused.
      const reset = spawnSync(NPM, ["run", "-s", "node:clerk", "--", "--data", dir, "--login", "wangli"], { input: "Window-pass-2027\n", encoding: "utf8" });
      expect(reset.stdout).toContain("已重置本地窗口账号 wangli");
      const wrong = spawnSync(NPM, ["run", "-s", "node:clerk", "--", "--data", dir, "--login", "lisi", "--code", "OTHER1"], { input: "Window-pass-2026\n", encoding: "utf8" });
      expect(wrong.status).toBe(2);
      expect(wrong.stderr).toContain("数据目录属于节点 HX02，不是 OTHER1");
    } finally {
      process.kill(-child.pid!, "SIGTERM");
      await new Promise((r) => child.once("exit", r));
    }
  });

  it("refuses a bad configuration at start-up with exit code 2", () => {
    const r = spawnSync(NPM, ["run", "-s", "edge", "--", "--port", "99999"], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("配置错误：--port 应为 0–65535 的整数，收到 \"99999\"");
  });
});

describe("parseNodeConfig", () => {
  it("has working defaults", () => {
    const c = parseNodeConfig([], {});
    expect(c).toMatchObject({ port: 8788, code: "DEMO01", cityUrl: "http://127.0.0.1:8787", host: "127.0.0.1" });
    expect(c.dataDir.endsWith(join("data", "edge"))).toBe(true);
  });
  it("reads --allowed-hosts (or TONGBAN_NODE_ALLOWED_HOSTS): names lower-case, a port only if it is the node's", () => {
    expect(parseNodeConfig([], {}).allowedHosts).toEqual([]);
    expect(parseNodeConfig(["--port", "8790", "--allowed-hosts", "Hall-PC.lan, tongban.lan:8790,192.168.1.20,[fe80::1]:8790,fe80::2"], {}).allowedHosts).toEqual([
      "hall-pc.lan",
      "tongban.lan",
      "192.168.1.20",
      "[fe80::1]",
      "[fe80::2]",
    ]);
    expect(parseNodeConfig([], { TONGBAN_NODE_ALLOWED_HOSTS: "hall-pc" }).allowedHosts).toEqual(["hall-pc"]);
    expect(() => parseNodeConfig(["--allowed-hosts", "hall-pc:9000"], {})).toThrow('--allowed-hosts 中 "hall-pc:9000" 的端口应为本节点端口 8788');
    expect(() => parseNodeConfig(["--allowed-hosts", "http://hall-pc/"], {})).toThrow('--allowed-hosts 中的 "http://hall-pc/" 不是合法的主机名或地址');
  });
  it("has slow-client timeouts, configurable by option or environment, and refuses inconsistent ones", () => {
    expect(parseNodeConfig([], {})).toMatchObject({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000 });
    expect(parseNodeConfig(["--headers-timeout", "500", "--request-timeout", "1000", "--keep-alive-timeout", "700"], {})).toMatchObject({
      headersTimeoutMs: 500,
      requestTimeoutMs: 1000,
      keepAliveTimeoutMs: 700,
    });
    const env = { TONGBAN_NODE_HEADERS_TIMEOUT_MS: "2000", TONGBAN_NODE_REQUEST_TIMEOUT_MS: "4000", TONGBAN_NODE_KEEP_ALIVE_TIMEOUT_MS: "3000" };
    expect(parseNodeConfig([], env)).toMatchObject({ headersTimeoutMs: 2000, requestTimeoutMs: 4000, keepAliveTimeoutMs: 3000 });
    expect(() => parseNodeConfig(["--request-timeout", "50"], {})).toThrow('--request-timeout 应为不小于 100 的毫秒数，收到 "50"');
    expect(() => parseNodeConfig(["--keep-alive-timeout", "soon"], {})).toThrow('--keep-alive-timeout 应为不小于 100 的毫秒数，收到 "soon"');
    expect(() => parseNodeConfig(["--headers-timeout", "5000", "--request-timeout", "1000"], {})).toThrow("--headers-timeout（5000）不能大于 --request-timeout（1000）");
  });
  it("rejects bad codes and city URLs", () => {
    expect(() => parseNodeConfig(["--code", "CITY"], {})).toThrow("--code");
    expect(() => parseNodeConfig(["--code", "a-b"], {})).toThrow("--code");
    expect(() => parseNodeConfig(["--city", "ftp://x"], {})).toThrow("--city");
    expect(() => parseNodeConfig(["--nope"], {})).toThrow();
  });
});

describe("npm run token", () => {
  const claims = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8"));

  it("prints a token alone on its last line, carrying the hall, department and subject asked for", () => {
    const run = spawnSync(NPM, ["run", "-s", "token", "--", "--role", "approver", "--department", "GA", "--sub", "li-si"], { encoding: "utf8" });
    expect(run.status, run.stderr).toBe(0);
    const last = run.stdout.trim().split("\n").at(-1)!;
    expect(last).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(claims(last)).toMatchObject({ role: "approver", department: "GA", sub: "li-si", iss: "tongban-dev", aud: "tongban-city" });

    const clerk = spawnSync(NPM, ["run", "-s", "token", "--", "--role", "clerk", "--hall", "demo01"], { encoding: "utf8" });
    expect(claims(clerk.stdout.trim().split("\n").at(-1)!)).toMatchObject({ role: "clerk", hall: "DEMO01" });
  });

  it("refuses an approver without a department, and an unknown role, with exit code 2 and nothing on stdout", () => {
    const approver = spawnSync(NPM, ["run", "-s", "token", "--", "--role", "approver"], { encoding: "utf8" });
    expect([approver.status, approver.stdout]).toEqual([2, ""]);
    expect(approver.stderr).toContain("审批人员令牌须用 --department 指定部门");
    const unknown = spawnSync(NPM, ["run", "-s", "token", "--", "--role", "applicant"], { encoding: "utf8" });
    expect([unknown.status, unknown.stdout]).toEqual([2, ""]);
    expect(unknown.stderr).toContain("请用 --role 指定角色");
  });
});
