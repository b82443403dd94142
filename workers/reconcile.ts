/** Reconciliation for supervisors: per-node replication state, chain re-verification, and its page. */
import { Hono } from "hono";
import { html } from "hono/html";
import { reconcile, verifyAllChains } from "../store/sync.js";
import { scriptTag } from "../http/assets.js";
import { page } from "../http/layout.js";
import { requires } from "../http/auth.js";
import type { CityEnv } from "./env.js";
import { reconcileScript } from "./reconcile-script.js";

/** `/api/reconcile`, `/api/reconcile/verify` and `/reconcile`. */
export function reconcileRoutes() {
  return new Hono<CityEnv>()
    .get("/api/reconcile", requires("reconcile.read"), async (c) => c.json({ nodes: await reconcile(c.var.db) }))
    .get("/api/reconcile/verify", requires("reconcile.read"), async (c) => c.json(await verifyAllChains(c.var.db)))
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
${scriptTag(reconcileScript)}`,
          { nav: html`<a href="/">事项目录</a> <a href="/reconcile">节点对账</a>` },
        ),
      ),
    );
}
