/** A local signing key for staff tokens, so `npm start` and `npm run token` work without an identity provider. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { importJWK, SignJWT, type JWK } from "jose";
import { newEd25519Jwk, publicJwk } from "../../domain/keys.js";
import { AUTH_AUDIENCE } from "../../http/env.js";

export const DEV_ISSUER = "tongban-dev";

export interface DevAuth {
  privateJwk: JWK;
  jwks: { keys: JWK[] };
}

/** Creates `.dev/auth-key.json` once and keeps `.dev.vars` (read by wrangler dev) pointing at its public half. */
export async function ensureDevAuth(root: string): Promise<DevAuth> {
  const dir = join(root, ".dev");
  const keyFile = join(dir, "auth-key.json");
  mkdirSync(dir, { recursive: true });
  if (!existsSync(keyFile)) {
    writeFileSync(keyFile, JSON.stringify(await newEd25519Jwk(), null, 2), { mode: 0o600 });
  }
  const privateJwk = JSON.parse(readFileSync(keyFile, "utf8")) as JWK;
  const jwks = { keys: [publicJwk(privateJwk)] };
  // The city's approval signing key (a Worker secret in production).
  const signingFile = join(dir, "signing-key.json");
  if (!existsSync(signingFile)) {
    writeFileSync(signingFile, JSON.stringify(await newEd25519Jwk({ prefix: "city-dev-" }), null, 2), { mode: 0o600 });
  }
  const signingJwk = JSON.parse(readFileSync(signingFile, "utf8")) as JWK;
  const vars = join(root, ".dev.vars");
  const wanted = [`AUTH_ISSUER=${DEV_ISSUER}`, `AUTH_JWKS='${JSON.stringify(jwks)}'`, `SIGNING_JWK='${JSON.stringify(signingJwk)}'`];
  const current = existsSync(vars) ? readFileSync(vars, "utf8") : "";
  if (wanted.some((l) => !current.includes(l))) {
    const ours = /^(AUTH_JWKS|AUTH_ISSUER|SIGNING_JWK)=/;
    const kept = current.split("\n").filter((l) => l && !ours.test(l));
    writeFileSync(vars, [...kept, ...wanted, ""].join("\n"), { mode: 0o600 });
  }
  return { privateJwk, jwks };
}

/** Mints a staff token. */
export async function mintToken(
  privateJwk: JWK,
  opts: { role: string; sub?: string; ttl?: string; department?: string; hall?: string; issuer?: string },
): Promise<string> {
  const key = await importJWK(privateJwk, "EdDSA");
  return new SignJWT({ role: opts.role, ...(opts.hall ? { hall: opts.hall } : {}), ...(opts.department ? { department: opts.department } : {}) })
    .setProtectedHeader({ alg: "EdDSA", kid: privateJwk.kid, typ: "JWT" })
    .setIssuer(opts.issuer ?? DEV_ISSUER)
    .setAudience(AUTH_AUDIENCE)
    .setSubject(opts.sub ?? `dev-${opts.role}`)
    .setIssuedAt()
    .setExpirationTime(opts.ttl ?? "8h")
    .sign(key);
}
