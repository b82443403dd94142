/** The city's side of signed approvals: keys, issuing, verifying, revoking, delegating to nodes. */
import { Hono } from "hono";
import { html } from "hono/html";
import { eq } from "drizzle-orm";
import { importJWK, type CryptoKey } from "jose";
import { z } from "zod";
import { nodes } from "../schema/tables.js";
import { APPROVAL_TYP, DELEGATION_TYP, REVOCATIONS_TYP, signClaims, type DelegationClaims } from "../domain/approval.js";
import { CITY_ORIGIN, ORIGIN_CODE_PATTERN } from "../domain/case-number.js";
import { parseItemCode } from "../domain/codes.js";
import { approvalById, approvalForCase, caseHistoryProblem, delegationById, issueApproval, revokeApproval, revokedApprovals, storeDelegation, verifyHere, type ApprovalRow } from "../store/approvals.js";
import { AppError } from "../http/errors.js";
import { scriptTag } from "../http/assets.js";
import { page } from "../http/layout.js";
import { jsonBody, zv } from "../http/validate.js";
import type { Db } from "../store/db.js";
import { principal, requires } from "../http/auth.js";
import { actorOf } from "../domain/principal.js";
import type { CityConfig, CityEnv } from "./env.js";
import { verifyScript } from "./verify-script.js";

const keys = new WeakMap<object, Promise<CryptoKey>>();

/** The city's current private signing key, imported once per isolate. */
export function signingKey(config: CityConfig): Promise<CryptoKey> {
  let key = keys.get(config);
  if (!key) keys.set(config, (key = importJWK(config.signing.privateJwk, "EdDSA") as Promise<CryptoKey>));
  return key;
}

/** Issues a city-signed approval for a case (once). */
export async function issueCityApproval(db: Db, config: CityConfig, caseNo: string, issuer: string, actor: string, at: Date): Promise<ApprovalRow | null> {
  const existing = await approvalForCase(db, caseNo);
  if (existing) return existing;
  // The city signs only what its own rules accept, whatever a node's events claimed.
  const problem = await caseHistoryProblem(db, caseNo, CITY_ORIGIN);
  if (problem) {
    console.warn("refused to sign a result", caseNo, problem);
    throw new AppError("unverified_history", `本件的办理记录未通过市级核验（${problem}），不能签发电子文书，请联系受理窗口`, { caseNo });
  }
  const key = await signingKey(config);
  return issueApproval(db, caseNo, {
    origin: CITY_ORIGIN,
    actor,
    at,
    issuer,
    validDays: config.signing.validDays,
    sign: async (claims) => ({ token: await signClaims(claims, key, config.signing.kid, APPROVAL_TYP), kid: config.signing.kid }),
  });
}

/** A date-time within the years every instant of the platform lies in. */
const inYears = (s: string) => {
  const y = new Date(s).getUTCFullYear();
  return y >= 2000 && y <= 2199;
};

/** Items one delegation may cover (with more, a node-signed document no longer fits a QR code). */
export const MAX_DELEGATED_ITEMS = 20;

const revokeSchema = z.object({ reason: z.string().trim().min(1, "请填写撤销理由").max(500) });
const delegationSchema = z
  .object({
    // A node's document carries its delegation, and the whole document must fit a QR code's verify link.
    items: z.array(z.string().regex(/^[0-9A-Z]{31}$/, "事项编码应为31位")).min(1, "至少授权一个事项").max(MAX_DELEGATED_ITEMS, `一份授权至多${MAX_DELEGATED_ITEMS}个事项`),
    validFrom: z.iso.datetime({ offset: true }).refine(inYears, "validFrom 应在 2000–2199 年之间").optional(),
    validUntil: z.iso.datetime({ offset: true, message: "validUntil 应为带时区的 ISO 8601 时间" }).refine(inYears, "validUntil 应在 2000–2199 年之间"),
  })
  .refine((d) => d.items.every((i) => parseItemCode(i) !== null), { message: "包含无效的事项编码", path: ["items"] });

