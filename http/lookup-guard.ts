/**
 * One guard for every place a query code opens a case: tracking (JSON and page), the result
 * download and linking a case to an applicant's account, at the city and at every node. Wrong
 * codes are counted per client address and per case number (`LOOKUP_PER_ADDRESS`,
 * `LOOKUP_PER_CASE`); past either limit, lookups from that address or of that case number are
 * 429 with `Retry-After` until the wait is over. A case that does not exist and a wrong code get
 * one answer, byte for byte, and both count, so no answer tells whether a case exists.
 */
import type { Context, MiddlewareHandler } from "hono";
import { html } from "hono/html";
import { LOOKUP_PER_ADDRESS, LOOKUP_PER_CASE } from "../domain/throttle.js";
import { getCase } from "../store/cases.js";
import { attemptWait, audit, recordFailure } from "../store/sessions.js";
import { callerOf } from "./auth.js";
import { caseNoSchema, queryCodeSchema } from "./cases.js";
import { AppError } from "./errors.js";
import type { SharedVariables } from "./env.js";
import { page } from "./layout.js";

/** Any shell's context (each extends the shared variables, which are all these helpers use). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Ctx = Context<any>;
const vars = (c: Ctx) => c.var as SharedVariables;

/** The counters a lookup of `caseNo` is held to (the address's only when the shell knows it). */
function lookupKeys(c: Ctx, caseNo: string) {
  const address = vars(c).clientAddress ?? null;
  return [{ key: `lookup:case:${caseNo}`, policy: LOOKUP_PER_CASE }, ...(address ? [{ key: `lookup:address:${address}`, policy: LOOKUP_PER_ADDRESS }] : [])];
}

/** How long lookups of `caseNo` from this client must wait (0: go ahead). */
export async function lookupWait(c: Ctx, caseNo: string): Promise<number> {
  const v = vars(c);
  return attemptWait(v.db, lookupKeys(c, caseNo).map((k) => k.key), v.now());
}

/** Counts a failed lookup (wrong code, no such case, someone else's case) and logs it. */
export async function countLookupFailure(c: Ctx, caseNo: string, where: string): Promise<void> {
  const v = vars(c);
  const now = v.now();
  await recordFailure(v.db, lookupKeys(c, caseNo), now);
  await audit(v.db, { actor: callerOf({ var: v }), action: "lookup_failed", subject: caseNo, detail: where, address: v.clientAddress ?? null }, now);
}

/** The wait in words: seconds under two minutes, whole minutes above. */
function inWords(seconds: number): string {
  return seconds < 120 ? `${seconds} 秒` : `${Math.ceil(seconds / 60)} 分钟`;
}

/**
 * The 429 of a blocked lookup (logged): a Chinese page for a client that asked for HTML, problem+json
 * otherwise. No `instance`: it would repeat the case number of the path, and nothing else differs.
 */
export async function tooManyLookups(c: Ctx, caseNo: string, waitMs: number, where: string, asPage = false): Promise<Response> {
  const v = vars(c);
  await audit(v.db, { actor: callerOf({ var: v }), action: "lookup_blocked", subject: caseNo, detail: where, address: v.clientAddress ?? null }, v.now());
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  const detail = `查询码错误次数过多，请 ${inWords(seconds)}后再试；也可携带受理回执到办事窗口查询`;
  c.header("Retry-After", String(seconds));
  if (asPage || (c.req.header("accept") ?? "").includes("text/html")) {
    return c.html(page("查询次数过多", html`<section class="card"><h1>查询次数过多</h1><p class="light-red">${detail}。</p><p><a href="/track">返回办件查询</a></p></section>`), 429);
  }
  return problem(c, new AppError("too_many_attempts", detail, { retryAfter: seconds }));
}

/** What every wrong code and every unknown case number is answered with. */
export const LOOKUP_REFUSED = new AppError("forbidden", "办件编号或查询码不正确，或办件尚未上传到此处", { field: "queryCode" });

/** A problem response without `instance`, so answers about different case numbers are the same bytes. */
function problem(c: Ctx, err: AppError): Response {
  return c.body(JSON.stringify(err.toProblem()), err.status, { "content-type": "application/problem+json; charset=utf-8" });
}

/**
 * The guard, placed after a route's validators: the case number from the path or the query, the
 * code from the query. `api`: a wrong code is answered here (403, `LOOKUP_REFUSED`). `page`: a
 * missing or malformed pair is left to the page, a wrong code is counted and the page says so itself.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function queryCodeGuard(mode: "api" | "page", where: string): MiddlewareHandler<any> {
  return async (c: Ctx, next) => {
    const caseNo = caseNoSchema.safeParse(c.req.param("caseNo") ?? c.req.query("caseNo"));
    const code = queryCodeSchema.safeParse(c.req.query("queryCode"));
    if (!caseNo.success || !code.success) {
      if (mode === "page") return next();
      throw LOOKUP_REFUSED; // unreachable behind the route's validators; never a lookup without both
    }
    const wait = await lookupWait(c, caseNo.data);
    if (wait > 0) return tooManyLookups(c, caseNo.data, wait, where, mode === "page");
    const kase = await getCase(vars(c).db, caseNo.data);
    if (kase && kase.queryCode === code.data) return next();
    await countLookupFailure(c, caseNo.data, where);
    if (mode === "page") return next();
    return problem(c, LOOKUP_REFUSED);
  };
}
