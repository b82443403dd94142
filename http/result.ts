/** The applicant's download of a signed result: JSON for programs, a printable A4 page with a QR code for people. */
import { Hono } from "hono";
import { html, raw } from "hono/html";
import { decodeJwt } from "jose";
import { encode } from "uqr";
import { z } from "zod";
import type { ApprovalClaims } from "../domain/approval.js";
import { formatDateZh, formatLocal } from "../domain/time.js";
import { getCase } from "../store/cases.js";
import { approvalForCase, revocationOf } from "../store/approvals.js";
import { caseNoParam, queryCodeSchema } from "./cases.js";
import { AppError } from "./errors.js";
import type { CaseEnv } from "./env.js";
import { a4Document } from "./layout.js";
import { zv } from "./validate.js";
import { queryCodeGuard } from "./lookup-guard.js";

/**
 * A QR code as one SVG path, horizontal runs of dark modules merged: a few KB where a rect per
 * module (uqr's own renderer) makes a 200 KB page for a token-sized code.
 */
export function qrSvg(text: string): string {
  const { data, size } = encode(text, { ecc: "L", border: 2 });
  let d = "";
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; ) {
      if (!data[y]![x]) {
        x++;
        continue;
      }
      const start = x;
      while (x < size && data[y]![x]) x++;
      d += `M${start} ${y}h${x - start}v1h-${x - start}z`;
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="56mm" height="56mm" shape-rendering="crispEdges" role="img" aria-label="验证二维码"><rect width="${size}" height="${size}" fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
}

/** A red round seal drawn in SVG with the seal's name around its edge. */
function sealSvg(name: string) {
  return html`<svg class="seal" viewBox="0 0 200 200" width="42mm" height="42mm" aria-label="${name}">
<circle cx="100" cy="100" r="92" fill="none" stroke="#d22" stroke-width="6"/>
<path id="arc" d="M 28 112 A 72 72 0 1 1 172 112" fill="none"/>
<text font-size="17" fill="#d22" font-family="serif"><textPath href="#arc" startOffset="50%" text-anchor="middle">${name}</textPath></text>
<text x="100" y="118" font-size="46" fill="#d22" text-anchor="middle">★</text>
<text x="100" y="160" font-size="13" fill="#d22" text-anchor="middle">电子印章</text></svg>`;
}

/** A document's revocation, as the download shows it. */
export type Revocation = { reason: string; revokedAt: string };

/**
 * The printable result: decision, holder (ID masked), seal and a QR code of the verify link with
 * the token. A revoked document is still shown (the holder must be able to see what was withdrawn),
 * marked 已撤销 with the reason on every sheet.
 */
export function resultPage(claims: ApprovalClaims, token: string, verifyUrl: string, revoked: Revocation | null = null) {
  const link = `${verifyUrl}#${token}`;
  // A document too long for a QR code (a long delegation) gets one of the verify page alone: the
  // page takes the document pasted from the text below. Never a 500 for a document we signed.
  let qr: string;
  let qrNote = `扫码或在 ${verifyUrl} 粘贴文书验证真伪；也可用本中心公布的公钥离线核验。`;
  try {
    qr = qrSvg(link);
  } catch {
    qr = qrSvg(verifyUrl);
    qrNote = `文书较长，二维码只含验证页地址：请打开 ${verifyUrl} 粘贴下方“电子文书”全文验证。`;
  }
  return a4Document(
    `${claims.resultName} ${claims.caseNo}`,
    html`${revoked ? html`<div class="revoked"><strong>已撤销</strong>　本文书已于 ${formatLocal(revoked.revokedAt)} 被撤销，不再有效。撤销理由：${revoked.reason}</div>` : ""}<h1>准予行政许可决定书</h1>
<p class="no">办件编号：${claims.caseNo}${claims.licenceId ? html`<br>证照标识：${claims.licenceId}` : ""}</p>
<p>${claims.holder.name}（公民身份号码 ${claims.holder.idNumber}）：</p>
<p>你申请的“${claims.itemName}”（事项编码 ${claims.itemCode}），经审查，符合法定条件和标准，<strong>决定准予</strong>，颁发《${claims.resultName}》。</p>
<table>
<tr><th>决定</th><td>准予</td></tr>
<tr><th>办理结果</th><td>${claims.resultName}</td></tr>
<tr><th>发证机关</th><td>${claims.department.name}</td></tr>
<tr><th>签发日期</th><td>${formatDateZh(claims.issuedOn)}</td></tr>
<tr><th>有效期至</th><td>${formatDateZh(claims.validUntil)}</td></tr>
<tr><th>文书编号</th><td class="small">${claims.jti}</td></tr>
</table>
<div class="result-foot">
<div class="qr-box"><div class="qr">${raw(qr)}</div><p class="small">${qrNote}</p></div>
<div class="sign">${sealSvg(claims.seal)}<br>${claims.department.name}<br>${formatDateZh(claims.issuedOn)}</div>
</div>
<details class="small"><summary>电子文书（JWS）</summary><code class="token">${token}</code></details>`,
    { revoked: revoked !== null },
  );
}

const queryParam = z.object({ queryCode: queryCodeSchema });

/** `GET /api/cases/:caseNo/result?queryCode=`: public, guarded by the receipt's query code. */
export function resultRoutes() {
  return new Hono<CaseEnv>().get("/api/cases/:caseNo/result", zv("param", caseNoParam), zv("query", queryParam), queryCodeGuard("api", "result"), async (c) => {
    const { caseNo } = c.req.valid("param");
    const { queryCode } = c.req.valid("query");
    const kase = await getCase(c.var.db, caseNo);
    // The same answer for an unknown case and a wrong code: a query code must not confirm that a case exists.
    if (!kase || kase.queryCode !== queryCode) {
      throw new AppError("forbidden", "办件编号或查询码不正确", { field: "queryCode" });
    }
    if (kase.decision !== "grant" || (kase.state !== "decided" && kase.state !== "delivered")) {
      throw new AppError("invalid_state", "本件尚未作出准予决定，没有可下载的电子文书", { state: kase.state, decision: kase.decision });
    }
    const approval = (await approvalForCase(c.var.db, caseNo)) ?? (await c.var.issueApproval?.(caseNo)) ?? null;
    if (!approval) throw new AppError("invalid_state", "电子文书尚未签发，请稍后再试或到窗口领取", { state: kase.state });
    let claims: ApprovalClaims;
    try {
      claims = decodeJwt(approval.token) as unknown as ApprovalClaims;
    } catch {
      throw new AppError("conflict", "电子文书已损坏，请到窗口处理", { approvalId: approval.id });
    }
    // A revoked document (or one whose delegation was revoked) is served as what it is now.
    const revocation = await revocationOf(c.var.db, approval);
    const revoked = revocation ? { reason: revocation.reason, revokedAt: revocation.revokedAt } : null;
    const wantsJson = (c.req.header("accept") ?? "").includes("application/json");
    if (wantsJson) return c.json({ id: approval.id, token: approval.token, claims, issuer: approval.issuer, status: revoked ? "revoked" : "valid", revoked });
    return c.html(resultPage(claims, approval.token, c.var.verifyUrl, revoked));
  });
}
