/** `npm run edge -- --port 8788 --data ./data/edge --code DEMO01 --city http://127.0.0.1:8787` */
import { serve } from "@hono/node-server";
import { parseNodeConfig } from "./config.js";
import { openNodeDatabase } from "./database.js";
import { loadOrCreateIdentity } from "./identity.js";
import { createNodeApp } from "./app.js";
import { SyncAgent } from "./sync.js";
import { nodeHostNames } from "./hosts.js";
import { CachedReference } from "../store/reference.js";
import { recordNodeCode } from "../store/replica.js";

async function main() {
  let config;
  try {
    config = parseNodeConfig(process.argv.slice(2));
  } catch (err) {
    console.error(`配置错误：${(err as Error).message}`);
    process.exit(2);
  }
  const store = await openNodeDatabase(config.dataDir);
  if (store.seeded) console.log(`已初始化本地数据库并载入内置事项目录与工作日历：${store.path}`);
  await recordNodeCode(store.db, config.code, new Date());
  const identity = await loadOrCreateIdentity(config.dataDir);
  if (identity.created) console.log(`已生成节点密钥：${identity.path}（私钥不出本机，请将 GET /api/node 中的公钥交管理员登记）`);
  const reference = new CachedReference(store.db);
  const sync = new SyncAgent({
    db: store.db,
    code: config.code,
    cityUrl: config.cityUrl,
    privateJwk: identity.privateJwk,
    dbPath: store.path,
    pushWorker: new URL("./push-worker.mjs", import.meta.url),
    intervalMs: config.syncIntervalMs,
    maxBatchEvents: config.pushBatch,
    onReferenceChanged: () => reference.invalidate(),
    log: (m) => console.log(`[同步] ${m}`),
  });
  // The bound port (the configured one, or the one the system picked for --port 0).
  let port = config.port;
  const app = createNodeApp({
    db: store.db,
    code: config.code,
    name: config.name,
    cityUrl: config.cityUrl,
    publicJwk: identity.publicJwk,
    privateKey: identity.privateKey,
    sync,
    reference,
    log: process.env.TONGBAN_LOG === "1",
    hosts: { names: nodeHostNames(config), port: () => port },
  });
  const server = serve(
    {
      fetch: app.fetch,
      port: config.port,
      hostname: config.host,
      // A client that trickles its headers or body holds a connection (and, on a hall's PC, one of
      // few sockets) for as long as it likes unless the server cuts it off: Node checks these
      // deadlines every connectionsCheckingInterval (30 s by default, far too coarse for them).
      serverOptions: {
        headersTimeout: config.headersTimeoutMs,
        requestTimeout: config.requestTimeoutMs,
        keepAliveTimeout: config.keepAliveTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(config.headersTimeoutMs / 4))),
      },
    },
    (info) => {
      port = info.port;
      console.log(`乡镇节点 ${config.code}（${config.name}）已启动：http://${config.host}:${info.port}  数据目录 ${config.dataDir}  市级 ${config.cityUrl}`);
      sync.start();
    },
  );
  const stop = () => {
    void sync.stop();
    server.close(() => {
      store.client.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

void main();
