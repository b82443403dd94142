/** The `/reconcile` page's browser script: reads reconciliation with the supervisor token kept in sessionStorage. */
import { asset } from "../http/assets.js";

export const reconcileScript = asset(
  "reconcile.js",
  `const $ = (s) => document.querySelector(s);
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
`,
);
