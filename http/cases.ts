/** Case routes: window intake, listing, the case view, actions, receipt and one-time notice. */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { isValidIdNumber } from "../domain/codes.js";
import { CASE_NO_PATTERN, QUERY_CODE_PATTERN } from "../domain/case-number.js";
import { APPLICANT_NAME_MAX, PHONE_PATTERN } from "../domain/applicant.js";
import { CASE_STATES, DELIVERY_METHODS, type CaseCommand, type Role } from "../domain/lifecycle.js";
import { maySeeCase } from "../domain/permissions.js";
import { actorOf, type Principal } from "../domain/principal.js";
import { audit } from "../store/sessions.js";
import { principal, requires } from "./auth.js";
import { getItemRow } from "../store/catalog.js";
import { readReference } from "../store/reference.js";
import { getCase, getCaseEvents, intake, listCases, runCommand, type CaseListQuery } from "../store/cases.js";
import { caseView } from "./case-view.js";
import { itemCodeSchema } from "./catalog.js";
import { noticeHtml, receiptHtml } from "./documents.js";
import { AppError, fromDomain } from "./errors.js";
import type { CaseEnv } from "./env.js";
import { digits, jsonBody, line, zv } from "./validate.js";

const materialIds = z.array(z.string().min(1).max(40)).max(50, "材料不超过50项");

export const intakeSchema = z.object({
  itemCode: itemCodeSchema,
  applicant: z.object({
    name: z
      .string()
      .trim()
      .min(1, "请填写申请人姓名")
      .refine((s) => [...s].length <= APPLICANT_NAME_MAX, `姓名不超过${APPLICANT_NAME_MAX}个字符`)
      .pipe(line("姓名不能包含换行或控制字符")),
    idNumber: z
      .string()
      .trim()
      .transform((s) => s.toUpperCase())
      .refine(isValidIdNumber, "公民身份号码不正确（校验位不符或出生日期无效）"),
    phone: z
      .string()
      .trim()
      .regex(PHONE_PATTERN, "联系电话应为11位手机号或带区号的固定电话"),
  }),
  materials: materialIds,
});

const text = (msg: string, max = 500) => z.string().trim().min(1, msg).max(max, `不超过${max}个字符`);

export const commandSchema = z.discriminatedUnion(
  "action",
  [
    z.object({ action: z.literal("accept"), materials: materialIds.optional() }),
    z.object({ action: z.literal("refuse"), reason: text("请填写不予受理的理由") }),
    z.object({ action: z.literal("request-supplement"), missing: materialIds.min(1, "请列出全部缺少的材料"), note: z.string().max(500).optional() }),
    z.object({ action: z.literal("supplement"), materials: materialIds.min(1, "请列出补交的材料") }),
    z.object({ action: z.literal("forward"), note: z.string().max(500).optional() }),
    // The department giving the opinion is the approver's own, never one named in the body.
    z
      .object({
        action: z.literal("opinion"),
        opinion: z.enum(["agree", "disagree"], { message: "意见应为 agree 或 disagree" }),
        comment: z.string().max(500).optional(),
      })
      .strict(),
    z.object({ action: z.literal("escalate"), authority: text("请填写上级机关") }),
    z.object({ action: z.literal("suspend"), reason: text("请填写暂停计时事由") }),
    z.object({ action: z.literal("resume") }),
    z.object({
      action: z.literal("decide"),
      decision: z.enum(["grant", "deny"], { message: "decision 应为 grant（准予）或 deny（不予）" }),
      reason: z.string().trim().max(1000).optional(),
    }),
    z.object({ action: z.literal("deliver"), method: z.enum(DELIVERY_METHODS).optional() }),
  ],
  { message: "action 应为 accept、refuse、request-supplement、supplement、forward、opinion、escalate、suspend、resume、decide 或 deliver" },
);

/** A case number as printed on the receipt. */
export const caseNoSchema = z.string().trim().regex(CASE_NO_PATTERN, "办件编号格式应为 节点编码-yyyymmdd-序号");
/** The 8-character query code on the receipt (case-insensitive). */
export const queryCodeSchema = z
  .string()
  .trim()
  .toUpperCase()
  .pipe(z.string().regex(QUERY_CODE_PATTERN, "查询码应为回执上的8位字符（不含 0、1、I、L、O）"));
