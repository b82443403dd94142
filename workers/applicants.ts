/**
 * Applicants at the city: registration (anonymous, rate-limited per client address), and their own
 * cases — the list, and linking a case filed at a window with the receipt's case number and query
 * code. A case links only when the code is right and its applicant's ID number is the one the
 * account registered; anything else is one 404 and counts as a failed lookup.
 */
import { Hono } from "hono";
import { z } from "zod";
import { MOBILE_PATTERN } from "../domain/accounts.js";
import { APPLICANT_NAME_MAX } from "../domain/applicant.js";
import { isValidIdNumber, maskIdNumber, maskPhone } from "../domain/codes.js";
import { hashPassword, passwordProblem } from "../domain/password.js";
import { actorOf } from "../domain/principal.js";
import { REGISTER_PER_ADDRESS } from "../domain/throttle.js";
import { accountById } from "../store/accounts.js";
import { linkCase, registerApplicant } from "../store/applicants.js";
import { getCase, listCases, type StoredCase } from "../store/cases.js";
import { getItemRow } from "../store/catalog.js";
import { attemptWait, audit, recordFailure } from "../store/sessions.js";
import { principal, requires } from "../http/auth.js";
import { caseView } from "../http/case-view.js";
import { caseNoSchema, queryCodeSchema } from "../http/cases.js";
import { AppError } from "../http/errors.js";
import { countLookupFailure, lookupWait, tooManyLookups } from "../http/lookup-guard.js";
import { digits, jsonBody, line, zv } from "../http/validate.js";
import type { CityEnv } from "./env.js";

const LABELS = { phone: "手机号码", name: "姓名", idNumber: "公民身份号码", password: "密码", caseNo: "办件编号", queryCode: "查询码", page: "页码", pageSize: "每页条数" } as const;

const registerSchema = z
  .object({
    phone: z.string().trim().regex(MOBILE_PATTERN, "应为11位中国大陆手机号码（1 开头，第二位 3–9）"),
    name: z
      .string()
      .trim()
      .min(1, "不能为空")
      .refine((s) => [...s].length <= APPLICANT_NAME_MAX, `不超过${APPLICANT_NAME_MAX}个字符`)
      .pipe(line("不能包含换行或控制字符")),
    idNumber: z
      .string()
      .trim()
      .transform((s) => s.toUpperCase())
      .refine(isValidIdNumber, "不正确（校验位不符或出生日期无效）"),
    password: z.string().superRefine((p, ctx) => {
      const problem = passwordProblem(p);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  })
  .strict();
const linkSchema = z.object({ caseNo: caseNoSchema, queryCode: queryCodeSchema }).strict();
const pageQuery = z.object({ page: digits("页码", 1, 10_000).default(1), pageSize: digits("每页条数", 1, 200).default(50) });

/** The one answer for a case that cannot be linked: no such case, a wrong code, or someone else's. */
const NOT_LINKABLE = () =>
  new AppError("case_not_found", "没有找到可以关联的办件：请核对办件编号和查询码，并确认申请人是您本人（以注册时的公民身份号码为准）", { field: "caseNo" });

/** An applicant's view of one of their cases (ID number and phone masked, as in every list). */
async function applicantView(db: CityEnv["Variables"]["db"], kase: StoredCase | Parameters<typeof caseView>[0], now: Date) {
  const item = await getItemRow(db, kase.itemCode);
  return caseView(kase, { now, materials: item?.materials ?? [], role: "applicant" });
}

/** `POST /api/applicants`, `GET /api/my/cases`, `POST /api/my/cases`. */
export function applicantRoutes() {
  return new Hono<CityEnv>()
    .post("/api/applicants", jsonBody(registerSchema, LABELS), async (c) => {
      const body = c.req.valid("json");
      const now = c.var.now();
      const address = c.var.clientAddress ?? null;
      const keys = address ? [{ key: `register:address:${address}`, policy: REGISTER_PER_ADDRESS }] : [];
      const wait = await attemptWait(c.var.db, keys.map((k) => k.key), now);
      if (wait > 0) {
        await audit(c.var.db, { actor: "anonymous", action: "applicant_register_blocked", subject: maskPhone(body.phone), address }, now);
        const seconds = Math.ceil(wait / 1000);
        c.header("Retry-After", String(seconds));
        throw new AppError("too_many_attempts", `注册尝试次数过多，请 ${Math.ceil(seconds / 60)} 分钟后再试`, { retryAfter: seconds });
      }
      // Every registration that gets this far counts, made or refused: a refusal says the number has an account.
      if (keys.length) await recordFailure(c.var.db, keys, now);
      const account = await registerApplicant(c.var.db, { phone: body.phone, name: body.name, idNumber: body.idNumber, passwordHash: await hashPassword(body.password) }, now);
      if (!account) {
        await audit(c.var.db, { actor: "anonymous", action: "applicant_register_refused", subject: maskPhone(body.phone), detail: "phone_taken", address }, now);
        throw new AppError("conflict", "该手机号码已注册，请直接登录", { field: "phone" });
      }
      await audit(c.var.db, { actor: actorOf({ role: "applicant", id: account.id, hall: account.hall }), action: "applicant_registered", subject: account.id, address }, now);
      return c.json({ id: account.id, login: account.login, name: account.name, role: account.role, hall: account.hall, phone: account.phone, idNumber: maskIdNumber(account.idNumber!) }, 201);
    })
    .get("/api/my/cases", requires("case.mine"), zv("query", pageQuery, LABELS), async (c) => {
      const q = c.req.valid("query");
      const now = c.var.now();
      const { cases, total } = await listCases(c.var.db, { ...q, now, scope: { applicantAccount: principal(c).id } });
      const out = [];
      for (const k of cases) out.push(await applicantView(c.var.db, k, now));
      return c.json({ cases: out, total });
    })
    .post("/api/my/cases", requires("case.mine"), jsonBody(linkSchema, LABELS), async (c) => {
      const { caseNo, queryCode } = c.req.valid("json");
      const p = principal(c);
      const wait = await lookupWait(c, caseNo);
      if (wait > 0) return tooManyLookups(c, caseNo, wait, "link");
      const account = await accountById(c.var.db, p.id);
      const kase = await getCase(c.var.db, caseNo);
      const mine =
        !!account?.idNumber &&
        !!kase &&
        kase.queryCode === queryCode &&
        kase.applicantIdNumber === account.idNumber &&
        (kase.applicantAccount === null || kase.applicantAccount === p.id);
      const linked = mine ? await linkCase(c.var.db, caseNo, p.id) : null;
      if (!linked) {
        await countLookupFailure(c, caseNo, "link");
        throw NOT_LINKABLE();
      }
      if (kase!.applicantAccount !== p.id) {
        await audit(c.var.db, { actor: actorOf(p), action: "case_linked", subject: caseNo, address: c.var.clientAddress ?? null }, c.var.now());
      }
      return c.json(await applicantView(c.var.db, linked, c.var.now()));
    });
}
