/**
 * Web hardening shared by both shells: security headers with a strict CSP on every response,
 * the node's Host allow-list (against DNS rebinding), the write guard (no cross-site and no
 * form-encoded state changes) and a request body limit. Each answers in problem+json.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { AppError, problemResponse } from "./errors.js";

/**
 * Pages load their scripts and styles from `/assets/*` only (http/assets.ts), so nothing inline
 * needs an exception: an injected `<script>` or `style=` does not run.
 */
const CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
};

/** Security headers on every response (pages, JSON, problems, 404s): CSP, no framing, no sniffing, no referrer. */
export function securityHeaders(): MiddlewareHandler {
  return secureHeaders({
    contentSecurityPolicy: CSP,
    xFrameOptions: "DENY",
    // Track and result URLs carry case numbers and query codes in the query string.
    referrerPolicy: "no-referrer",
    permissionsPolicy: { camera: [], microphone: [], geolocation: [], payment: [], usb: [] },
  });
}

/** A `Host` value split into its lower-case name (IPv6 in brackets) and port; null when malformed. */
export function parseHost(value: string): { name: string; port: number | null } | null {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!m) return null;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && port > 65535) return null;
  // A trailing dot names the same host (an FQDN); browsers keep it in Host.
  const name = m[1]!.toLowerCase().replace(/\.$/, "");
  return name ? { name, port } : null;
}

/** The loopback names every node answers to. */
export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"] as const;

export interface HostPolicy {
  /** Names and addresses this server answers to, as `parseHost` gives them (`[::1]`, `localhost`, …). */
  names: Iterable<string>;
  /** The port the server listens on: a Host that names a port must name this one. Omitted: any port. */
  port?: () => number;
}

/**
 * 421 for a request whose `Host` (and URL authority) is not one of ours: a page served from an
 * attacker's name that resolves to the node (DNS rebinding) must not reach its API.
 */
export function allowedHosts(policy: HostPolicy): MiddlewareHandler {
  const names = new Set([...policy.names].map((n) => n.toLowerCase()));
  const ours = (value: string) => {
    const h = parseHost(value);
    return h !== null && names.has(h.name) && (h.port === null || !policy.port || h.port === policy.port());
  };
  return async (c, next) => {
    // Browsers always send Host; a request without one is checked by the authority its URL was built from.
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    if (!ours(host) || !ours(new URL(c.req.url).host)) {
      return problemResponse(c, new AppError("misdirected_request", `本服务不接受主机名 ${host || "（空）"} 的请求，请使用本机配置的地址访问`, { host }));
    }
    await next();
  };
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Why a state change must be refused, or null: it must come from this origin and carry one of
 * the body types. A cross-site form or a bodiless `fetch(…, { method: "POST", mode: "no-cors" })`
 * can send neither without a CORS preflight, which nothing here answers.
 */
export function crossSiteWriteProblem(c: Context, types: ReadonlySet<string> = JSON_ONLY): AppError | null {
  if (!WRITES.has(c.req.method)) return null;
  const origin = c.req.header("origin");
  const own = new URL(c.req.url).origin;
  if (c.req.header("sec-fetch-site") === "cross-site" || (origin !== undefined && origin !== own)) {
    return new AppError("cross_site", `拒绝来自其他网站的写操作（来源 ${origin ?? "跨站"}），请在本系统页面中操作`, { origin: origin ?? null });
  }
  const type = (c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
  if (!types.has(type)) {
    return new AppError("unsupported_media_type", `写操作的请求必须是 ${[...types].join(" 或 ")}（Content-Type），收到 ${type || "（无）"}`, {
      field: "content-type",
      accepted: [...types],
    });
  }
  return null;
}

const JSON_ONLY: ReadonlySet<string> = new Set(["application/json"]);

/** Every state change must come from this origin with a JSON body type: 403 `cross_site`, 415 otherwise. */
export function sameOriginJsonWrites(opts: { mediaTypes?: readonly string[] } = {}): MiddlewareHandler {
  const types = new Set((opts.mediaTypes ?? ["application/json"]).map((t) => t.toLowerCase()));
  return async (c, next) => {
    const problem = crossSiteWriteProblem(c, types);
    if (problem) return problemResponse(c, problem);
    await next();
  };
}

/** 413 problem for a request body over `maxBytes` (declared or streamed). */
export function bodySizeLimit(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => {
      // The rest of the body is never read, so the connection cannot carry another request:
      // say so, or a client reusing it sees its next request fail.
      c.header("Connection", "close");
      return problemResponse(c, new AppError("payload_too_large", `请求体超过 ${maxBytes} 字节的上限`, { limit: maxBytes }));
    },
  });
}
