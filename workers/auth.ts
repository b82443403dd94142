/**
 * Bearer tokens at the city: JWTs from an identity provider (a province's SSO, or the local key
 * `npm run token` signs with), verified with jose against the configured issuer and JWKS, read
 * into the same `Principal` a session gives.
 */
import { errors, jwtVerify } from "jose";
import { CITY_ORIGIN } from "../domain/case-number.js";
import { isHall, PRINCIPAL_ID_PATTERN, type Principal } from "../domain/principal.js";
import { AppError } from "../http/errors.js";
import type { CityConfig } from "./env.js";

const ROLES = ["clerk", "approver", "supervisor", "admin", "applicant"] as const;

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "访问令牌已过期";
  if (err instanceof errors.JWTClaimValidationFailed) return `访问令牌的 ${err.claim} 声明不符`;
  if (err instanceof errors.JWKSNoMatchingKey) return "访问令牌不是由受信任的密钥签发";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "访问令牌签名无效";
  if (err instanceof errors.JOSEAlgNotAllowed) return "访问令牌使用了不允许的算法";
  return "访问令牌无效";
}

const invalid = (detail: string) => new AppError("unauthorized", detail);

/**
 * The principal a staff token names: `sub` (the id), `role`, `hall` (default CITY) and, for an
 * approver, `department`. 401 for a token that is not genuine or whose claims are malformed.
 */
export async function verifyStaffToken(token: string, auth: CityConfig["auth"]): Promise<Principal> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, auth.jwks, {
      issuer: auth.issuer,
      audience: auth.audience,
      algorithms: ["EdDSA", "Ed25519", "ES256"],
      requiredClaims: ["sub", "exp"],
    }));
  } catch (err) {
    throw invalid(reasonOf(err));
  }
  // A token signed by a trusted issuer can still carry claims of the wrong type: refuse, never convert.
  const { sub, role, hall = CITY_ORIGIN, department } = payload as Record<string, unknown>;
  if (typeof sub !== "string" || !PRINCIPAL_ID_PATTERN.test(sub) || typeof role !== "string" || typeof hall !== "string" || !isHall(hall)) {
    throw invalid("访问令牌的 sub、role 或 hall 声明格式不正确");
  }
  if (!(ROLES as readonly string[]).includes(role)) throw invalid(`访问令牌的角色 ${role} 不存在`);
  if (department !== undefined && (typeof department !== "string" || !/^[A-Z0-9]{1,20}$/.test(department))) throw invalid("访问令牌的 department 声明格式不正确");
  if (role === "approver" && !department) throw invalid("审批人员的访问令牌须载明所属部门（department）");
  return { id: sub, role: role as Principal["role"], hall, ...(department ? { department } : {}) };
}
