/** The city's Hono app factory. */
import { Hono } from "hono";
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
import { requireRole } from "./auth.js";
import { cityConfig, type CityEnv } from "./env.js";
import { pageRoutes } from "./pages.js";
import { reconcileRoutes } from "./reconcile.js";
import { reconcileScript } from "./reconcile-script.js";
import { verifyScript } from "./verify-script.js";
import { syncRoutes } from "./sync.js";

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
    c.set("issueApproval", (caseNo) => issueCityApproval(c.var.db, config, caseNo, origin, c.var.actor ?? "system:download", c.var.now()));
    await next();
  });
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.route("/", catalogRoutes());
  app.route("/", syncRoutes());
  app.route("/", adminRoutes());
  app.route("/", reconcileRoutes());
  app.route("/", approvalRoutes());
  app.route("/", conflictRoutes(requireRole("supervisor", "admin")));
  // The applicant's download is public (guarded by the query code): registered before staff-only case routes.
  app.route("/", resultRoutes());
  app.route("/", trackRoutes());
  // Case handling at the city is for staff: the token's role decides what the transition table allows.
  app.use("/api/cases/*", requireRole("clerk", "approver", "supervisor", "admin"), async (c, next) => {
    const staff = c.var.staff!;
    c.set("role", staff.role);
    c.set("actor", `${staff.role}:${staff.sub}`);
    await next();
  });
  app.route("/", caseRoutes({ trackUrl: (caseNo) => `/track?caseNo=${encodeURIComponent(caseNo)}` }));
  app.route("/", pageRoutes());
  app.route("/", assetRoutes([...LAYOUT_ASSETS, verifyScript, reconcileScript]));
  return app;
}
