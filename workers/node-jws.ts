/**
 * Verification of the compact JWS a node signs its sync requests with (EdDSA, Ed25519), on the
 * request's bytes as they arrived. A push is up to a few megabytes: jose's general path
 * re-encodes the signing input, scans it for non-ASCII characters and decodes base64 in
 * JavaScript, about 10 ms a batch; this does the same checks with the runtime's native base64
 * and Web Crypto, and keeps the imported public keys for the life of the isolate.
 */
import { Buffer } from "node:buffer";
import type { JWK } from "jose";

const DOT = 0x2e;
const keys = new Map<string, Promise<CryptoKey>>();

export interface NodeJwsHeader {
  alg?: unknown;
  kid?: unknown;
  crit?: unknown;
  [k: string]: unknown;
}

/** The parts of a compact JWS, or null when `bytes` is not one. The header is decoded; nothing is verified yet. */
export function splitCompactJws(bytes: Uint8Array): { header: NodeJwsHeader; signingInput: Uint8Array; payload: Uint8Array; signature: Uint8Array } | null {
  const first = bytes.indexOf(DOT);
  const second = first < 0 ? -1 : bytes.indexOf(DOT, first + 1);
  if (first <= 0 || second < 0 || bytes.indexOf(DOT, second + 1) >= 0) return null;
  const part = (from: number, to: number) => Buffer.from(Buffer.from(bytes.buffer, bytes.byteOffset + from, to - from).toString("latin1"), "base64url");
  let header: unknown;
  try {
    header = JSON.parse(part(0, first).toString("utf8"));
  } catch {
    return null;
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) return null;
  return {
    header: header as NodeJwsHeader,
    signingInput: bytes.subarray(0, second),
    payload: part(first + 1, second),
    signature: part(second + 1, bytes.length),
  };
}

/** Whether `signature` is the node key's EdDSA signature over `signingInput` under a header this city accepts. */
export async function verifyNodeSignature(jwk: JWK, header: NodeJwsHeader, signingInput: Uint8Array, signature: Uint8Array): Promise<boolean> {
  // Only EdDSA, and no critical extensions this city does not know (RFC 7515 §4.1.11).
  if ((header.alg !== "EdDSA" && header.alg !== "Ed25519") || header.crit !== undefined) return false;
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || signature.length !== 64) return false;
  let key = keys.get(jwk.x);
  if (!key) {
    key = crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"]);
    key.catch(() => keys.delete(jwk.x!));
    keys.set(jwk.x, key);
  }
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, await key, signature, signingInput);
  } catch {
    return false;
  }
}
