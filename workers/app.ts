/** The city's Hono app factory. */
import { Hono, type Context } from "hono";
import { drizzle } from "drizzle-orm/d1";
import { CITY_ORIGIN } from "../domain/case-number.js";
import { catalogRoutes } from "../http/catalog.js";
import { caseRoutes } from "../http/cases.js";
import { notFound, onError } from "../http/errors.js";
import { assetRoutes } from "../http/assets.js";
import { LAYOUT_ASSETS } from "../http/layout.js";
import { securityHeaders } from "../http/security.js";
import type { Db } from "../store/db.js";
import { resultRoutes } from "../http/result.js";
import { trackRoutes } from "../http/track.js";
import { conflictRoutes } from "../http/conflicts.js";
import { adminRoutes } from "./admin.js";
import { approvalRoutes, issueCityApproval } from "./approvals.js";
import { verifyStaffToken } from "./auth.js";
import { authenticate, sessionCookie } from "../http/auth.js";
import { sessionRoutes } from "../http/session.js";
import { signInPage, signInScript } from "../http/signin-page.js";
import { actorOf, systemPrincipal } from "../domain/principal.js";
import { cityConfig, type CityEnv } from "./env.js";
import { pageRoutes } from "./pages.js";
import { reconcileRoutes } from "./reconcile.js";
import { reconcileScript } from "./reconcile-script.js";
import { verifyScript } from "./verify-script.js";
import { syncRoutes } from "./sync.js";
import { accountRoutes } from "./accounts.js";
import { applicantRoutes } from "./applicants.js";
import { accessLogRoutes } from "../http/access-log.js";

export interface CityAppOptions {
  /** Injected clock (tests pin time); defaults to the real one. */
  now?: () => Date;
}

const clients = new WeakMap<D1Database, Db>();

/**
 * The drizzle client over a D1 binding, made once per binding and isolate: it holds no request
 * state (D1 has no interactive transactions), and making one costs about a millisecond. No
 * relational schema: the repositories use the query builder only.
 */
function clientFor(binding: D1Database): Db {
  let db = clients.get(binding);
  if (!db) clients.set(binding, (db = drizzle(binding) as unknown as Db));
  return db;
}

/** Builds the city app: one drizzle client per D1 binding, request-scoped variables per request. */
export function createCityApp(opts: CityAppOptions = {}) {
  const now = opts.now ?? (() => new Date());
  const app = new Hono<CityEnv>();
  app.onError(onError);
  app.notFound(notFound);
  // First, so that every answer carries them: pages, JSON, problems and 404s alike.
  app.use(securityHeaders());
  app.use(async (c, next) => {
    const config = cityConfig(c.env);
    c.set("config", config);
    c.set("db", clientFor(c.env.DB));
    c.set("now", now);
    c.set("origin", CITY_ORIGIN);
    c.set("office", config.centreName);
    const origin = new URL(c.req.url).origin;
    c.set("verifyUrl", `${origin}/verify`);
    c.set("clientAddress", c.req.header("cf-connecting-ip") ?? null);
    // Signed at the download when no person's grant signed it: the platform acts, and says so.
    c.set("issueApproval", (caseNo) => issueCityApproval(c.var.db, config, caseNo, origin, actorOf(c.var.principal ?? systemPrincipal("download")), c.var.now()));
    await next();
  });
  app.use(authenticate({ cookie: sessionCookie(CITY_ORIGIN), bearer: (token, c) => verifyStaffToken(token, (c as Context<CityEnv>).var.config.auth) }));
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.route("/", catalogRoutes());
  app.route("/", syncRoutes());
  app.route("/", adminRoutes());
  app.route("/", accountRoutes());
  app.route("/", applicantRoutes());
  app.route("/", accessLogRoutes());
  app.route("/", reconcileRoutes());
  app.route("/", approvalRoutes());
  app.route("/", conflictRoutes());
  app.route("/", sessionRoutes({ cookie: sessionCookie(CITY_ORIGIN) }));
  app.route("/", signInPage({ title: "市级政务服务中心" }));
  app.route("/", resultRoutes());
  app.route("/", trackRoutes());
  app.route("/", caseRoutes({ trackUrl: (caseNo) => `/track?caseNo=${encodeURIComponent(caseNo)}` }));
  app.route("/", pageRoutes());
  app.route("/", assetRoutes([...LAYOUT_ASSETS, verifyScript, reconcileScript, signInScript]));
  return app;
}
