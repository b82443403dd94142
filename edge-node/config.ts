/** The node's configuration from its command line and environment, checked at start-up. */
import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { ORIGIN_CODE_PATTERN, CITY_ORIGIN } from "../domain/case-number.js";
import { MAX_PUSH_EVENTS } from "../domain/sync-protocol.js";
import { parseHost } from "../http/security.js";

export interface NodeConfig {
  port: number;
  host: string;
  dataDir: string;
  code: string;
  name: string;
  cityUrl: string;
  /** Pause between sync rounds while online. */
  syncIntervalMs: number;
  /** Events per push: smaller keeps intake snappy during a catch-up, larger means fewer round trips. */
  pushBatch: number;
  /** Extra names the node answers to (LAN names, a DNS alias), lower-case, without port. */
  allowedHosts: string[];
  /** A client must send its request headers within this (slowloris). */
  headersTimeoutMs: number;
  /** …and its whole request, body included, within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
}

export const DEFAULTS = {
  port: 8788,
  host: "127.0.0.1",
  dataDir: "./data/edge",
  code: "DEMO01",
  name: "演示镇便民服务中心",
  cityUrl: "http://127.0.0.1:8787",
  syncIntervalMs: 10_000,
  pushBatch: 1000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
} as const;

/** A whole number of milliseconds of at least `min`, from an option or its variable. */
function millis(option: string, text: string, min: number): number {
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < min) throw new Error(`--${option} 应为不小于 ${min} 的毫秒数，收到 "${text}"`);
  return ms;
}

/** `--allowed-hosts a,b:8788,[fe80::1]`: names (and addresses) with an optional port that must be the node's own. */
function parseAllowedHosts(text: string, port: number): string[] {
  const names: string[] = [];
  for (const entry of text.split(",").map((e) => e.trim()).filter(Boolean)) {
    // A bare IPv6 address has colons of its own: it cannot carry a port without brackets.
    const h = parseHost(entry.split(":").length > 2 && !entry.startsWith("[") ? `[${entry}]` : entry);
    if (!h) throw new Error(`--allowed-hosts 中的 "${entry}" 不是合法的主机名或地址`);
    if (h.port !== null && h.port !== port) throw new Error(`--allowed-hosts 中 "${entry}" 的端口应为本节点端口 ${port}`);
    names.push(h.name);
  }
  return names;
}

/** Parses the node's options (`--port --host --data --code --name --city …`, or TONGBAN_* variables); throws a readable error. */
export function parseNodeConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      data: { type: "string" },
      code: { type: "string" },
      name: { type: "string" },
      city: { type: "string" },
      "sync-interval": { type: "string" },
      "push-batch": { type: "string" },
      "allowed-hosts": { type: "string" },
      "headers-timeout": { type: "string" },
      "request-timeout": { type: "string" },
      "keep-alive-timeout": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const portText = values.port ?? env.TONGBAN_NODE_PORT ?? String(DEFAULTS.port);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port 应为 0–65535 的整数，收到 "${portText}"`);
  const code = (values.code ?? env.TONGBAN_NODE_CODE ?? DEFAULTS.code).toUpperCase();
  if (!ORIGIN_CODE_PATTERN.test(code) || code === CITY_ORIGIN) {
    throw new Error(`--code 应为 2–12 位大写字母或数字且不能是 ${CITY_ORIGIN}，收到 "${code}"`);
  }
  const cityUrl = values.city ?? env.TONGBAN_CITY_URL ?? DEFAULTS.cityUrl;
  let parsed: URL;
  try {
    parsed = new URL(cityUrl);
  } catch {
    throw new Error(`--city 应为 http(s) 地址，收到 "${cityUrl}"`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(`--city 应为 http(s) 地址，收到 "${cityUrl}"`);
  const intervalText = values["sync-interval"] ?? env.TONGBAN_SYNC_INTERVAL_MS ?? String(DEFAULTS.syncIntervalMs);
  const syncIntervalMs = Number(intervalText);
  if (!Number.isInteger(syncIntervalMs) || syncIntervalMs < 100) throw new Error(`--sync-interval 应为不小于 100 的毫秒数，收到 "${intervalText}"`);
  const batchText = values["push-batch"] ?? env.TONGBAN_PUSH_BATCH ?? String(DEFAULTS.pushBatch);
  const pushBatch = Number(batchText);
  if (!Number.isInteger(pushBatch) || pushBatch < 1 || pushBatch > MAX_PUSH_EVENTS) throw new Error(`--push-batch 应为 1–${MAX_PUSH_EVENTS} 的整数，收到 "${batchText}"`);
  const headersTimeoutMs = millis("headers-timeout", values["headers-timeout"] ?? env.TONGBAN_NODE_HEADERS_TIMEOUT_MS ?? String(DEFAULTS.headersTimeoutMs), 100);
  const requestTimeoutMs = millis("request-timeout", values["request-timeout"] ?? env.TONGBAN_NODE_REQUEST_TIMEOUT_MS ?? String(DEFAULTS.requestTimeoutMs), 100);
  // Node refuses a header timeout longer than the request timeout; say so in the node's words.
  if (headersTimeoutMs > requestTimeoutMs) throw new Error(`--headers-timeout（${headersTimeoutMs}）不能大于 --request-timeout（${requestTimeoutMs}）`);
  const keepAliveTimeoutMs = millis("keep-alive-timeout", values["keep-alive-timeout"] ?? env.TONGBAN_NODE_KEEP_ALIVE_TIMEOUT_MS ?? String(DEFAULTS.keepAliveTimeoutMs), 100);
  return {
    port,
    allowedHosts: parseAllowedHosts(values["allowed-hosts"] ?? env.TONGBAN_NODE_ALLOWED_HOSTS ?? "", port),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs,
    syncIntervalMs,
    pushBatch,
    host: values.host ?? env.TONGBAN_NODE_HOST ?? DEFAULTS.host,
    dataDir: resolve(values.data ?? env.TONGBAN_NODE_DATA ?? DEFAULTS.dataDir),
    code,
    name: values.name ?? env.TONGBAN_NODE_NAME ?? DEFAULTS.name,
    cityUrl: parsed.toString().replace(/\/$/, ""),
  };
}
