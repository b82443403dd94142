/** The township node's HTTP app: catalog, window intake and case handling, sync control, the clerk console. */
import { createHash } from "node:crypto";
import { Hono, type Context, type Next } from "hono";
import { logger } from "hono/logger";
import type { CryptoKey, JWK } from "jose";
import { resultRoutes } from "../http/result.js";
import { trackRoutes } from "../http/track.js";
import { issueNodeApproval } from "./approvals.js";
import { PROTOCOL_VERSION } from "../domain/sync-protocol.js";
import { catalogRoutes } from "../http/catalog.js";
import { caseRoutes } from "../http/cases.js";
import { AppError, notFound, onError } from "../http/errors.js";
import type { CaseEnv } from "../http/env.js";
import type { Db } from "../store/db.js";
import { casesNotAtCity, listPulledFlags, replicaState } from "../store/replica.js";
import { CachedReference } from "../store/reference.js";
import { conflictRoutes } from "../http/conflicts.js";
import { assetRoutes } from "../http/assets.js";
import { LAYOUT_ASSETS } from "../http/layout.js";
import { allowedHosts, bodySizeLimit, LOOPBACK_HOSTS, sameOriginJsonWrites, securityHeaders, type HostPolicy } from "../http/security.js";
import { consolePage } from "./console.js";
import { consoleScript } from "./console-script.js";
import { getConnInfo } from "@hono/node-server/conninfo";
import { authenticate, requires, sessionCookie } from "../http/auth.js";
import { sessionRoutes } from "../http/session.js";
import { pageRequires, signInPage, signInScript } from "../http/signin-page.js";
import type { SyncAgent } from "./sync.js";

export interface NodeAppDeps {
  db: Db;
  code: string;
  name: string;
  cityUrl: string;
  publicJwk?: JWK;
  /** The node's private key: signs immediate-item approvals under the city's delegation. */
  privateKey?: CryptoKey;
  sync?: SyncAgent;
  /** The item and calendar cache; whoever applies pulls must invalidate it. Default: a fresh one. */
  reference?: CachedReference;
  now?: () => Date;
  log?: boolean;
  /** The names the node answers to (main.ts: `nodeHostNames`); default: the loopback names on any port. */
  hosts?: HostPolicy;
}

/** The client's address from the socket (null when the app is called without one, as tests do). */
function clientAddress(c: Context): string | null {
  try {
    return getConnInfo(c).remote.address ?? null;
  } catch {
    return null;
  }
}

/** The largest request body a node takes: an intake or an action is a few KB. */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Node's own SHA-256: synchronous, no round trip through the thread pool in the middle of a window request. */
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** Builds the node app; everything it serves comes from the local database, never from the city. */
export function createNodeApp(deps: NodeAppDeps) {
  const now = deps.now ?? (() => new Date());
  // This process is the only writer of the node's file, so the catalog and calendar can be kept.
  // Whoever applies pulls must be able to invalidate the cache: with a sync agent, pass it in.
  if (deps.sync && !deps.reference) throw new Error("createNodeApp: a node that syncs needs the reference cache its sync agent invalidates");
  const reference = deps.reference ?? new CachedReference(deps.db);
  const app = new Hono<CaseEnv>();
  if (deps.log) app.use(logger());
  // The same headers as the city, then what only a node on a LAN needs: it answers to its own
  // names only, and a state change must be a same-origin JSON request of bounded size.
  app.use(securityHeaders());
  app.use(allowedHosts(deps.hosts ?? { names: LOOPBACK_HOSTS }));
  app.use(sameOriginJsonWrites());
  app.use(bodySizeLimit(MAX_BODY_BYTES));
  app.use(async (c, next) => {
    const started = performance.now();
    await setVariables(c, next);
    // Time spent in the node itself, as opposed to on the wire or in the client.
    c.header("Server-Timing", `app;dur=${(performance.now() - started).toFixed(1)}`);
  });
  const setVariables = async (c: Context<CaseEnv>, next: Next) => {
    c.set("db", deps.db);
    c.set("now", now);
    c.set("origin", deps.code);
    c.set("office", deps.name);
    c.set("clientAddress", clientAddress(c));
    c.set("notAtCity", async (caseNos) => casesNotAtCity(deps.db, deps.code, (await replicaState(deps.db, deps.code)).ackedSeq, caseNos));
    c.set("verifyUrl", `${deps.cityUrl}/verify`);
    c.set("reference", reference);
    c.set("sha256", sha256);
    if (deps.privateKey && deps.publicJwk) {
      const signer = { key: deps.privateKey, publicJwk: deps.publicJwk };
      c.set("issueApproval", (caseNo) => issueNodeApproval(deps.db, deps.code, deps.cityUrl, signer, caseNo, now()));
    }
    await next();
  };
  app.use(authenticate({ cookie: sessionCookie(deps.code) }));
  app.onError(onError);
  app.notFound(notFound);
  app.get("/healthz", (c) => c.json({ ok: true, node: deps.code }));
  app.get("/api/node", (c) =>
    c.json({ code: deps.code, name: deps.name, publicJwk: deps.publicJwk ?? null, protocolVersion: PROTOCOL_VERSION, city: deps.cityUrl }),
  );
  const agent = () => {
    if (!deps.sync) throw new AppError("conflict", "本节点未启用同步");
    return deps.sync;
  };
  app.get("/api/sync/status", requires("sync.control"), async (c) => c.json(await agent().status()));
  app.post("/api/sync/now", requires("sync.control"), async (c) => c.json(await agent().syncNow()));
  app.get("/api/sync/flagged", requires("sync.control"), async (c) => c.json({ flagged: await listPulledFlags(deps.db) }));
  app.route("/", conflictRoutes());
  // A city-managed account changes its password at the city; a local one (node:clerk) here.
  app.route("/", sessionRoutes({ cookie: sessionCookie(deps.code), mayChangePassword: (a) => a.source === "local" }));
  app.route("/", signInPage({ title: `${deps.name}（节点 ${deps.code}）` }));
  app.route("/", resultRoutes());
  app.route("/", trackRoutes());
  app.route("/", catalogRoutes());
  app.route("/", caseRoutes({ trackUrl: (caseNo) => `${deps.cityUrl}/track?caseNo=${encodeURIComponent(caseNo)}` }));
  app.route("/", assetRoutes([...LAYOUT_ASSETS, consoleScript, signInScript]));
  app.get("/", pageRequires("case.intake"), (c) => c.html(consolePage({ code: deps.code, name: deps.name })));
  return app;
}
