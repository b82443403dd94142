/** 办件查询: an applicant tracks a case with the case number and the query code on the receipt. */
import { Hono } from "hono";
import { html } from "hono/html";
import { z } from "zod";
import { ACTION_LABELS, CASE_STATE_LABELS } from "../domain/lifecycle.js";
import { eventType } from "../domain/event-types.js";
import { formatDateZh, formatLocal, LIGHT_LABELS } from "../domain/time.js";
import { caseLight, getCase, getCaseEvents } from "../store/cases.js";
import { AppError } from "./errors.js";
import type { CaseEnv } from "./env.js";
import { page } from "./layout.js";
import { caseNoSchema, queryCodeSchema } from "./cases.js";
import { zv } from "./validate.js";
import { maskIdNumber } from "../domain/codes.js";
import { queryCodeGuard } from "./lookup-guard.js";

const trackQuery = z.object({ caseNo: caseNoSchema, queryCode: queryCodeSchema });
const formQuery = z.object({ caseNo: z.string().trim().max(40).optional(), queryCode: z.string().trim().max(20).optional() });

const STEP = (type: string) => (type === "opened" ? "收件" : type === "approval-issued" ? "签发电子文书" : (eventType(type) ? ACTION_LABELS[eventType(type)!.action] : type));

/** What an applicant may see of a case: no ID number, no other people's data. */
async function tracked(c: { var: CaseEnv["Variables"] }, caseNo: string, queryCode: string) {
  const kase = await getCase(c.var.db, caseNo);
  if (!kase || kase.queryCode !== queryCode.toUpperCase()) throw new AppError("forbidden", "办件编号或查询码不正确，或办件尚未上传到此处", { field: "queryCode" });
  // The applicant sees what happened to the case: events flagged at the city were never applied.
  const events = (await getCaseEvents(c.var.db, caseNo)).filter((e) => e.conflict === null);
  const light = caseLight(kase, c.var.now());
  return {
    caseNo: kase.caseNo,
    itemName: kase.itemName,
    applicant: { name: kase.applicantName, idNumber: maskIdNumber(kase.applicantIdNumber) },
    state: kase.state,
    stateLabel: CASE_STATE_LABELS[kase.state],
    deadline: kase.deadlineAt ? { instant: kase.deadlineAt, date: kase.deadlineDate } : null,
    light,
    lightLabel: light ? LIGHT_LABELS[light] : null,
    decision: kase.decision,
    steps: events.map((e) => ({ step: STEP(e.type), at: e.occurredAt })),
    resultUrl: kase.decision === "grant" ? `/api/cases/${kase.caseNo}/result?queryCode=${kase.queryCode}` : null,
  };
}

/** `GET /api/track` and the `/track` page. */
export function trackRoutes() {
  return new Hono<CaseEnv>()
    .get("/api/track", zv("query", trackQuery), queryCodeGuard("api", "track"), async (c) => {
      const q = c.req.valid("query");
      return c.json(await tracked(c, q.caseNo, q.queryCode));
    })
    .get("/track", zv("query", formQuery), queryCodeGuard("page", "track"), async (c) => {
      const q = c.req.valid("query");
      let body = html``;
      if (q.caseNo && q.queryCode) {
        try {
          const t = await tracked(c, q.caseNo, q.queryCode);
          body = html`<section class="card"><h2>${t.itemName}</h2>
<p>办件编号 ${t.caseNo}　申请人 ${t.applicant.name}（${t.applicant.idNumber}）</p>
<p>当前状态：<strong>${t.stateLabel}</strong>${t.deadline ? html`　承诺办结日期 ${formatDateZh(t.deadline.date!)}` : ""}${t.light ? html`　<span class="light-${t.light}">● ${t.lightLabel}</span>` : ""}</p>
<ol>${t.steps.map((s) => html`<li>${formatLocal(s.at)} ${s.step}</li>`)}</ol>
${t.resultUrl ? html`<p><a href="${t.resultUrl}">下载电子证照 / 决定书</a></p>` : ""}</section>`;
        } catch (err) {
          if (!(err instanceof AppError)) throw err;
          body = html`<p class="light-red">${err.detail}</p>`;
        }
      }
      return c.html(
        page(
          "办件查询",
          html`<h1>办件查询</h1>
<form class="search" method="get" action="/track"><input name="caseNo" value="${q.caseNo ?? ""}" placeholder="办件编号" size="24">
<input name="queryCode" value="${q.queryCode ?? ""}" placeholder="查询码（回执上的8位字符）" size="20"><button type="submit">查询</button></form>${body}`,
        ),
      );
    });
}