export const caseNoParam = z.object({ caseNo: caseNoSchema });

const listQuery = z.object({
  state: z.enum(CASE_STATES as [string, ...string[]], { message: `state 应为 ${CASE_STATES.join("、")} 之一` }).optional(),
  light: z.enum(["green", "yellow", "red"], { message: "light 应为 green、yellow 或 red" }).optional(),
  page: digits("页码", 1, 10_000).default(1),
  pageSize: digits("每页条数", 1, 200).default(50),
});

/** Adds `atCity` (all of the case's changes acknowledged by the city) where the shell tracks it. */
async function withAtCity<T extends { caseNo: string }>(vars: CaseEnv["Variables"], views: T[]): Promise<(T & { atCity?: boolean })[]> {
  if (!vars.notAtCity) return views;
  const pending = await vars.notAtCity(views.map((v) => v.caseNo));
  return views.map((v) => ({ ...v, atCity: !pending.has(v.caseNo) }));
}

/**
 * The case a principal asks for, or the reason they may not have it: 404 when it does not exist,
 * 403 when it is not theirs to see (another hall's, another department's, another applicant's).
 */
async function caseFor(c: Context<CaseEnv>, caseNo: string) {
  const kase = await getCase(c.var.db, caseNo);
  if (!kase) throw fromDomain({ code: "not_found", what: "case", id: caseNo });
  const p = principal(c);
  if (!maySeeCase(p, kase)) {
    await audit(c.var.db, { actor: actorOf(p), action: "forbidden", subject: caseNo, detail: "case scope", address: c.var.clientAddress ?? null }, c.var.now());
    throw new AppError("forbidden", "无权查看或办理此办件（不属于本窗口、本部门或本人）", { caseNo });
  }
  const item = await getItemRow(c.var.db, kase.itemCode);
  if (!item) throw fromDomain({ code: "not_found", what: "item", id: kase.itemCode });
  return { kase, item, principal: p };
}

/** A clerk acts for the hall they belong to, and only there (a township clerk's token at the city is not the city's window). */
function ownHall(c: Context<CaseEnv>, p: Principal): void {
  if (p.role === "clerk" && p.hall !== c.var.origin) {
    throw new AppError("forbidden", `窗口人员属于 ${p.hall}，不能在 ${c.var.origin} 办理`, { hall: p.hall, origin: c.var.origin });
  }
}

