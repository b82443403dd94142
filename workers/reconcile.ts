/** Reconciliation for supervisors: per-node replication state, chain re-verification, and its page. */
import { Hono } from "hono";
import { html, raw } from "hono/html";
import { reconcile, verifyAllChains } from "../store/sync.js";
import { page } from "../http/layout.js";
import { requireRole } from "./auth.js";
import type { CityEnv } from "./env.js";

const SCRIPT = `
const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (ch) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;","'":"&#39;"}[ch]));
const fmt = (iso) => iso ? new Date(Date.parse(iso) + 8 * 3600e3).toISOString().slice(0, 19).replace("T", " ") : "从未联系";
async function get(path) {
  const res = await fetch(path, { headers: { authorization: "Bearer " + sessionStorage.getItem("token") } });
  const body = await res.json();
  if (!res.ok) throw new Error(body.detail || res.statusText);
  return body;
}
async function load() {
  try {
    const { nodes } = await get("/api/reconcile");
    $("#nodes").innerHTML = nodes.map((n) => "<tr><td>" + esc(n.code) + "<br><span class=muted>" + esc(n.name) + (n.revoked ? "（已撤销）" : "") + "</span></td><td>" + fmt(n.lastContactAt) +
      "</td><td>" + n.ackedSeq + "</td><td>" + (n.reportedHeadSeq ?? "—") + "</td><td class=" + (n.pending ? "light-yellow" : "") + ">" + (n.pending ?? "—") +
      "</td><td class=" + (n.conflicts ? "light-red" : "") + ">" + n.conflicts + "</td><td class=" + (n.divergences ? "light-red" : "") + ">" + n.divergences +
      "</td><td class=" + (n.clockFlagged ? "light-red" : "") + ">" + (n.skewMs === null ? "—" : Math.round(n.skewMs / 1000) + " 秒" + (n.clockFlagged ? "（时钟偏差过大）" : "")) +
      "</td><td><code>" + esc(n.chainHead.slice(0, 16)) + "…</code></td></tr>").join("");
    $("#error").textContent = "";
  } catch (e) { $("#error").textContent = "无法读取：" + e.message; }
}
async function verify() {
  $("#verify").textContent = "正在逐条重算哈希链 …";
  try {
    const r = await get("/api/reconcile/verify");
    $("#verify").textContent = r.ok ? "全部 " + r.origins + " 条链、" + r.events + " 个事件校验通过。" : "发现 " + r.breaks.length + " 处断链：" + JSON.stringify(r.breaks.slice(0, 20));
  } catch (e) { $("#verify").textContent = "校验失败：" + e.message; }
}
$("#token").value = sessionStorage.getItem("token") || "";
$("#save").onclick = () => { sessionStorage.setItem("token", $("#token").value.trim()); load(); };
$("#run").onclick = verify;
fetch("/api/calendar/status").then((r) => r.json()).then((s) => {
  $("#calendar").innerHTML = "工作日历已录入：" + s.publishedYears.join("、") + "年" + s.warnings.map((w) => '<div class="warn">' + esc(w.message) + '</div>').join("");
});
if (sessionStorage.getItem("token")) load();
setInterval(() => sessionStorage.getItem("token") && load(), 15000);
`;

/** `/api/reconcile`, `/api/reconcile/verify` and `/reconcile`. */
export function reconcileRoutes() {
  return new Hono<CityEnv>()
    .get("/api/reconcile", requireRole("supervisor", "admin"), async (c) => c.json({ nodes: await reconcile(c.var.db) }))
    .get("/api/reconcile/verify", requireRole("supervisor", "admin"), async (c) => c.json(await verifyAllChains(c.var.db)))
    .get("/reconcile", (c) =>
      c.html(
        page(
          "节点对账 · 电子监察",
          html`<h1>乡镇节点数据对账</h1>
<p class="muted">每个乡镇节点的事件链在市级的确认情况。“待上传”为节点报告持有而市级尚未确认的事件数。</p>
<section class="card">访问令牌（监察或管理员）：<input id="token" size="60" type="password"> <button id="save">读取</button> <span id="error" class="light-red"></span></section>
<table><thead><tr><th>节点</th><th>最近联系</th><th>市级已确认序号</th><th>节点报告序号</th><th>待上传</th><th>冲突</th><th>分叉</th><th>时钟偏差</th><th>链头</th></tr></thead><tbody id="nodes"></tbody></table>
<section class="card"><button id="run">重新校验全部哈希链</button> <span id="verify"></span></section>
<section class="card" id="calendar"></section>
<script>${raw(SCRIPT)}</script>`,
          { nav: html`<a href="/">事项目录</a> <a href="/reconcile">节点对账</a>` },
        ),
      ),
    );
}
