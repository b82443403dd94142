/** Staff identity: bearer JWTs verified with jose against the configured issuer and JWKS. */
import type { MiddlewareHandler } from "hono";
import { errors, jwtVerify } from "jose";
import { AppError } from "../http/errors.js";
import type { CityEnv, Staff } from "./env.js";

const ROLES: readonly Staff["role"][] = ["clerk", "approver", "supervisor", "admin"];

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "访问令牌已过期";
  if (err instanceof errors.JWTClaimValidationFailed) return `访问令牌的 ${err.claim} 声明不符`;
  if (err instanceof errors.JWKSNoMatchingKey) return "访问令牌不是由受信任的密钥签发";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "访问令牌签名无效";
  if (err instanceof errors.JOSEAlgNotAllowed) return "访问令牌使用了不允许的算法";
  return "访问令牌无效";
}

/** Requires a bearer JWT whose `role` is one of `roles`; sets `staff`. 401 without a valid token, 403 for another role. */
export function requireRole(...roles: Staff["role"][]): MiddlewareHandler<CityEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    if (!m) {
      c.header("WWW-Authenticate", 'Bearer realm="tongban"');
      throw new AppError("unauthorized", "缺少访问令牌（Authorization: Bearer …）");
    }
    const { auth } = c.var.config;
    let payload;
    try {
      ({ payload } = await jwtVerify(m[1]!, auth.jwks, {
        issuer: auth.issuer,
        audience: auth.audience,
        algorithms: ["EdDSA", "Ed25519", "ES256"],
        requiredClaims: ["sub", "exp"],
      }));
    } catch (err) {
      c.header("WWW-Authenticate", 'Bearer error="invalid_token"');
      throw new AppError("unauthorized", reasonOf(err));
    }
    // A token signed by a trusted issuer can still carry claims of the wrong type: refuse, never convert.
    if (typeof payload.sub !== "string" || payload.sub === "" || (payload.role !== undefined && typeof payload.role !== "string")) {
      c.header("WWW-Authenticate", 'Bearer error="invalid_token"');
      throw new AppError("unauthorized", "访问令牌的 sub 或 role 声明格式不正确");
    }
    const role = payload.role as Staff["role"] | undefined;
    if (!role || !ROLES.includes(role) || !roles.includes(role)) {
      // RFC 6750 §3.1: a valid token without the needed privileges.
      c.header("WWW-Authenticate", 'Bearer realm="tongban", error="insufficient_scope"');
      throw new AppError("forbidden", `需要以下角色之一：${roles.join("、")}；当前令牌角色为 ${role ?? "无"}`, { requiredRoles: roles, role: role ?? null });
    }
    c.set("staff", { sub: String(payload.sub), role, ...(typeof payload.department === "string" ? { department: payload.department } : {}) });
    await next();
  };
}
