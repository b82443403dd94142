/** The sign-in page, the same at the city and at every node; the form talks to `POST /api/session`. */
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { html } from "hono/html";
import { z } from "zod";
import { may, PERMISSION_LABELS, type Permission } from "../domain/permissions.js";
import { asset, scriptTag } from "./assets.js";
import type { SharedEnv } from "./env.js";
import { page } from "./layout.js";
import { zv } from "./validate.js";

export const signInScript = asset(
  "signin.js",
  `const form = document.querySelector("#signin");
const out = document.querySelector("#signin-error");
form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  out.textContent = "";
  try {
    const res = await fetch("/api/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login: form.login.value.trim(), password: form.password.value }) });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) { out.textContent = body.detail || "登录失败，请稍后再试"; return; }
    const next = new URLSearchParams(location.search).get("next");
    location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
  } finally { button.disabled = false; }
});
`,
);

/** Only local paths may be returned to after signing in (no open redirect). */
const nextPath = z
  .string()
  .max(500)
  .regex(/^\/(?!\/)[^\s\\\\]*$/, "仅限本站地址")
  .optional()
  .catch(undefined);

/** `GET /signin`. */
export function signInPage(opts: { title: string }) {
  return new Hono<SharedEnv>().get("/signin", zv("query", z.object({ next: nextPath })), (c) =>
    c.html(
      page(
        `登录 · ${opts.title}`,
        html`<section class="card narrow"><h1>登录</h1><p class="muted">${opts.title}</p>
<form id="signin" autocomplete="on">
<p><label>登录名<br><input name="login" required maxlength="64" autocomplete="username" autofocus></label></p>
<p><label>密码<br><input name="password" type="password" required maxlength="128" autocomplete="current-password"></label></p>
<p><button type="submit">登录</button></p>
<p id="signin-error" class="light-red" role="alert"></p>
</form></section>${scriptTag(signInScript)}`,
      ),
    ),
  );
}

/**
 * A page for signed-in people: an anonymous visitor is sent to the sign-in page (and back after),
 * a signed-in one without the permission sees a Chinese refusal.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function pageRequires(permission: Permission): MiddlewareHandler<any> {
  return async (c: Context<SharedEnv>, next) => {
    const p = c.var.principal;
    if (!p) return c.redirect(`/signin?next=${encodeURIComponent(c.req.path)}`, 302);
    if (!may(p, permission)) {
      return c.html(page("无权访问", html`<section class="card"><h1>无权访问</h1><p>当前账号（${p.name ?? p.id}）无权${PERMISSION_LABELS[permission]}。</p><p><a href="/">返回首页</a></p></section>`), 403);
    }
    await next();
  };
}
