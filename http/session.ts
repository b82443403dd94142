/**
 * Signing in and out, the same at the city and at every node: `POST /api/session`,
 * `DELETE /api/session`, `GET /api/session` and `POST /api/session/password`. Failed sign-ins are
 * slowed down and then locked per login and per client address, and every one is logged.
 */
import { Hono } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import { actorOf } from "../domain/principal.js";
import { hashPassword, passwordProblem, verifyPassword } from "../domain/password.js";
import { SIGN_IN_PER_ADDRESS, SIGN_IN_PER_LOGIN } from "../domain/throttle.js";
import { accountById, accountByLogin, principalOf, updateAccount } from "../store/accounts.js";
import { attemptWait, audit, clearFailures, closeSession, closeSessionsOf, openSession, recordFailure, SESSION_TTL_MS } from "../store/sessions.js";
import { principal, requires } from "./auth.js";
import { AppError } from "./errors.js";
import type { SharedEnv } from "./env.js";
import { jsonBody } from "./validate.js";

/** A hash no password matches: checked for an unknown login too, so timing does not tell logins apart. */
const NO_ACCOUNT = "pbkdf2-sha256$100000$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

const signIn = z.object({
  login: z.string().trim().min(1, "请填写登录名").max(64, "登录名不超过64个字符"),
  password: z.string().min(1, "请填写密码").max(128, "密码不超过128个字符"),
});
const change = z.object({
  current: z.string().min(1, "请填写当前密码").max(128),
  password: z.string().max(128, "密码不超过128个字符"),
});

/** 429 with Retry-After (whole seconds). */
function tooMany(waitMs: number, what: string): AppError {
  const seconds = Math.ceil(waitMs / 1000);
  return new AppError("too_many_attempts", `${what}尝试次数过多，请 ${seconds} 秒后再试`, { retryAfter: seconds });
}

export interface SessionRoutesOptions {
  /** This shell's session cookie name (`sessionCookie(hall)`). */
  cookie: string;
  /** Whether a password may be changed here: a node changes only its local accounts (city ones are the city's). */
  mayChangePassword?: (account: { source: "city" | "local" }) => boolean;
}

/** The session routes of a shell. */
export function sessionRoutes(opts: SessionRoutesOptions) {
  return new Hono<SharedEnv>()
    .post("/api/session", jsonBody(signIn), async (c) => {
      const { login, password } = c.req.valid("json");
      const now = c.var.now();
      const address = c.var.clientAddress ?? null;
      const keys = [{ key: `sign-in:login:${login}`, policy: SIGN_IN_PER_LOGIN }, ...(address ? [{ key: `sign-in:address:${address}`, policy: SIGN_IN_PER_ADDRESS }] : [])];
      const wait = await attemptWait(c.var.db, keys.map((k) => k.key), now);
      if (wait > 0) {
        await audit(c.var.db, { actor: "anonymous", action: "sign_in_blocked", subject: login, address }, now);
        c.header("Retry-After", String(Math.ceil(wait / 1000)));
        throw tooMany(wait, "登录");
      }
      const account = await accountByLogin(c.var.db, login);
      const matches = await verifyPassword(password, account?.passwordHash ?? NO_ACCOUNT);
      if (!account || !matches) {
        const next = await recordFailure(c.var.db, keys, now);
        await audit(c.var.db, { actor: "anonymous", action: "sign_in_failed", subject: login, detail: account ? "wrong_password" : "unknown_login", address }, now);
        if (next > 0) c.header("Retry-After", String(Math.ceil(next / 1000)));
        throw new AppError("unauthorized", "登录名或密码不正确");
      }
      if (account.disabledAt) {
        await audit(c.var.db, { actor: actorOf(principalOf(account)), action: "sign_in_failed", subject: login, detail: "disabled", address }, now);
        throw new AppError("unauthorized", "账号已停用，请联系管理员");
      }
      // A password that must be changed first, where it cannot be changed (a city account at a
      // node): the person changes it at the city, and signs in here once the new one has come by pull.
      if (account.mustChangePassword && opts.mayChangePassword && !opts.mayChangePassword(account)) {
        await audit(c.var.db, { actor: actorOf(principalOf(account)), action: "sign_in_failed", subject: login, detail: "must_change_password_elsewhere", address }, now);
        throw new AppError("password_change_required", "此账号须先修改初始密码或重置后的密码，本节点不能修改市级账号的密码：请先登录市级系统修改密码，新密码同步到本节点后再在此登录");
      }
      await clearFailures(c.var.db, keys[0]!.key);
      const session = await openSession(c.var.db, account.id, now);
      setCookie(c, opts.cookie, session.token, {
        httpOnly: true,
        sameSite: "Strict",
        path: "/",
        secure: new URL(c.req.url).protocol === "https:",
        maxAge: Math.floor(SESSION_TTL_MS / 1000),
      });
      await audit(c.var.db, { actor: actorOf(principalOf(account)), action: "sign_in", subject: login, address }, now);
      return c.json({ principal: principalOf(account), mustChangePassword: account.mustChangePassword });
    })
    .get("/api/session", requires("session"), (c) => c.json({ principal: principal(c), mustChangePassword: c.var.mustChangePassword ?? false }))
    .delete("/api/session", async (c) => {
      const token = getCookie(c, opts.cookie);
      if (token) await closeSession(c.var.db, token);
      deleteCookie(c, opts.cookie, { path: "/" });
      if (c.var.principal) await audit(c.var.db, { actor: actorOf(c.var.principal), action: "sign_out", subject: c.var.principal.id, address: c.var.clientAddress ?? null }, c.var.now());
      return c.body(null, 204);
    })
    .post("/api/session/password", requires("session"), jsonBody(change), async (c) => {
      const p = principal(c);
      const body = c.req.valid("json");
      const account = await accountById(c.var.db, p.id);
      if (!account || c.var.authVia !== "session") throw new AppError("forbidden", "只有以账号登录的用户可以修改密码");
      if (opts.mayChangePassword && !opts.mayChangePassword(account)) {
        throw new AppError("forbidden", "此账号由市级管理，请在市级系统修改密码");
      }
      if (!(await verifyPassword(body.current, account.passwordHash))) throw new AppError("validation_failed", "当前密码不正确", { field: "current", errors: [{ field: "current", message: "当前密码不正确" }] });
      const problem = passwordProblem(body.password);
      if (problem) throw new AppError("validation_failed", problem, { field: "password", errors: [{ field: "password", message: problem }] });
      const now = c.var.now();
      await updateAccount(c.var.db, account, { passwordHash: await hashPassword(body.password), mustChangePassword: false }, now.toISOString());
      // Every session of the account ends (one may have been opened with the old password); this one is renewed.
      await closeSessionsOf(c.var.db, account.id);
      const session = await openSession(c.var.db, account.id, now);
      setCookie(c, opts.cookie, session.token, { httpOnly: true, sameSite: "Strict", path: "/", secure: new URL(c.req.url).protocol === "https:", maxAge: Math.floor(SESSION_TTL_MS / 1000) });
      await audit(c.var.db, { actor: actorOf(p), action: "password_changed", subject: account.login, address: c.var.clientAddress ?? null }, now);
      return c.json({ principal: p, mustChangePassword: false });
    });
}
