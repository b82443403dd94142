/** The city's Hono app factory. */
import { Hono } from "hono";
import { drizzle } from "drizzle-orm/d1";
import * as tables from "../schema/tables.js";
import { catalogRoutes } from "../http/catalog.js";
import { notFound, onError } from "../http/errors.js";
import type { Db } from "../store/db.js";
import type { CityEnv } from "./env.js";
import { cityConfig } from "./env.js";
import { pageRoutes } from "./pages.js";

export interface CityAppOptions {
  /** Injected clock (tests pin time); defaults to the real one. */
  now?: () => Date;
}

/** Builds the city app: a drizzle client per request over the request's D1 binding. */
export function createCityApp(opts: CityAppOptions = {}) {
  const now = opts.now ?? (() => new Date());
  const app = new Hono<CityEnv>();
  app.use(async (c, next) => {
    c.set("config", cityConfig(c.env));
    c.set("db", drizzle(c.env.DB, { schema: tables }) as unknown as Db);
    c.set("now", now);
    await next();
  });
  app.onError(onError);
  app.notFound(notFound);
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.route("/", catalogRoutes());
  app.route("/", pageRoutes());
  return app;
}
