/**
 * One authorization module for the city and every node. `authenticate` finds who is calling — a
 * session cookie of this shell, or (where the shell allows it) a bearer token — and every route
 * names the permission it needs with `requires`, in its own chain: nothing depends on mount order,
 * and no route lists roles itself (the table is `domain/permissions.ts`).
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie } from "hono/cookie";
import { actorOf, type Principal } from "../domain/principal.js";
import { GRANTS, may, PERMISSION_LABELS, type Permission } from "../domain/permissions.js";
import { ROLE_LABELS } from "../domain/lifecycle.js";
import { principalOf } from "../store/accounts.js";
import { audit, sessionAccount } from "../store/sessions.js";
import { AppError } from "./errors.js";
import type { SharedEnv, SharedVariables } from "./env.js";
import { crossSiteWriteProblem } from "./security.js";

export interface AuthOptions {
  /** This shell's session cookie: one name per hall, so a city cookie means nothing at a node. */
  cookie: string;
  /** Verifies a bearer token (the city: an identity provider's JWT); absent: bearer tokens are refused. */
  bearer?: (token: string, c: Context) => Promise<Principal>;
}

/** The cookie name of a hall's sessions. */
export const sessionCookie = (hall: string) => `tongban_session_${hall}`;

/** Sets `principal` (null when anonymous), `authVia` and, for a session, whether its password must change first. */
export function authenticate(opts: AuthOptions): MiddlewareHandler<SharedEnv> {
  return async (c, next) => {
    c.set("principal", null);
    c.set("authVia", null);
    const header = c.req.header("authorization");
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      if (!m || !opts.bearer) {
        c.header("WWW-Authenticate", 'Bearer realm="tongban", error="invalid_token"');
        throw new AppError("unauthorized", opts.bearer ? "Authorization 应为 Bearer 令牌" : "本服务不接受访问令牌，请登录");
      }
      try {
        c.set("principal", await opts.bearer(m[1]!, c));
      } catch (err) {
        c.header("WWW-Authenticate", 'Bearer realm="tongban", error="invalid_token"');
        throw err;
      }
      c.set("authVia", "bearer");
      return next();
    }
    const token = getCookie(c, opts.cookie);
    if (token) {
      const account = await sessionAccount(c.var.db, token, c.var.now());
      if (account) {
        // A browser sends cookies with cross-site requests too: a write on a session must be same-origin JSON.
        const problem = crossSiteWriteProblem(c);
        if (problem) throw problem;
        c.set("principal", principalOf(account));
        c.set("authVia", "session");
        c.set("mustChangePassword", account.mustChangePassword);
      } else {
        deleteCookie(c, opts.cookie, { path: "/" });
      }
    }
    await next();
  };
}

/** Who is calling, for logs and audit entries. */
export const callerOf = (c: { var: Pick<SharedVariables, "principal"> }) => (c.var.principal ? actorOf(c.var.principal) : "anonymous");

/** 401 for no one, 403 for a principal whose role does not carry the permission (recorded in the audit log). */
// Typed for any env that has the shared variables (each shell extends them).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function requires(permission: Permission): MiddlewareHandler<any> {
  return async (c: Context<SharedEnv>, next) => {
    const p = c.var.principal;
    if (!p) {
      c.header("WWW-Authenticate", 'Bearer realm="tongban"');
      throw new AppError("unauthorized", `请先登录，再${PERMISSION_LABELS[permission]}`);
    }
    if (c.var.mustChangePassword && permission !== "session") {
      throw new AppError("password_change_required", "首次登录或密码已重置，请先修改密码", { role: p.role });
    }
    if (!may(p, permission)) {
      await audit(c.var.db, { actor: actorOf(p), action: "forbidden", subject: `${c.req.method} ${c.req.path}`, detail: permission, address: c.var.clientAddress ?? null }, c.var.now());
      c.header("WWW-Authenticate", 'Bearer realm="tongban", error="insufficient_scope"');
      const who = p.role === "system" ? "系统任务" : ROLE_LABELS[p.role];
      throw new AppError("forbidden", `${who}无权${PERMISSION_LABELS[permission]}`, { role: p.role, requiredRoles: [...GRANTS[permission]] });
    }
    await next();
  };
}

/** The principal of a route guarded by `requires` (never null there). */
export function principal(c: { var: Pick<SharedVariables, "principal"> }): Principal {
  const p = c.var.principal;
  if (!p) throw new AppError("unauthorized", "请先登录");
  return p;
}
