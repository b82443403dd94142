/**
 * Signing the node's sync requests with Node's native crypto: a detached JWS (EdDSA) over the
 * payload as it is sent (RFC 7797, `"b64": false`), carried in the `Tongban-Signature` header.
 * Nothing is base64-encoded, so a 600 kB push is signed in about a millisecond and sent as is.
 */
import { createPrivateKey, sign } from "node:crypto";
import type { JWK } from "jose";
import { SIGNATURE_HEADER } from "../domain/sync-protocol.js";

export interface SignedRequest {
  /** The payload JSON as UTF-8: the request body. */
  body: Uint8Array;
  /** `<protected>..<signature>`, for SIGNATURE_HEADER. */
  signature: string;
}

/** A signer for sync requests (`kid` = node code, `typ` tongban-sync+jws). */
export function syncSigner(privateJwk: JWK, kid: string): (json: string | Uint8Array) => SignedRequest {
  const key = createPrivateKey({ key: privateJwk as import("node:crypto").JsonWebKey, format: "jwk" });
  const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid, typ: "tongban-sync+jws", b64: false, crit: ["b64"] })).toString("base64url");
  const prefix = Buffer.from(`${header}.`, "latin1");
  return (json) => {
    const body = typeof json === "string" ? Buffer.from(json, "utf8") : json;
    const signature = sign(null, Buffer.concat([prefix, body]), key).toString("base64url");
    return { body, signature: `${header}..${signature}` };
  };
}

/** The headers of a signed sync request. */
export function signedHeaders(req: SignedRequest): Record<string, string> {
  return { "content-type": "application/json", [SIGNATURE_HEADER]: req.signature };
}
