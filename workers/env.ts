/** The city worker's one typed Hono environment. */
import type { SharedVariables } from "../http/env.js";

export interface Bindings {
  DB: D1Database;
  MATERIALS: R2Bucket;
  /** Name of the centre printed on pages, e.g. 泉州市行政服务中心. */
  CENTRE_NAME?: string;
}

export type CityEnv = { Bindings: Bindings; Variables: SharedVariables & { config: CityConfig } };

/** Parsed, checked worker configuration. */
export interface CityConfig {
  centreName: string;
}

/** Reads the configuration from the bindings and fails fast on a missing binding. */
export function parseCityConfig(env: Partial<Bindings>): CityConfig {
  if (!env.DB) throw new Error("D1 binding DB is missing: check wrangler.toml [[d1_databases]]");
  if (!env.MATERIALS) throw new Error("R2 binding MATERIALS is missing: check wrangler.toml [[r2_buckets]]");
  return { centreName: env.CENTRE_NAME?.trim() || "泉州市行政服务中心" };
}

const parsed = new WeakMap<object, CityConfig>();

/** The configuration of an env object, parsed once per isolate and binding set. */
export function cityConfig(env: Bindings): CityConfig {
  let config = parsed.get(env);
  if (!config) parsed.set(env, (config = parseCityConfig(env)));
  return config;
}
