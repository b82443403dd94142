/** The city worker's one typed Hono environment and its configuration, checked once per isolate. */
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from "jose";
import { AUTH_AUDIENCE, type CaseVariables } from "../http/env.js";

export interface Bindings {
  DB: D1Database;
  MATERIALS: R2Bucket;
  /** Name of the centre printed on pages, e.g. 泉州市行政服务中心. */
  CENTRE_NAME?: string;
  /** `iss` that staff tokens must carry. */
  AUTH_ISSUER?: string;
  /** Public keys (a JWKS document, JSON) that staff tokens are verified with. */
  AUTH_JWKS?: string;
  /** The city's current Ed25519 signing key for approvals: a private JWK (JSON) with `kid`. A secret. */
  SIGNING_JWK?: string;
  /** Keys retired by rotation (JSON array of JWKs; only their public half is kept and published). */
  RETIRED_SIGNING_JWKS?: string;
  /** Days an approval is valid (default 1825). */
  APPROVAL_VALID_DAYS?: string;
}

export type CityVariables = CaseVariables & { config: CityConfig };
export type CityEnv = { Bindings: Bindings; Variables: CityVariables };

/** Parsed, checked worker configuration. */
export interface CityConfig {
  centreName: string;
  auth: { issuer: string; audience: string; jwks: ReturnType<typeof createLocalJWKSet> };
  signing: { kid: string; privateJwk: JWK; jwks: JSONWebKeySet; validDays: number };
}


/** Reads the configuration from the bindings and fails fast on anything missing or malformed. */
export function parseCityConfig(env: Partial<Bindings>): CityConfig {
  if (!env.DB) throw new Error("D1 binding DB is missing: check wrangler.toml [[d1_databases]]");
  if (!env.MATERIALS) throw new Error("R2 binding MATERIALS is missing: check wrangler.toml [[r2_buckets]]");
  if (!env.AUTH_ISSUER) throw new Error("AUTH_ISSUER is not set (wrangler.toml [vars] or .dev.vars)");
  if (!env.AUTH_JWKS) throw new Error("AUTH_JWKS is not set: `npm start` writes a local one; in production `wrangler secret put AUTH_JWKS`");
  let jwks: JSONWebKeySet;
  try {
    jwks = JSON.parse(env.AUTH_JWKS) as JSONWebKeySet;
    if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) throw new Error("no keys");
  } catch (err) {
    throw new Error(`AUTH_JWKS is not a JWKS document with keys: ${(err as Error).message}`);
  }
  return {
    centreName: env.CENTRE_NAME?.trim() || "泉州市行政服务中心",
    auth: { issuer: env.AUTH_ISSUER, audience: AUTH_AUDIENCE, jwks: createLocalJWKSet(jwks) },
    signing: parseSigning(env),
  };
}

const parsed = new WeakMap<object, CityConfig>();

/** The configuration of an env object, parsed once per isolate and binding set. */
export function cityConfig(env: Bindings): CityConfig {
  let config = parsed.get(env);
  if (!config) parsed.set(env, (config = parseCityConfig(env)));
  return config;
}

const publicHalf = (k: JWK): JWK => ({ kty: k.kty, crv: k.crv, x: k.x, kid: k.kid, alg: "EdDSA", use: "sig" });

function parseSigning(env: Partial<Bindings>): CityConfig["signing"] {
  if (!env.SIGNING_JWK) throw new Error("SIGNING_JWK is not set: `npm start` writes a local one; in production `npm run keys:signing` and `wrangler secret put SIGNING_JWK`");
  let current: JWK;
  let retired: JWK[] = [];
  try {
    current = JSON.parse(env.SIGNING_JWK) as JWK;
    if (current.kty !== "OKP" || current.crv !== "Ed25519" || !current.d || !current.kid) throw new Error("need an Ed25519 private JWK with kid");
    if (env.RETIRED_SIGNING_JWKS) retired = JSON.parse(env.RETIRED_SIGNING_JWKS) as JWK[];
    if (!Array.isArray(retired) || retired.some((k) => k.kty !== "OKP" || k.crv !== "Ed25519" || !k.kid)) throw new Error("RETIRED_SIGNING_JWKS must be an array of Ed25519 JWKs with kid");
  } catch (err) {
    throw new Error(`signing keys are malformed: ${(err as Error).message}`);
  }
  const days = Number(env.APPROVAL_VALID_DAYS ?? 1825);
  if (!Number.isInteger(days) || days < 1) throw new Error("APPROVAL_VALID_DAYS must be a positive integer");
  return {
    kid: current.kid!,
    privateJwk: current,
    jwks: { keys: [publicHalf(current), ...retired.filter((k) => k.kid !== current.kid).map(publicHalf)] },
    validDays: days,
  };
}
