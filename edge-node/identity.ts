/** The node's Ed25519 identity: created on first start, kept in the data dir, private key never leaves it. */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { importJWK, type CryptoKey, type JWK } from "jose";
import { newEd25519Jwk } from "../domain/keys.js";

export interface NodeIdentity {
  publicJwk: JWK;
  privateKey: CryptoKey;
  /** The private key as a JWK, for the push thread of this same process. */
  privateJwk: JWK;
  /** Where the key lives (mode 0600). */
  path: string;
  created: boolean;
}

/** Loads `<dataDir>/node-key.json`, creating a fresh key pair there the first time. */
export async function loadOrCreateIdentity(dataDir: string): Promise<NodeIdentity> {
  const path = join(dataDir, "node-key.json");
  let created = false;
  if (!existsSync(path)) {
    const jwk = await newEd25519Jwk();
    writeFileSync(path, JSON.stringify({ privateJwk: jwk, createdAt: new Date().toISOString() }, null, 2), { mode: 0o600, flag: "wx" });
    created = true;
  }
  const { privateJwk } = JSON.parse(readFileSync(path, "utf8")) as { privateJwk: JWK };
  const { d: _secret, ...publicJwk } = privateJwk;
  return { publicJwk: { kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, kid: publicJwk.kid }, privateKey: (await importJWK(privateJwk, "EdDSA")) as CryptoKey, privateJwk, path, created };
}