/** `/.well-known/jwks.json`, `/api/verify`, `/verify`, revocations, delegations. */
export function approvalRoutes() {
  return new Hono<CityEnv>()
    .get("/.well-known/jwks.json", (c) => {
      c.header("Cache-Control", "public, max-age=300");
      return c.json(c.var.config.signing.jwks);
    })
    .post("/api/verify", jsonBody(z.object({ token: z.string().trim().min(1, "请提供要验证的文书").max(20_000) })), async (c) => {
      const r = await verifyHere(c.var.db, c.req.valid("json").token, c.var.config.signing.jwks, c.var.now());
      return c.json(r);
    })
    .get("/verify", (c) =>
      c.html(
        page(
          "电子文书验证",
          html`<h1>电子证照 / 审批文书验证</h1>
<p class="muted">扫描文书上的二维码会自动打开本页；也可以把文书（JWS）粘贴到下面。验证只需本中心公布的公钥，也可离线核验。</p>
<textarea id="token" rows="6" class="full-width" placeholder="eyJhbGciOiJFZERTQSIs…"></textarea>
<p><button id="go">验证</button></p><div id="out"></div>
${scriptTag(verifyScript)}`,
          { nav: html`<a href="/">事项目录</a> <a href="/verify">文书验证</a>` },
        ),
      ),
    )
    .get("/api/approvals/revocations", async (c) => {
      // Signed, so an offline verifier can trust a copy it was handed on a USB stick.
      const revoked = await revokedApprovals(c.var.db);
      const list = [...revoked].map(([id, r]) => ({ id, revokedAt: r.revokedAt, reason: r.reason }));
      const updatedAt = list.reduce((m, r) => (r.revokedAt > m ? r.revokedAt : m), "1970-01-01T00:00:00.000Z");
      const now = c.var.now();
      const token = await signClaims(
        { iss: new URL(c.req.url).origin, iat: Math.floor(now.getTime() / 1000), updatedAt, revoked: list },
        await signingKey(c.var.config),
        c.var.config.signing.kid,
        REVOCATIONS_TYP,
      );
      return c.json({ token, updatedAt, revoked: list });
    })
    .post("/api/admin/approvals/:id/revoke", requires("approval.revoke"), zv("param", z.object({ id: z.uuid("文书编号格式不正确") })), jsonBody(revokeSchema), async (c) => {
      const { id } = c.req.valid("param");
      const approval = await approvalById(c.var.db, id);
      if (!approval) throw new AppError("not_found", `文书 ${id} 不存在`, { approvalId: id });
      const row = await revokeApproval(c.var.db, id, c.req.valid("json").reason, actorOf(principal(c)), c.var.now());
      return c.json({ id, caseNo: approval.caseNo, revokedAt: row.revokedAt, reason: row.reason });
    })
    .post("/api/admin/delegations/:id/revoke", requires("node.manage"), zv("param", z.object({ id: z.uuid("授权书编号格式不正确") })), jsonBody(revokeSchema), async (c) => {
      const { id } = c.req.valid("param");
      const delegation = await delegationById(c.var.db, id);
      if (!delegation) throw new AppError("not_found", `授权书 ${id} 不存在`, { delegationId: id });
      const row = await revokeApproval(c.var.db, id, c.req.valid("json").reason, actorOf(principal(c)), c.var.now());
      return c.json({ id, node: delegation.node, revokedAt: row.revokedAt, reason: row.reason });
    })
    .post(
      "/api/admin/nodes/:code/delegation",
      requires("node.manage"),
      zv("param", z.object({ code: z.string().regex(ORIGIN_CODE_PATTERN, "节点编码格式不正确") })),
      jsonBody(delegationSchema),
      async (c) => {
        const { code } = c.req.valid("param");
        const body = c.req.valid("json");
        const [node] = await c.var.db.select().from(nodes).where(eq(nodes.code, code)).limit(1);
        if (!node?.publicJwk) throw new AppError("not_found", `节点 ${code} 未登记`, { node: code });
        if (node.revokedAt) throw new AppError("conflict", `节点 ${code} 已被撤销，不能授权`, { node: code });
        const now = c.var.now();
        const from = body.validFrom ? new Date(body.validFrom) : now;
        const until = new Date(body.validUntil);
        if (until <= from) throw new AppError("validation_failed", "validUntil 必须晚于 validFrom", { field: "validUntil" });
        const claims: DelegationClaims = {
          jti: crypto.randomUUID(),
          iss: new URL(c.req.url).origin,
          sub: code,
          cnf: { jwk: { kty: "OKP", crv: "Ed25519", x: node.publicJwk.x } },
          items: [...new Set(body.items)],
          iat: Math.floor(now.getTime() / 1000),
          nbf: Math.floor(from.getTime() / 1000),
          exp: Math.floor(until.getTime() / 1000),
        };
        const token = await signClaims(claims, await signingKey(c.var.config), c.var.config.signing.kid, DELEGATION_TYP);
        const row = { id: claims.jti, node: code, token, items: claims.items, validFrom: from.toISOString(), validUntil: until.toISOString(), issuedAt: now.toISOString() };
        await storeDelegation(c.var.db, row);
        return c.json(row, 201);
      },
    );
}
