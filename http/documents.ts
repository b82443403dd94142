/** Printable A4 documents of a case: the receipt (回执) and the one-time notice (一次性告知书). */
import { html } from "hono/html";
import { CASE_KIND_LABELS, CASE_STATE_LABELS, type CaseKind, type CaseSnapshot } from "../domain/lifecycle.js";
import { maskIdNumber } from "../domain/codes.js";
import { formatDateZh, formatLocal, localDate } from "../domain/time.js";
import type { ItemRow } from "../store/catalog.js";
import { a4Document } from "./layout.js";
import { limitText, MATERIAL_FORMS } from "./labels.js";

export interface DocumentContext {
  /** Name of the issuing window, e.g. 某某镇便民服务中心. */
  office: string;
  /** Where applicants can look up the case. */
  trackUrl: string;
  now: Date;
}


/** 受理回执. */
export function receiptHtml(c: CaseSnapshot, item: ItemRow, ctx: DocumentContext) {
  const accepted = c.acceptedAt !== null;
  return a4Document(
    `受理回执 ${c.caseNo}`,
    html`<h1>${accepted ? "受理回执" : "收件回执"}</h1>
<p class="no">办件编号：<strong>${c.caseNo}</strong></p>
<table>
<tr><th>申请人</th><td>${c.applicantName}</td></tr>
<tr><th>身份证号</th><td>${maskIdNumber(c.applicantIdNumber)}</td></tr>
<tr><th>申请事项</th><td>${c.itemName}<br><span class="small">事项编码 ${c.itemCode}</span></td></tr>
<tr><th>办件类型</th><td>${CASE_KIND_LABELS[c.kind as CaseKind]}（${CASE_STATE_LABELS[c.state]}）</td></tr>
<tr><th>收件时间</th><td>${formatLocal(c.createdAt)}</td></tr>
${accepted ? html`<tr><th>受理时间</th><td>${formatLocal(c.acceptedAt!)}</td></tr>` : ""}
<tr><th>承诺时限</th><td>${limitText({ value: c.limitValue, unit: c.limitUnit })}</td></tr>
<tr><th>承诺办结日期</th><td>${c.deadlineDate ? html`<strong>${formatDateZh(c.deadlineDate)}</strong>（${formatLocal(c.deadlineAt!)} 前）` : "补齐材料、正式受理后起算"}</td></tr>
<tr><th>已收材料</th><td>${c.materials.length ? html`<ol>${c.materials.map((id) => html`<li>${item.materials.find((m) => m.id === id)?.name ?? id}</li>`)}</ol>` : "无"}</td></tr>
${c.missing.length || c.deferred.length ? html`<tr><th>尚缺材料</th><td>${[...c.missing, ...c.deferred].map((id) => item.materials.find((m) => m.id === id)?.name ?? id).join("；")}（详见一次性告知书）</td></tr>` : ""}
<tr><th>查询码</th><td><strong>${c.queryCode}</strong>　凭办件编号和查询码查询办理进度：${ctx.trackUrl}</td></tr>
<tr><th>咨询电话</th><td>${item.consultPhone}</td></tr>
<tr><th>投诉渠道</th><td>${item.complaintChannel.phone}；${item.complaintChannel.address}</td></tr>
</table>
<p class="sign">${ctx.office}（受理专用章）<br>${formatDateZh(localDate(c.acceptedAt ?? c.createdAt))}</p>`,
  );
}

/** 一次性告知书: every missing material at once, plus those accepted under 容缺. */
export function noticeHtml(c: CaseSnapshot, item: ItemRow, ctx: DocumentContext) {
  const spec = (id: string) => item.materials.find((m) => m.id === id);
  const row = (id: string, i: number) => {
    const m = spec(id);
    return html`<tr><td>${i + 1}</td><td>${m?.name ?? id}</td><td>${m ? MATERIAL_FORMS[m.form] : ""}</td><td>${m?.copies ?? ""}</td><td>${m?.note ?? ""}</td></tr>`;
  };
  return a4Document(
    `一次性告知书 ${c.caseNo}`,
    html`<h1>一次性告知书</h1>
<p class="no">办件编号：${c.caseNo}</p>
<p>${c.applicantName}（身份证号 ${maskIdNumber(c.applicantIdNumber)}）：</p>
<p>您于 ${formatLocal(c.createdAt)} 申请办理的“${c.itemName}”，经审查，申请材料尚不齐全。根据《中华人民共和国行政许可法》第三十二条，现一次性告知您需要补正的全部材料如下：</p>
${c.missing.length
  ? html`<table><tr><th>序号</th><th>材料名称</th><th>要求</th><th>份数</th><th>说明</th></tr>${c.missing.map(row)}</table>`
  : html`<p>（无须补正的材料）</p>`}
${c.deferred.length
  ? html`<p>以下材料已按容缺受理方式先行受理，请在领取办理结果前补交：</p>
<table><tr><th>序号</th><th>材料名称</th><th>要求</th><th>份数</th><th>说明</th></tr>${c.deferred.map(row)}</table>`
  : ""}
<p>请备齐上述材料后，携本告知书到${ctx.office}办理。补齐后即予受理，无须重复提交已收材料。本告知书所列为全部需补正内容，不会再次要求补正其他材料。</p>
<p>查询码：${c.queryCode}；咨询电话：${item.consultPhone}；投诉电话：${item.complaintChannel.phone}</p>
<p class="sign">${ctx.office}<br>${formatDateZh(localDate(ctx.now))}</p>`,
  );
}
