/**
 * `npm start`: local D1 migrated and seeded, the city worker (wrangler dev) on :8787 and one
 * township node on :8788. Ctrl-C stops both.
 */
import { resolve } from "node:path";
import { upsertLocalClerk } from "../edge-node/clerk.js";
import { DEFAULTS } from "../edge-node/config.js";
import { openNodeDatabase } from "../edge-node/database.js";
import { buildEdge } from "./lib/build-edge.js";
import { ensureDevAuth, mintToken } from "./lib/dev-auth.js";
import { prepareLocalD1, ROOT, startCity, startNode, stopGroup, waitForOk } from "./lib/wrangler.js";

const cityPort = Number(process.env.TONGBAN_CITY_PORT ?? 8787);
const nodePort = Number(process.env.TONGBAN_NODE_PORT ?? DEFAULTS.port);
const city = `http://127.0.0.1:${cityPort}`;
const nodeUrl = `http://127.0.0.1:${nodePort}`;
const nodeData = resolve(process.env.TONGBAN_NODE_DATA ?? DEFAULTS.dataDir);
/** The demo node's local clerk (README: local and city-managed accounts). */
const DEMO_CLERK = { login: "clerk", name: "演示窗口人员", password: "Tongban-demo-2026" };

console.log("准备本地 D1：应用迁移并载入事项目录与工作日历 …");
prepareLocalD1();
const auth = await ensureDevAuth(ROOT);

const children = [
  startCity(cityPort),
  startNode(buildEdge(), ["--port", String(nodePort), "--data", nodeData, "--city", city]),
];
const [cityProc, nodeProc] = children as [NonNullable<(typeof children)[0]>, NonNullable<(typeof children)[1]>];
for (const [name, child] of [["city", cityProc], ["node", nodeProc]] as const) {
  child.stdout?.on("data", (d: Buffer) => process.stdout.write(`[${name}] ${d}`));
  child.stderr?.on("data", (d: Buffer) => process.stderr.write(`[${name}] ${d}`));
  child.on("exit", (code) => {
    if (!stopping) {
      console.error(`${name} 进程意外退出（${code}），正在停止全部服务`);
      shutdown(1);
    }
  });
}

let stopping = false;
function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  for (const c of children) stopGroup(c);
  setTimeout(() => process.exit(code), 1500).unref();
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

try {
  await Promise.all([waitForOk(`${city}/healthz`, 60_000, cityProc), waitForOk(`${nodeUrl}/healthz`, 60_000, nodeProc)]);
} catch (err) {
  console.error(`启动失败：${(err as Error).message}`);
  shutdown(1);
}
if (!stopping) await enrolDemoNode();
if (!stopping) {
  console.log(`
通办已在本地运行：
  市级中心（Cloudflare Worker，本地 D1/R2）  ${city}
  乡镇节点（Node + libSQL，窗口工作台）       ${nodeUrl}
演示账号（仅限本地演示）：
  乡镇节点窗口人员  登录名 ${DEMO_CLERK.login}  密码 ${DEMO_CLERK.password}
按 Ctrl-C 停止。`);
}

/** Enrols the demo node's public key at the local city, as an administrator would. */
async function enrolDemoNode(): Promise<void> {
  const identity = (await (await fetch(`${nodeUrl}/api/node`)).json()) as { code: string; name: string; publicJwk: unknown };
  const token = await mintToken(auth.privateJwk, { role: "admin", sub: "npm-start" });
  const res = await fetch(`${city}/api/admin/nodes`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify(identity),
  });
  if (res.ok) {
    console.log(`演示节点 ${identity.code} 已在市级登记（HTTP ${res.status}），后台同步已开始。`);
    await syncDemoNode(identity.code).catch(() => undefined);
  } else {
    const body = (await res.json()) as { detail?: string };
    console.error(`演示节点登记失败：${body.detail ?? res.status}。若重置过 data/edge，请同时删除 .wrangler/state 后重新 npm start。`);
  }
}

/** Gives the demo node its local clerk and, signed in as that clerk, starts a first sync. */
async function syncDemoNode(code: string): Promise<void> {
  const store = await openNodeDatabase(nodeData);
  try {
    await upsertLocalClerk(store.db, { ...DEMO_CLERK, hall: code }, new Date());
  } finally {
    store.client.close();
  }
  const signIn = await fetch(`${nodeUrl}/api/session`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login: DEMO_CLERK.login, password: DEMO_CLERK.password }) });
  const cookie = signIn.headers.get("set-cookie")?.split(";")[0] ?? "";
  await fetch(`${nodeUrl}/api/sync/now`, { method: "POST", headers: { "content-type": "application/json", cookie }, body: "{}" });
}
