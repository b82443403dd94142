/** `npm run keys:signing`: a fresh Ed25519 signing key for approvals, as a private JWK (for `wrangler secret put SIGNING_JWK`). */
import { newEd25519Jwk } from "../domain/keys.js";

const jwk = await newEd25519Jwk({ prefix: `city-${new Date().toISOString().slice(0, 10)}-` });
console.error(`新签名密钥 ${jwk.kid}。轮换时：把它设为 SIGNING_JWK；把旧 SIGNING_JWK 加入 RETIRED_SIGNING_JWKS（JSON 数组），直到旧文书全部过期。`);
console.log(JSON.stringify(jwk));
