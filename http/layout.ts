/** The HTML frame of every page (Chinese, print-friendly), and the styles and print script it links to. */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import { asset, scriptTag, styleTag } from "./assets.js";

type Body = HtmlEscapedString | Promise<HtmlEscapedString>;

/** The site's stylesheet (pages with the site header). */
export const siteCss = asset(
  "site.css",
  `*{box-sizing:border-box}body{font-family:"Noto Sans CJK SC","Microsoft YaHei","PingFang SC",sans-serif;margin:0;color:#1f2328;background:#f6f7f9;line-height:1.6}
header.top{background:#b71c1c;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.5rem;align-items:center}
header.top a{color:#fff;text-decoration:none}header.top .brand{font-weight:700;font-size:1.2rem}
main{max-width:1080px;margin:1rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #d0d7de;padding:.4rem .6rem;text-align:left;vertical-align:top}
th{background:#f0f2f5;white-space:nowrap}.muted{color:#6e7781}.tag{display:inline-block;padding:0 .4rem;border-radius:3px;background:#eef;font-size:.85rem}
.light-green{color:#1a7f37}.light-yellow{color:#9a6700}.light-red{color:#cf222e}.warn{background:#fff8c5;border:1px solid #d4a72c;padding:.5rem .8rem;margin:.6rem 0}
form.search{display:flex;gap:.5rem;flex-wrap:wrap;margin:.8rem 0}input,select,button{font:inherit;padding:.3rem .5rem}
section.card{background:#fff;border:1px solid #d0d7de;padding:.8rem 1rem;margin:.8rem 0}
.wide-select{min-width:28rem}.full-width{width:100%}
`,
);

/** The printable A4 documents' stylesheet (receipt, notice, result). */
export const a4Css = asset(
  "a4.css",
  `@page{size:A4;margin:20mm 18mm}
body{font-family:"Noto Serif CJK SC","SimSun","Songti SC",serif;font-size:12pt;color:#000;margin:0;line-height:1.8}
.sheet{width:210mm;min-height:297mm;margin:0 auto;padding:20mm 18mm;background:#fff}
@media print{.sheet{width:auto;min-height:0;padding:0}.noprint{display:none}}
h1{text-align:center;font-size:20pt;letter-spacing:.2em;margin:0 0 6mm}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #000;padding:2mm 3mm;text-align:left;vertical-align:top}
th{width:32mm;white-space:nowrap;font-weight:normal;background:#f3f3f3}
.no{text-align:right}.sign{margin-top:14mm;text-align:right}.small{font-size:10pt}
.result-foot{display:flex;justify-content:space-between;align-items:flex-end;margin-top:10mm}.qr-box{width:60mm}.token{word-break:break-all}
.revoked{border:3px solid #c00;color:#c00;padding:3mm 5mm;margin:0 0 6mm;font-size:14pt}.revoked strong{font-size:18pt;letter-spacing:.3em}
.sheet.is-revoked{position:relative}.sheet.is-revoked::after{content:"已撤销";position:absolute;top:40%;left:0;right:0;text-align:center;font-size:90pt;color:rgba(204,0,0,.18);transform:rotate(-30deg);pointer-events:none}
`,
);

/** The A4 documents' print button (an inline `onclick` would need `'unsafe-inline'`). */
export const printScript = asset(
  "print.js",
  `for (const b of document.querySelectorAll("button[data-print]")) b.addEventListener("click", () => window.print());
`,
);

/**
 * The tab icon, a red square with 通: without one, browsers fetch /favicon.ico on every first
 * visit and log its 404 as an error on the page.
 */
export const favicon = asset(
  "favicon.svg",
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#b71c1c"/><text x="16" y="23" font-size="20" text-anchor="middle" fill="#fff" font-family="sans-serif">通</text></svg>
`,
);

/** What `page` and `a4Document` link to: every shell serves these. */
export const LAYOUT_ASSETS = [siteCss, a4Css, printScript, favicon] as const;

/** A complete page with the site header. */
export function page(title: string, body: Body, opts: { nav?: Body } = {}) {
  return html`<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title>${styleTag(siteCss)}<link rel="icon" href="${favicon.href}"></head>
<body>
<header class="top"><span class="brand">通办 · 政务服务</span>${opts.nav ?? ""}</header>
<main>${body}</main>
</body></html>`;
}

/** A printable A4 document without the site chrome; `revoked` marks every sheet of it as withdrawn. */
export function a4Document(title: string, body: Body, opts: { revoked?: boolean } = {}) {
  return html`<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>${title}</title>
${styleTag(a4Css)}<link rel="icon" href="${favicon.href}"></head>
<body><div class="sheet${opts.revoked ? " is-revoked" : ""}">${body}
<p class="noprint"><button type="button" data-print>打印</button></p></div>${scriptTag(printScript)}</body></html>`;
}
