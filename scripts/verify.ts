/**
 * `npm run verify -- <token> --jwks <file> [--revocations <file>] [--at <ISO time>]`
 * The offline verifier: the same checks as the city's /api/verify, with nothing but the city's
 * published keys (and, if given, its signed revocation list). Exit 0 valid, 1 invalid or revoked, 2 usage.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { JSONWebKeySet } from "jose";
import { verifyApproval, verifyRevocationList } from "../domain/approval.js";

const LABEL = { valid: "有效", invalid: "无效", revoked: "已撤销" } as const;

function fail(msg: string): never {
  console.error(msg);
  console.error("用法：npm run verify -- <文书或含文书的文件> --jwks <jwks.json> [--revocations <revocations.json>] [--at <时间>] [--json]");
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { jwks: { type: "string" }, revocations: { type: "string" }, at: { type: "string" }, json: { type: "boolean" } },
});
const input = positionals[0];
if (!input || !values.jwks) fail("缺少文书或 --jwks");
let token = input;
try {
  token = readFileSync(input, "utf8").trim();
} catch {
  /* the argument is the token itself */
}
// A scanned QR code holds the verify link: the token is its fragment.
if (token.includes("#")) token = decodeURIComponent(token.slice(token.indexOf("#") + 1));

let jwks: JSONWebKeySet;
try {
  jwks = JSON.parse(readFileSync(values.jwks, "utf8")) as JSONWebKeySet;
  if (!Array.isArray(jwks.keys)) throw new Error("没有 keys");
} catch (err) {
  fail(`无法读取公钥文件 ${values.jwks}：${(err as Error).message}`);
}
const revoked = new Map<string, { reason: string; revokedAt: string }>();
let listNote = "未提供撤销列表：无法确认文书是否已被撤销";
if (values.revocations) {
  let raw: string;
  try {
    raw = readFileSync(values.revocations, "utf8").trim();
  } catch (err) {
    fail(`无法读取撤销列表 ${values.revocations}：${(err as Error).message}`);
  }
  const listToken = raw.startsWith("{") ? String((JSON.parse(raw) as { token?: unknown }).token ?? "") : raw;
  const list = await verifyRevocationList(listToken, jwks);
  if (!list) fail(`撤销列表 ${values.revocations} 不是本中心签发的（签名无效），拒绝使用`);
  for (const r of list.revoked) revoked.set(r.id, { reason: r.reason, revokedAt: r.revokedAt });
  listNote = `撤销列表更新于 ${list.updatedAt}，共 ${list.revoked.length} 条`;
}
const now = values.at ? new Date(values.at) : new Date();
if (Number.isNaN(now.getTime())) fail(`--at 不是有效时间：${values.at}`);
const r = await verifyApproval(token, { jwks, revoked, now });
if (values.json) {
  console.log(JSON.stringify(r, null, 2));
} else {
  console.log(`结论：${LABEL[r.status]}（${r.code}）`);
  console.log(`说明：${r.reason}`);
  if (r.claims) {
    console.log(`事项：${r.claims.itemName}（${r.claims.itemCode}）`);
    console.log(`持有人：${r.claims.holder.name}（${r.claims.holder.idNumber}）`);
    console.log(`办件编号：${r.claims.caseNo}；发证机关：${r.claims.department.name}；印章：${r.claims.seal}`);
    console.log(`签发：${r.claims.issuedOn}；有效期至：${r.claims.validUntil}${r.claims.licenceId ? `；证照标识：${r.claims.licenceId}` : ""}`);
  }
  if (r.signer) console.log(`签发方：${r.signer.kind === "city" ? `市级中心（密钥 ${r.signer.kid}）` : `乡镇节点 ${r.signer.node}（经市级授权，授权密钥 ${r.signer.delegationKid}）`}`);
  console.log(listNote);
}
process.exit(r.valid ? 0 : 1);
