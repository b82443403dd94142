/** Ed25519 keys as JWKs: node identities, the city's signing key, staff-token keys. Web Crypto via jose. */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

/** A fresh Ed25519 private JWK with `alg` EdDSA and a `kid` (the given one, or prefix + thumbprint). */
export async function newEd25519Jwk(kid?: string | { prefix: string }): Promise<JWK> {
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(privateKey);
  const thumb = await calculateJwkThumbprint(jwk);
  return { ...jwk, alg: "EdDSA", kid: typeof kid === "string" ? kid : kid ? `${kid.prefix}${thumb.slice(0, 8)}` : thumb };
}

/** The public half of a key (what is enrolled, published or trusted). */
export function publicJwk(jwk: JWK): JWK {
  const { d: _secret, ...pub } = jwk;
  return pub;
}
