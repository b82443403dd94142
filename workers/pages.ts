/** Server-rendered public pages of the city: the catalog with search, and each item's guide. */
import { Hono } from "hono";
import { html } from "hono/html";
import { z } from "zod";
import { CASE_KIND_LABELS } from "../domain/lifecycle.js";
import { computeDeadline, formatDateZh, immediateDeadline } from "../domain/time.js";
import { getItemGuide, listDepartments, listItems, type ItemSummary } from "../store/catalog.js";
import { loadCalendar } from "../store/calendar.js";
import { itemCodeSchema } from "../http/catalog.js";
import { AppError } from "../http/errors.js";
import { page } from "../http/layout.js";
import { limitText, MATERIAL_FORMS } from "../http/labels.js";
import { digits, zv } from "../http/validate.js";
import type { CityEnv } from "./env.js";

const PLACE = { city: "市行政服务中心", township: "乡镇（街道）便民服务中心" } as const;
const STARS = ["", "一星", "二星", "三星", "四星"];

const nav = html`<a href="/">事项目录</a>`;

const searchQuery = z.object({
  q: z.string().trim().max(100).optional(),
  department: z.string().max(20).optional(),
  place: z.enum(["city", "township"]).optional().catch(undefined),
  page: digits("页码", 1, 10_000).default(1).catch(1),
});

function itemRow(i: ItemSummary) {
  return html`<tr><td><a href="/items/${i.code}">${i.name}</a><br><span class="muted">${i.code}</span></td>
<td>${i.department.name}</td><td><span class="tag">${CASE_KIND_LABELS[i.kind]}</span></td>
<td>法定 ${limitText(i.statutoryLimit)}<br>承诺 <strong>${limitText(i.promisedLimit)}</strong></td>
<td>${i.places.map((p) => PLACE[p]).join("、")}</td><td>${i.free ? "不收费" : "收费"}</td></tr>`;
}

/** `/` and `/items/:code`. */
export function pageRoutes() {
  return new Hono<CityEnv>()
    .get("/", zv("query", searchQuery), async (c) => {
      const q = c.req.valid("query");
      const pageSize = 20;
      const [{ items, total }, departments] = await Promise.all([
        listItems(c.var.db, { q: q.q || undefined, department: q.department || undefined, place: q.place, page: q.page, pageSize }),
        listDepartments(c.var.db),
      ]);
      const pages = Math.max(1, Math.ceil(total / pageSize));
      const link = (p: number) => `/?${new URLSearchParams({ ...(q.q ? { q: q.q } : {}), ...(q.department ? { department: q.department } : {}), ...(q.place ? { place: q.place } : {}), page: String(p) })}`;
      return c.html(
        page(
          `办事指南 · ${c.var.config.centreName}`,
          html`<h1>${c.var.config.centreName} · 政务服务事项目录</h1>
<form class="search" method="get" action="/">
<input name="q" value="${q.q ?? ""}" placeholder="输入事项名称、编码或关键词" size="30">
<select name="department"><option value="">全部部门</option>${departments.map((d) => html`<option value="${d.code}" ${d.code === q.department ? "selected" : ""}>${d.name}</option>`)}</select>
<select name="place"><option value="">全部办理地点</option><option value="city" ${q.place === "city" ? "selected" : ""}>市行政服务中心</option><option value="township" ${q.place === "township" ? "selected" : ""}>乡镇便民服务中心可办</option></select>
<button type="submit">检索</button></form>
<p class="muted">共 ${total} 项${q.q ? html`，关键词“${q.q}”` : ""}。</p>
<table><thead><tr><th>事项</th><th>实施部门</th><th>办件类型</th><th>办理时限</th><th>办理地点</th><th>收费</th></tr></thead>
<tbody>${items.map(itemRow)}</tbody></table>
<p>${q.page > 1 ? html`<a href="${link(q.page - 1)}">上一页</a>` : ""} 第 ${q.page} / ${pages} 页 ${q.page < pages ? html`<a href="${link(q.page + 1)}">下一页</a>` : ""}</p>`,
          { nav },
        ),
      );
    })
    .get("/items/:code", zv("param", z.object({ code: itemCodeSchema })), async (c) => {
      const { code } = c.req.valid("param");
      const g = await getItemGuide(c.var.db, code);
      if (!g) throw new AppError("item_not_found", `事项 ${code} 不存在`, { itemCode: code });
      const cal = await loadCalendar(c.var.db);
      const now = c.var.now();
      const expected = g.kind === "immediate" ? immediateDeadline(cal, now) : computeDeadline(cal, now, g.promisedLimit);
      return c.html(
        page(
          `${g.name} · 办事指南`,
          html`<h1>${g.name}</h1>
<p class="muted">事项编码 ${g.code}（基本编码 ${g.basicCode}）· ${g.category} · ${g.department.name}</p>
<section class="card"><strong>今天申请、材料齐全时，预计 ${formatDateZh(expected.date)} 前办结</strong>（${g.kind === "immediate" ? "即办件，当场办结" : `承诺时限 ${limitText(g.promisedLimit)}，受理当日不计入`}）
${expected.warnings.map((w) => html`<div class="warn">${w.message}</div>`)}</section>
<table>
<tr><th>办件类型</th><td>${CASE_KIND_LABELS[g.kind]}</td></tr>
<tr><th>事项内容</th><td>${g.content}</td></tr>
<tr><th>设定依据</th><td>${g.legalBasis.map((b) => html`${b}<br>`)}</td></tr>
<tr><th>受理条件</th><td><ol>${g.conditions.map((x) => html`<li>${x}</li>`)}</ol></td></tr>
<tr><th>申请材料</th><td><table><tr><th>材料名称</th><th>要求</th><th>份数</th><th>必需</th><th>说明</th></tr>
${g.materials.map((m) => html`<tr><td>${m.name}</td><td>${MATERIAL_FORMS[m.form]}</td><td>${m.copies}</td><td>${m.required ? (m.deferrable ? "是（可容缺受理）" : "是") : "否"}</td><td>${m.note}</td></tr>`)}</table></td></tr>
<tr><th>办理流程</th><td><ol>${g.procedure.map((s) => html`<li><strong>${s.name}</strong>：${s.description}</li>`)}</ol></td></tr>
<tr><th>办理时限</th><td>法定时限 ${limitText(g.statutoryLimit)}；承诺时限 <strong>${limitText(g.promisedLimit)}</strong></td></tr>
<tr><th>收费标准</th><td>${g.fees.length ? g.fees.map((f) => html`${f.name}：${f.amount} 元（${f.basis}）<br>`) : "不收费"}</td></tr>
<tr><th>办理结果</th><td>${g.resultName}（${g.resultType}）</td></tr>
${g.jointDepartments.length ? html`<tr><th>联办部门</th><td>牵头：${g.department.name}；会办：${g.jointDepartments.map((d) => d.name).join("、")}</td></tr>` : ""}
<tr><th>办理地点</th><td>${g.places.map((p) => PLACE[p]).join("、")}<br>${g.address}</td></tr>
<tr><th>网上办理深度</th><td>${STARS[g.onlineDepth] ?? ""}</td></tr>
<tr><th>咨询电话</th><td>${g.consultPhone}</td></tr>
<tr><th>投诉渠道</th><td>电话 ${g.complaintChannel.phone}；${g.complaintChannel.address}；${g.complaintChannel.online}</td></tr>
</table>`,
          { nav },
        ),
      );
    });
}
