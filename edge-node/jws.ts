/** Compact EdDSA JWS for the node's sync requests, made with Node's native crypto and base64. */
import { createPrivateKey, sign } from "node:crypto";
import type { JWK } from "jose";

/**
 * A signer for sync requests (`kid` = node code, `typ` tongban-sync+jws). Native base64 and
 * Ed25519: a 700 kB push is encoded and signed in a few milliseconds, where a pure-JavaScript
 * encoder takes a hundred. Returns the JWS as bytes, ready to send.
 */
export function syncSigner(privateJwk: JWK, kid: string): (json: string) => Buffer {
  const key = createPrivateKey({ key: privateJwk as import("node:crypto").JsonWebKey, format: "jwk" });
  const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid, typ: "tongban-sync+jws" })).toString("base64url");
  return (json) => {
    const input = Buffer.from(`${header}.${Buffer.from(json, "utf8").toString("base64url")}`, "latin1");
    return Buffer.concat([input, Buffer.from(`.${sign(null, input, key).toString("base64url")}`, "latin1")]);
  };
}
