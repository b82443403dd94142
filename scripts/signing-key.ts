/** `npm run keys:signing`: a fresh Ed25519 signing key for approvals, as a private JWK (for `wrangler secret put SIGNING_JWK`). */
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from "jose";

const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
const jwk = await exportJWK(privateKey);
const thumb = await calculateJwkThumbprint(jwk);
const kid = `city-${new Date().toISOString().slice(0, 10)}-${thumb.slice(0, 8)}`;
console.error(`新签名密钥 ${kid}。轮换时：把它设为 SIGNING_JWK；把旧 SIGNING_JWK 加入 RETIRED_SIGNING_JWKS（JSON 数组），直到旧文书全部过期。`);
console.log(JSON.stringify({ ...jwk, kid, alg: "EdDSA" }));