/** The case routes of a window (a node's, or the city hall's), each guarded by its permission. */
export function caseRoutes(opts: { trackUrl: (caseNo: string) => string }) {
  return new Hono<CaseEnv>()
    .post("/api/cases", requires("case.intake"), jsonBody(intakeSchema), async (c) => {
      const p = principal(c);
      ownHall(c, p);
      const body = c.req.valid("json");
      const now = c.var.now();
      const res = await intake(c.var.db, {
        origin: c.var.origin,
        actor: actorOf(p),
        channel: "window",
        itemCode: body.itemCode,
        applicant: body.applicant,
        materials: body.materials,
        at: now,
        reference: c.var.reference,
        sha256: c.var.sha256,
      });
      if (!res.ok) throw fromDomain(res.error);
      // Written here a moment ago and not pushed yet: where the shell tracks it, the answer is known.
      const view = { ...caseView(res.case, { now, materials: res.item!.materials, role: roleOf(p) }), ...(c.var.notAtCity ? { atCity: false } : {}) };
      c.header("Location", `/api/cases/${res.case.caseNo}`);
      return c.json(
        {
          ...view,
          warnings: res.warnings,
          receiptUrl: `/api/cases/${res.case.caseNo}/receipt`,
          noticeUrl: res.case.missing.length || res.case.deferred.length ? `/api/cases/${res.case.caseNo}/notice` : null,
        },
        201,
      );
    })
    .get("/api/cases", requires("case.list"), zv("query", listQuery), async (c) => {
      const q = c.req.valid("query");
      const p = principal(c);
      const now = c.var.now();
      const { cases, total } = await listCases(c.var.db, { ...q, state: q.state as never, now, scope: scopeOf(p) });
      const items = new Map<string, Awaited<ReturnType<typeof getItemRow>>>();
      const out = [];
      for (const k of cases) {
        if (!items.has(k.itemCode)) items.set(k.itemCode, await getItemRow(c.var.db, k.itemCode));
        out.push(caseView(k, { now, materials: items.get(k.itemCode)?.materials ?? [], role: roleOf(p) }));
      }
      return c.json({ cases: await withAtCity(c.var, out), total });
    })
    .get("/api/cases/:caseNo", requires("case.read"), zv("param", caseNoParam), async (c) => {
      const { caseNo } = c.req.valid("param");
      const { kase, item, principal: p } = await caseFor(c, caseNo);
      const events = await getCaseEvents(c.var.db, caseNo);
      // Every view of a full ID number is recorded: who, when, which case.
      await audit(c.var.db, { actor: actorOf(p), action: "id_number_view", subject: caseNo, address: c.var.clientAddress ?? null }, c.var.now());
      const [view] = await withAtCity(c.var, [caseView(kase, { now: c.var.now(), materials: item.materials, unmasked: true, role: roleOf(p), events })]);
      return c.json(view);
    })
    .post("/api/cases/:caseNo/actions", requires("case.act"), zv("param", caseNoParam), jsonBody(commandSchema), async (c) => {
      const { caseNo } = c.req.valid("param");
      const { principal: p } = await caseFor(c, caseNo);
      ownHall(c, p);
      const now = c.var.now();
      const body = c.req.valid("json");
      const command = (body.action === "opinion" ? { ...body, department: p.department ?? "" } : body) as CaseCommand;
      const res = await runCommand(c.var.db, caseNo, {
        origin: c.var.origin,
        actor: actorOf(p),
        role: roleOf(p),
        at: now,
        command,
        reference: c.var.reference,
        sha256: c.var.sha256,
      });
      if (!res.ok) throw fromDomain(res.error);
      let approval: { id: string; licenceId: string | null; issuer: string } | null = null;
      if (res.event.type === "decided" && res.case.decision === "grant" && c.var.issueApproval) {
        // The decision stands even if signing fails now; the download issues it later.
        approval = await c.var.issueApproval(caseNo).catch((err: unknown) => {
          // A refusal the shell explains (AppError) was already logged where it was decided.
          if (!(err instanceof AppError)) console.error("issuing the approval failed", caseNo, err);
          return null;
        });
      }
      const item = await (c.var.reference ?? readReference(c.var.db)).item(res.case.itemCode);
      const [view] = await withAtCity(c.var, [caseView(res.case, { now, materials: item?.materials ?? [], role: roleOf(p) })]);
      return c.json({
        ...view!,
        event: { origin: res.event.origin, seq: res.event.seq, type: res.event.type, hash: res.event.hash },
        ...(approval ? { approval: { id: approval.id, licenceId: approval.licenceId, issuer: approval.issuer, resultUrl: `/api/cases/${caseNo}/result?queryCode=${res.case.queryCode}` } } : {}),
        warnings: res.warnings,
      });
    })
    .get("/api/cases/:caseNo/receipt", requires("case.print"), zv("param", caseNoParam), async (c) => {
      const { kase, item } = await caseFor(c, c.req.valid("param").caseNo);
      return c.html(receiptHtml(kase, item, { office: c.var.office, trackUrl: opts.trackUrl(kase.caseNo), now: c.var.now() }));
    })
    .get("/api/cases/:caseNo/notice", requires("case.print"), zv("param", caseNoParam), async (c) => {
      const { kase, item } = await caseFor(c, c.req.valid("param").caseNo);
      if (kase.missing.length === 0 && kase.deferred.length === 0) {
        throw new AppError("invalid_state", "本件材料齐全，没有需要一次性告知的材料", { state: kase.state, caseNo: kase.caseNo });
      }
      return c.html(noticeHtml(kase, item, { office: c.var.office, trackUrl: opts.trackUrl(kase.caseNo), now: c.var.now() }));
    });
}

/** The transition table's role of a principal (a system job acts as no person: it gets none). */
function roleOf(p: Principal): Role {
  if (p.role === "system") throw new AppError("forbidden", "系统任务不能办理办件");
  return p.role;
}

/** What part of the cases a principal's list shows (`maySeeCase` as a query). */
function scopeOf(p: Principal): CaseListQuery["scope"] {
  switch (p.role) {
    case "clerk":
      return { origin: p.hall };
    case "approver":
      return { department: p.department ?? "" };
    case "applicant":
      return { applicantAccount: p.id };
    default:
      return {};
  }
}
