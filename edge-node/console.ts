/** The window clerk's console: intake form, today's cases with their lights, actions, printouts. */
import { html } from "hono/html";
import { scriptTag } from "../http/assets.js";
import { page } from "../http/layout.js";
import { consoleScript } from "./console-script.js";

/** The console page (all data comes from the node's own API). */
export function consolePage(node: { code: string; name: string }) {
  return page(
    `${node.name} · 窗口工作台`,
    html`<h2>${node.name}（节点 ${node.code}）窗口工作台</h2>
<section class="card" id="sync">正在读取同步状态 …</section><div id="calendar"></div>
<section class="card"><h3>窗口收件</h3>
<form id="intake">
<p><select id="item" required class="wide-select"></select></p>
<p>申请人 <input id="name" required maxlength="50"> 身份证号 <input id="idno" required size="20" maxlength="18"> 电话 <input id="phone" required size="14"></p>
<div id="materials"></div>
<p><button type="submit">收件 / 受理</button></p>
</form><p id="result"></p></section>
<section class="card"><h3>办件（共 <span id="count">0</span> 件）
<select id="filter"><option value="">全部</option><option value="state=supplement">待补正</option><option value="state=accepted">已受理</option><option value="state=decided">已办结待送达</option><option value="light=yellow">黄灯</option><option value="light=red">红灯</option></select></h3>
<table><thead><tr><th>办件编号</th><th>事项</th><th>申请人</th><th>类型</th><th>状态</th><th>监察</th><th>承诺日期</th><th>市级</th><th>操作</th></tr></thead><tbody id="cases"></tbody></table>
</section>
${scriptTag(consoleScript)}`,
  );
}
