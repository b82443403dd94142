/**
 * Verification of the compact JWS a node signs its sync requests with (EdDSA, Ed25519), on the
 * request's bytes as they arrived. A push is up to a few megabytes: jose's general path
 * re-encodes the signing input, scans it for non-ASCII characters and decodes base64 in
 * JavaScript, about 10 ms a batch; this does the same checks with the runtime's native base64
 * (`Uint8Array.fromBase64`, strict about the alphabet) and Web Crypto, and keeps the imported
 * public keys for the life of the isolate.
 */
import type { JWK } from "jose";

const DOT = 0x2e;
const keys = new Map<string, Promise<CryptoKey>>();
const ascii = new TextDecoder();

declare global {
  interface Uint8ArrayConstructor {
    fromBase64(text: string, options?: { alphabet?: "base64" | "base64url"; lastChunkHandling?: "loose" | "strict" | "stop-before-partial" }): Uint8Array;
  }
}

/** Decodes base64url; throws on any character outside the alphabet. */
function fromBase64Url(bytes: Uint8Array): Uint8Array {
  return Uint8Array.fromBase64(ascii.decode(bytes), { alphabet: "base64url" });
}

export interface NodeJwsHeader {
  alg?: unknown;
  kid?: unknown;
  crit?: unknown;
  [k: string]: unknown;
}

/** The parts of a compact JWS, or null when `bytes` is not one. The header is decoded; nothing is verified yet. */
export function splitCompactJws(bytes: Uint8Array): { header: NodeJwsHeader; signingInput: Uint8Array; payload: Uint8Array; signature: Uint8Array } | null {
  // The header is short and the signature is 86 characters: find the dots from either end. A
  // third dot would sit in the payload, which strict base64url decoding then refuses.
  const first = bytes.indexOf(DOT);
  const second = bytes.lastIndexOf(DOT);
  if (first <= 0 || second <= first) return null;
  let header: unknown;
  let payload: Uint8Array;
  let signature: Uint8Array;
  try {
    header = JSON.parse(ascii.decode(fromBase64Url(bytes.subarray(0, first))));
    payload = fromBase64Url(bytes.subarray(first + 1, second));
    signature = fromBase64Url(bytes.subarray(second + 1));
  } catch {
    return null;
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) return null;
  return {
    header: header as NodeJwsHeader,
    signingInput: bytes.subarray(0, second),
    payload,
    signature,
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
