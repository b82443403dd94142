/** The window console's browser script: it talks to the same JSON API that tests and other tools use. */
import { asset } from "../http/assets.js";

export const consoleScript = asset(
  "console.js",
  `const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (ch) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;","'":"&#39;"}[ch]));
const LIGHT = { green: "● 绿灯", yellow: "● 黄灯", red: "● 红灯" };
let guide = null;
async function api(path, body) {
  const res = await fetch(path, body ? { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {});
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.detail || res.statusText);
  return data;
}
async function loadItems() {
  const { items } = await api("/api/catalog/items?place=township&pageSize=100");
  $("#item").innerHTML = '<option value="">— 请选择事项 —</option>' + items.map((i) => '<option value="' + i.code + '">' + esc(i.name) + '（' + esc(i.department.name) + '）</option>').join("");
}
async function pickItem() {
  const code = $("#item").value;
  guide = code ? await api("/api/catalog/items/" + code) : null;
  $("#materials").innerHTML = guide ? guide.materials.map((m) => '<label><input type="checkbox" name="m" value="' + esc(m.id) + '"> ' + esc(m.name) + (m.required ? "" : "（非必需）") + (m.deferrable ? "（可容缺）" : "") + '</label><br>').join("") : "";
}
async function submitIntake(ev) {
  ev.preventDefault();
  const materials = [...document.querySelectorAll('input[name=m]:checked')].map((x) => x.value);
  try {
    const c = await api("/api/cases", { itemCode: $("#item").value, applicant: { name: $("#name").value, idNumber: $("#idno").value, phone: $("#phone").value }, materials });
    $("#result").innerHTML = '已生成办件 <strong>' + c.caseNo + '</strong>（' + esc(c.stateLabel) + '）' + (c.deadline ? '，承诺办结日期 ' + c.deadline.date : '') +
      ' <a target="_blank" href="' + c.receiptUrl + '">打印回执</a>' + (c.noticeUrl ? ' <a target="_blank" href="' + c.noticeUrl + '">打印一次性告知书</a>' : '');
    loadCases();
  } catch (e) { $("#result").textContent = "未能受理：" + e.message; }
}
async function act(caseNo, body) {
  try { await api("/api/cases/" + caseNo + "/actions", body); } catch (e) { alert(e.message); }
  loadCases();
}
function buttons(c) {
  const b = [];
  for (const a of c.availableActions || []) {
    if (a === "decide") b.push({ label: "准予", body: { action: "decide", decision: "grant" } }, { label: "不予", ask: "不予办理的理由", body: { action: "decide", decision: "deny" } });
    else if (a === "refuse") b.push({ label: "不予受理", ask: "不予受理的理由", body: { action: "refuse" } });
    else if (a === "supplement") b.push({ label: "补齐材料", body: { action: "supplement", materials: c.missing.map((m) => m.id) } });
    else if (a === "forward") b.push({ label: "转送部门", body: { action: "forward" } });
    else if (a === "deliver") b.push({ label: "送达", body: { action: "deliver" } });
  }
  return b;
}
async function loadCases() {
  const q = $("#filter").value;
  const { cases, total } = await api("/api/cases?pageSize=50" + (q ? "&" + q : ""));
  $("#count").textContent = total;
  $("#cases").innerHTML = cases.map((c) => '<tr><td><a target="_blank" href="/api/cases/' + c.caseNo + '/receipt">' + c.caseNo + '</a></td><td>' + esc(c.itemName) + '</td><td>' + esc(c.applicant.name) + '<br><span class="muted">' + esc(c.applicant.idNumber) + '</span></td><td>' + esc(c.kindLabel) + '</td><td>' + esc(c.stateLabel) + '</td><td class="light-' + (c.light || "") + '">' + (LIGHT[c.light] || "") + '</td><td>' + (c.deadline ? c.deadline.date : "") + (c.decision === "grant" ? '<br><a target="_blank" href="/api/cases/' + c.caseNo + '/result?queryCode=' + c.queryCode + '">打印电子证照</a>' : "") + '</td><td>' + (c.atCity === false ? '<span class="light-yellow">未上传市级</span>' : "已上传") + '</td><td>' +
    buttons(c).map((b, i) => '<button data-case="' + c.caseNo + '" data-i="' + i + '">' + b.label + '</button>').join(" ") + '</td></tr>').join("");
  document.querySelectorAll("button[data-case]").forEach((btn) => btn.onclick = () => {
    const c = cases.find((x) => x.caseNo === btn.dataset.case);
    const b = buttons(c)[Number(btn.dataset.i)];
    if (!b.ask) return act(c.caseNo, b.body);
    const reason = prompt(b.ask);
    if (reason) act(c.caseNo, { ...b.body, reason });
  });
}
async function loadCalendarStatus() {
  const s = await api("/api/calendar/status").catch(() => null);
  if (s && s.warnings.length) $("#calendar").innerHTML = '<div class="warn">' + s.warnings.map((w) => esc(w.message)).join("<br>") + '</div>';
}
async function loadSync() {
  try {
    const s = await api("/api/sync/status");
    $("#sync").className = "card " + (s.online ? "" : "warn");
    $("#sync").innerHTML = (s.online ? "● 已连接市级" : "○ 离线：办件照常受理，联网后自动上传") +
      "　待上传事件 <strong>" + s.pendingEvents + "</strong>　市级已确认至 " + s.ackedSeq + " / 本地 " + s.headSeq +
      (s.lastPushAt ? "　最近上传 " + new Date(Date.parse(s.lastPushAt) + 8 * 3600e3).toISOString().slice(5, 16).replace("T", " ") : "") +
      (s.conflicts ? '　<span class="light-red">冲突待处理 ' + s.conflicts + ' 件</span>' : "") +
      (s.clockWarning ? '<div class="light-red"><strong>' + esc(s.clockWarning) + '</strong></div>' : "") +
      (s.lastError && !s.online ? '<div class="muted">' + esc(s.lastError) + '</div>' : "") +
      ' <button id="syncnow">立即同步</button>';
    $("#syncnow").onclick = async () => { $("#syncnow").disabled = true; await api("/api/sync/now", {}); loadSync(); loadCases(); };
  } catch (e) { $("#sync").textContent = "同步状态不可用：" + e.message; }
}
$("#item").onchange = pickItem;
$("#intake").onsubmit = submitIntake;
$("#filter").onchange = loadCases;
loadItems(); loadCases(); loadSync(); loadCalendarStatus(); setInterval(loadCases, 30000); setInterval(loadSync, 5000);
`,
);
