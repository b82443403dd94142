/**
 * Verification of a node's signed sync request (EdDSA, Ed25519), on the request's bytes as
 * they arrived. Two envelopes carry the same payload:
 * - detached (what nodes send): the body is the payload JSON itself and the `Tongban-Signature`
 *   header holds `<protected>..<signature>`, a JWS with an unencoded payload (RFC 7797:
 *   `"b64": false`, `"crit": ["b64"]`). Nothing is base64-encoded, so a push is a quarter
 *   smaller and neither end spends time encoding or decoding a megabyte;
 * - compact (`application/jose`): a plain compact JWS, as any JOSE library makes it.
 * jose's general path re-encodes the signing input and decodes base64 in JavaScript, about 10 ms
 * a batch; this uses the runtime's native base64 (`Uint8Array.fromBase64`, strict about the
 * alphabet) and Web Crypto, and keeps imported public keys for the life of the isolate.
 */
import type { JWK } from "jose";

const DOT = 0x2e;
const keys = new Map<string, Promise<CryptoKey>>();
const ascii = new TextDecoder();
const encoder = new TextEncoder();

declare global {
  interface Uint8ArrayConstructor {
    fromBase64(text: string, options?: { alphabet?: "base64" | "base64url"; lastChunkHandling?: "loose" | "strict" | "stop-before-partial" }): Uint8Array;
  }
}

/** Decodes base64url; throws on any character outside the alphabet. */
function fromBase64Url(text: string): Uint8Array {
  return Uint8Array.fromBase64(text, { alphabet: "base64url" });
}

export interface NodeJwsHeader {
  alg?: unknown;
  kid?: unknown;
  crit?: unknown;
  b64?: unknown;
  [k: string]: unknown;
}

/** A signed request taken apart; nothing is verified yet. */
export interface NodeJws {
  header: NodeJwsHeader;
  /** Whether it came as a detached signature over the raw body. */
  detached: boolean;
  signingInput: Uint8Array;
  payload: Uint8Array;
  signature: Uint8Array;
}

function decodeHeader(text: string): NodeJwsHeader | null {
  try {
    const header: unknown = JSON.parse(ascii.decode(fromBase64Url(text)));
    return header && typeof header === "object" && !Array.isArray(header) ? (header as NodeJwsHeader) : null;
  } catch {
    return null;
  }
}

/** A compact JWS (`header.payload.signature`) taken apart, or null when `bytes` is not one. */
export function splitCompactJws(bytes: Uint8Array): NodeJws | null {
  // The header is short and the signature is 86 characters: find the dots from either end. A
  // third dot would sit in the payload, which strict base64url decoding then refuses.
  const first = bytes.indexOf(DOT);
  const second = bytes.lastIndexOf(DOT);
  if (first <= 0 || second <= first) return null;
  const header = decodeHeader(ascii.decode(bytes.subarray(0, first)));
  if (!header) return null;
  try {
    return {
      header,
      detached: false,
      signingInput: bytes.subarray(0, second),
      payload: fromBase64Url(ascii.decode(bytes.subarray(first + 1, second))),
      signature: fromBase64Url(ascii.decode(bytes.subarray(second + 1))),
    };
  } catch {
    return null;
  }
}

/** A detached signature header (`protected..signature`) over `body`, or null when it is not one. */
export function detachedJws(signatureHeader: string, body: Uint8Array): NodeJws | null {
  const parts = signatureHeader.trim().split(".");
  if (parts.length !== 3 || parts[1] !== "" || !parts[0] || !parts[2]) return null;
  const header = decodeHeader(parts[0]);
  if (!header) return null;
  let signature: Uint8Array;
  try {
    signature = fromBase64Url(parts[2]);
  } catch {
    return null;
  }
  // RFC 7797 §3: the signing input is the encoded header, a dot, and the payload as it is.
  const prefix = encoder.encode(`${parts[0]}.`);
  const signingInput = new Uint8Array(prefix.length + body.length);
  signingInput.set(prefix);
  signingInput.set(body, prefix.length);
  return { header, detached: true, signingInput, payload: body, signature };
}

/**
 * Whether the header is one this city accepts: EdDSA only; a detached request must declare its
 * unencoded payload (`b64: false`, `crit: ["b64"]`) and a compact one must not carry critical
 * extensions (RFC 7515 §4.1.11) or an unencoded payload.
 */
function acceptableHeader(h: NodeJwsHeader, detached: boolean): boolean {
  if (h.alg !== "EdDSA" && h.alg !== "Ed25519") return false;
  if (detached) return h.b64 === false && Array.isArray(h.crit) && h.crit.length === 1 && h.crit[0] === "b64";
  return h.crit === undefined && (h.b64 === undefined || h.b64 === true);
}

/** Whether the request is signed by the node's key under a header this city accepts. */
export async function verifyNodeSignature(jwk: JWK, jws: NodeJws): Promise<boolean> {
  if (!acceptableHeader(jws.header, jws.detached)) return false;
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || jws.signature.length !== 64) return false;
  let key = keys.get(jwk.x);
  if (!key) {
    key = crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"]);
    key.catch(() => keys.delete(jwk.x!));
    keys.set(jwk.x, key);
  }
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, await key, jws.signature, jws.signingInput);
  } catch {
    return false;
  }
}
