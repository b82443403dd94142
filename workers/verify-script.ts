/** The `/verify` page's browser script: verifies the pasted document, or the one in the link's hash, through `POST /api/verify`. */
import { asset } from "../http/assets.js";

export const verifyScript = asset(
  "verify.js",
  `const $ = (s) => document.querySelector(s);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (ch) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\\"":"&quot;","'":"&#39;"}[ch]));
const LABEL = { valid: "有效", invalid: "无效", revoked: "已撤销" };
async function check() {
  const token = $("#token").value.trim();
  if (!token) return;
  const res = await fetch("/api/verify", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
  const r = await res.json();
  if (!res.ok) { $("#out").innerHTML = '<p class="light-red">' + esc(r.detail) + '</p>'; return; }
  const c = r.claims || {};
  $("#out").innerHTML = '<h2 class="' + (r.valid ? "light-green" : "light-red") + '">' + LABEL[r.status] + '</h2><p>' + esc(r.reason) + '</p>' +
    (r.claims ? '<table><tr><th>事项</th><td>' + esc(c.itemName) + '</td></tr><tr><th>持有人</th><td>' + esc(c.holder && c.holder.name) + '（' + esc(c.holder && c.holder.idNumber) + '）</td></tr>' +
    '<tr><th>办件编号</th><td>' + esc(c.caseNo) + '</td></tr><tr><th>发证机关</th><td>' + esc(c.department && c.department.name) + '</td></tr><tr><th>印章</th><td>' + esc(c.seal) + '</td></tr>' +
    '<tr><th>签发日期</th><td>' + esc(c.issuedOn) + '</td></tr><tr><th>有效期至</th><td>' + esc(c.validUntil) + '</td></tr>' + (c.licenceId ? '<tr><th>证照标识</th><td>' + esc(c.licenceId) + '</td></tr>' : '') +
    '<tr><th>签发方</th><td>' + (r.signer ? (r.signer.kind === "city" ? "市级中心" : "乡镇节点 " + esc(r.signer.node) + "（经市级授权）") : "—") + '</td></tr></table>' : "");
}
if (location.hash.length > 1) { $("#token").value = decodeURIComponent(location.hash.slice(1)); check(); }
$("#go").onclick = check;
`,
);
