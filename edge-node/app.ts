/** The township node's HTTP app: catalog, window intake and case handling, the clerk console. */
import { Hono } from "hono";
import { logger } from "hono/logger";
import { catalogRoutes } from "../http/catalog.js";
import { caseRoutes } from "../http/cases.js";
import { notFound, onError } from "../http/errors.js";
import type { CaseEnv } from "../http/env.js";
import type { Db } from "../store/db.js";
import { consolePage } from "./console.js";

export interface NodeAppDeps {
  db: Db;
  code: string;
  name: string;
  cityUrl: string;
  now?: () => Date;
  log?: boolean;
}

/** Builds the node app; everything it serves comes from the local database, never from the city. */
export function createNodeApp(deps: NodeAppDeps) {
  const now = deps.now ?? (() => new Date());
  const app = new Hono<CaseEnv>();
  if (deps.log) app.use(logger());
  app.use(async (c, next) => {
    c.set("db", deps.db);
    c.set("now", now);
    c.set("origin", deps.code);
    // Until clerk sign-in exists (a later issue) everyone on the hall's LAN acts as the window.
    c.set("role", "clerk");
    c.set("actor", `window@${deps.code}`);
    c.set("office", deps.name);
    await next();
  });
  app.onError(onError);
  app.notFound(notFound);
  app.get("/healthz", (c) => c.json({ ok: true, node: deps.code }));
  app.get("/api/node", (c) => c.json({ code: deps.code, name: deps.name, city: deps.cityUrl }));
  app.route("/", catalogRoutes());
  app.route("/", caseRoutes({ trackUrl: (caseNo) => `${deps.cityUrl}/track?caseNo=${encodeURIComponent(caseNo)}` }));
  app.get("/", (c) => c.html(consolePage({ code: deps.code, name: deps.name })));
  return app;
}
