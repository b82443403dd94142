/**
 * Signed electronic approvals (电子证照 / 电子印章), delegations for township nodes, the signed
 * revocation list, and the one verification routine every verifier runs: the city's API and page,
 * the node, and the offline command-line tool. Pure: jose over Web Crypto, no I/O.
 */
import {
  calculateJwkThumbprint,
  compactVerify,
  decodeJwt,
  decodeProtectedHeader,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
} from "jose";
import { maskIdNumber } from "./codes.js";
import { localDate } from "./time.js";

export const APPROVAL_TYP = "tongban-approval+jwt";
export const DELEGATION_TYP = "tongban-delegation+jwt";
export const REVOCATIONS_TYP = "tongban-revocations+jwt";
/** How long an approval is valid unless the city configures otherwise (five years). */
export const DEFAULT_APPROVAL_VALID_DAYS = 1825;
/** The only algorithm any Tongban document may be signed with. */
export const SIGNING_ALG = "EdDSA";

// ---------------------------------------------------------------------------------------------
// GB/T 36904 licence identifiers

const MOD36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** ISO/IEC 7064 MOD 37,36 (hybrid) check character over the alphanumerics of `s` (other characters are skipped). */
export function mod37_36(s: string): string {
  const M = 36;
  let p = M;
  for (const ch of s.toUpperCase()) {
    const v = MOD36.indexOf(ch);
    if (v < 0) continue;
    let t = (p + v) % M;
    if (t === 0) t = M;
    p = (t * 2) % (M + 1);
  }
  return MOD36[(M + 1 - p) % M]!;
}

export const LICENCE_OID_PREFIX = "1.2.156.3005.2";

/**
 * An electronic licence identifier in the GB/T 36904 shape:
 * `1.2.156.3005.2.<type>.<issuer>.<serial>.<version>.<check>`.
 */
export function licenceId(parts: { type: string; issuer: string; serial: string; version: string }): string {
  const body = `${LICENCE_OID_PREFIX}.${parts.type}.${parts.issuer}.${parts.serial}.${parts.version}`;
  return `${body}.${mod37_36(body)}`;
}

/** Whether a string is a well-formed licence identifier with the right check character. */
export function isValidLicenceId(id: string): boolean {
  const m = /^1\.2\.156\.3005\.2\.([0-9A-Z]+)\.([0-9A-Z]{18})\.([0-9A-Z]+)\.(\d{3})\.([0-9A-Z])$/.exec(id);
  return m !== null && mod37_36(id.slice(0, -2)) === m[5];
}

// ---------------------------------------------------------------------------------------------
// Claims

export interface ApprovalClaims {
  /** Approval id (also the JWT `jti`). */
  jti: string;
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  caseNo: string;
  itemCode: string;
  itemName: string;
  holder: { name: string; idNumber: string };
  decision: "grant";
  department: { code: string; name: string };
  seal: string;
  /** Issue date and validity as Asia/Shanghai dates, for people. */
  issuedOn: string;
  validUntil: string;
  resultName: string;
  licenceId?: string;
  /** Present on documents a township node signed: the city's delegation for its key. */
  del?: string;
}

export interface DelegationClaims {
  jti: string;
  iss: string;
  /** The node code. */
  sub: string;
  /** The node's public key this delegation names. */
  cnf: { jwk: JWK };
  /** Item codes the node may sign. */
  items: string[];
  iat: number;
  nbf: number;
  exp: number;
}

export interface RevocationList {
  iss: string;
  iat: number;
  updatedAt: string;
  revoked: { id: string; revokedAt: string; reason: string }[];
}

/** Inputs to an approval's claims (the ID number is masked here, never signed in full). */
export function approvalClaims(input: {
  id: string;
  issuer: string;
  issuedAt: Date;
  validDays: number;
  caseNo: string;
  itemCode: string;
  itemName: string;
  holderName: string;
  holderIdNumber: string;
  department: { code: string; name: string; creditCode: string };
  resultType: string;
  resultName: string;
  basicCode: string;
  delegation?: string;
}): ApprovalClaims {
  const iat = Math.floor(input.issuedAt.getTime() / 1000);
  const exp = iat + input.validDays * 86_400;
  const day = (s: number) => localDate(new Date(s * 1000));
  const licence =
    input.resultType === "证照"
      ? licenceId({ type: input.basicCode, issuer: input.department.creditCode, serial: input.caseNo.replace(/[^0-9A-Z]/g, ""), version: "001" })
      : undefined;
  return {
    jti: input.id,
    iss: input.issuer,
    iat,
    nbf: iat,
    exp,
    caseNo: input.caseNo,
    itemCode: input.itemCode,
    itemName: input.itemName,
    holder: { name: input.holderName, idNumber: maskIdNumber(input.holderIdNumber) },
    decision: "grant",
    department: { code: input.department.code, name: input.department.name },
    seal: `${input.department.name}行政审批专用章`,
    issuedOn: day(iat),
    validUntil: day(exp),
    resultName: input.resultName,
    ...(licence ? { licenceId: licence } : {}),
    ...(input.delegation ? { del: input.delegation } : {}),
  };
}

/**
 * The payload of an `approval-issued` event: what a database files about a document, every value
 * taken from the document itself (the city checks a pushed one against exactly this).
 */
export function approvalIssuedPayload(claims: ApprovalClaims, token: string, kid: string, issuer: string, at: string) {
  return {
    id: claims.jti,
    token,
    kid,
    issuer,
    licenceId: claims.licenceId ?? null,
    issuedAt: new Date(claims.iat * 1000).toISOString(),
    expiresAt: new Date(claims.exp * 1000).toISOString(),
    at,
  };
}

/** Signs claims as a compact JWS with `kid`. */
export async function signClaims(claims: object, key: CryptoKey, kid: string, typ: string): Promise<string> {
  return new SignJWT({ ...(claims as Record<string, unknown>) }).setProtectedHeader({ alg: SIGNING_ALG, kid, typ }).sign(key);
}

/**
 * The ids a revocation of this document may be filed under: its own, and that of the delegation it
 * carries (a document a node signed). Read without verifying — only to look revocations up.
 */
export function revocableIds(token: string): string[] {
  try {
    const claims = decodeJwt(token) as Partial<ApprovalClaims>;
    const ids = typeof claims.jti === "string" ? [claims.jti] : [];
    if (typeof claims.del === "string") {
      const d = decodeJwt(claims.del) as Partial<DelegationClaims>;
      if (typeof d.jti === "string") ids.push(d.jti);
    }
    return ids;
  } catch {
    return [];
  }
}

/** The kid a node key signs under: `node:<code>:<thumbprint>`. */
export async function nodeKid(code: string, publicJwk: JWK): Promise<string> {
  return `node:${code}:${await calculateJwkThumbprint(publicJwk)}`;
}

// ---------------------------------------------------------------------------------------------
// Verification

export type VerifyCode =
  | "ok"
  | "malformed"
  | "alg_not_allowed"
  | "wrong_type"
  | "unknown_kid"
  | "bad_signature"
  | "not_yet_valid"
  | "expired"
  | "delegation_invalid"
  | "delegation_wrong_key"
  | "delegation_case"
  | "delegation_revoked"
  | "delegation_item"
  | "delegation_expired"
  | "revoked";

export interface VerifyResult {
  valid: boolean;
  status: "valid" | "invalid" | "revoked";
  code: VerifyCode;
  reason: string;
  claims: ApprovalClaims | null;
  /** Who signed: the city key's kid, or the node and the delegation that vouches for it. */
  signer: { kind: "city"; kid: string } | { kind: "node"; node: string; kid: string; delegationKid: string } | null;
}

const REASONS: Record<VerifyCode, string> = {
  ok: "签名有效，文书真实",
  malformed: "不是有效的电子文书（格式错误）",
  alg_not_allowed: "签名算法不被接受（只接受 EdDSA）",
  wrong_type: "不是电子审批文书",
  unknown_kid: "签名密钥不是本中心公布的密钥",
  bad_signature: "签名校验失败，文书内容可能被篡改",
  not_yet_valid: "文书尚未生效",
  expired: "文书已过有效期",
  delegation_invalid: "乡镇节点的授权书无效（不是本中心签发或已被篡改）",
  delegation_wrong_key: "授权书授权的不是签署本文书的节点密钥",
  delegation_case: "文书的办件不是被授权节点受理的办件",
  delegation_revoked: "签发本文书的节点授权已被撤销",
  delegation_item: "授权书不包含该事项",
  delegation_expired: "签发时授权书不在有效期内",
  revoked: "文书已被撤销",
};

const result = (code: VerifyCode, claims: ApprovalClaims | null = null, signer: VerifyResult["signer"] = null, detail?: string): VerifyResult => ({
  valid: code === "ok",
  status: code === "ok" ? "valid" : code === "revoked" ? "revoked" : "invalid",
  code,
  reason: detail ? `${REASONS[code]}：${detail}` : REASONS[code],
  claims,
  signer,
});

async function keyFor(jwks: JSONWebKeySet, kid: string): Promise<CryptoKey | null> {
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (!jwk || jwk.kty !== "OKP" || jwk.crv !== "Ed25519") return null;
  return (await importJWK({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, SIGNING_ALG)) as CryptoKey;
}

function header(token: string): { alg?: string; kid?: string; typ?: string } | null {
  if (typeof token !== "string" || token.split(".").length !== 3) return null;
  try {
    return decodeProtectedHeader(token) as { alg?: string; kid?: string; typ?: string };
  } catch {
    return null;
  }
}

async function verifySignature(token: string, key: CryptoKey): Promise<Record<string, unknown> | null> {
  try {
    const { payload } = await compactVerify(token, key, { algorithms: [SIGNING_ALG] });
    return JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** Seconds since the epoch that a Date can print (up to the year 9999). */
const isEpochSeconds = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= 253_402_300_799;
const isText = (v: unknown) => typeof v === "string";
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether signed claims have every member an approval has, of the right type (a signature says nothing about shape). */
function looksLikeApproval(c: Record<string, unknown>): c is ApprovalClaims & Record<string, unknown> {
  return (
    isText(c.jti) &&
    isText(c.iss) &&
    isEpochSeconds(c.iat) &&
    isEpochSeconds(c.exp) &&
    (c.nbf === undefined || isEpochSeconds(c.nbf)) &&
    isText(c.caseNo) &&
    isText(c.itemCode) &&
    isText(c.itemName) &&
    c.decision === "grant" &&
    isRecord(c.holder) &&
    isText(c.holder.name) &&
    isText(c.holder.idNumber) &&
    isRecord(c.department) &&
    isText(c.department.code) &&
    isText(c.department.name) &&
    isText(c.seal) &&
    isText(c.issuedOn) &&
    isText(c.validUntil) &&
    isText(c.resultName) &&
    (c.licenceId === undefined || isText(c.licenceId)) &&
    (c.del === undefined || isText(c.del))
  );
}

/** What a verifier knows: the city's published keys, its revocation list, and the time. */
export interface VerifyContext {
  jwks: JSONWebKeySet;
  /** Revoked documents by id: approvals, and delegations (revoking one voids what its node signed). */
  revoked: ReadonlyMap<string, { reason: string; revokedAt: string }>;
  now: Date;
}

/**
 * Verifies an approval: the algorithm, the signing key (a city key, or a node key named by a
 * city-signed delegation covering the item and valid when the document was issued), the
 * signature, validity and revocation. Never throws; every failure has a specific reason.
 */
export async function verifyApproval(token: string, ctx: VerifyContext): Promise<VerifyResult> {
  const h = header(token);
  if (!h) return result("malformed");
  if (h.alg !== SIGNING_ALG) return result("alg_not_allowed", null, null, `收到 ${String(h.alg)}`);
  if (h.typ !== APPROVAL_TYP) return result("wrong_type");
  if (typeof h.kid !== "string") return result("unknown_kid");

  let claims: Record<string, unknown> | null;
  let signer: VerifyResult["signer"];
  const cityKey = await keyFor(ctx.jwks, h.kid);
  if (cityKey) {
    claims = await verifySignature(token, cityKey);
    if (!claims) return result("bad_signature");
    signer = { kind: "city", kid: h.kid };
  } else if (h.kid.startsWith("node:")) {
    // A township document: trust flows only from a city-signed delegation carried inside it.
    let unverified: Record<string, unknown>;
    try {
      unverified = decodeJwt(token) as Record<string, unknown>;
    } catch {
      return result("malformed");
    }
    const del = unverified.del;
    if (typeof del !== "string") return result("unknown_kid");
    const dh = header(del);
    if (!dh || dh.alg !== SIGNING_ALG || dh.typ !== DELEGATION_TYP || typeof dh.kid !== "string") return result("delegation_invalid");
    const delegatorKey = await keyFor(ctx.jwks, dh.kid);
    if (!delegatorKey) return result("delegation_invalid", null, null, "授权书的签名密钥不是本中心公布的密钥");
    const d = (await verifySignature(del, delegatorKey)) as (DelegationClaims & Record<string, unknown>) | null;
    if (!d || typeof d.sub !== "string" || !Array.isArray(d.items) || typeof d.cnf?.jwk !== "object") return result("delegation_invalid");
    if ((await nodeKid(d.sub, d.cnf.jwk)) !== h.kid) return result("delegation_wrong_key");
    let nodeKey: CryptoKey;
    try {
      nodeKey = (await importJWK({ kty: d.cnf.jwk.kty, crv: d.cnf.jwk.crv, x: d.cnf.jwk.x }, SIGNING_ALG)) as CryptoKey;
    } catch {
      return result("delegation_invalid");
    }
    claims = await verifySignature(token, nodeKey);
    if (!claims) return result("bad_signature");
    if (claims.del !== del) return result("bad_signature");
    signer = { kind: "node", node: d.sub, kid: h.kid, delegationKid: dh.kid };
    if (!looksLikeApproval(claims)) return result("malformed");
    if (!d.items.includes(claims.itemCode)) return result("delegation_item", claims, signer, claims.itemCode);
    // A node numbers its own cases with its code: its key cannot vouch for anyone else's.
    if (!claims.caseNo.startsWith(`${d.sub}-`)) return result("delegation_case", claims, signer, claims.caseNo);
    const delRevoked = typeof d.jti === "string" ? ctx.revoked.get(d.jti) : undefined;
    if (delRevoked) return { ...result("delegation_revoked", claims, signer, `${delRevoked.revokedAt.slice(0, 10)}：${delRevoked.reason}`), status: "revoked" };
    if (typeof d.nbf !== "number" || typeof d.exp !== "number" || claims.iat < d.nbf || claims.iat > d.exp) {
      return result("delegation_expired", claims, signer);
    }
  } else {
    return result("unknown_kid");
  }

  if (!looksLikeApproval(claims)) return result("malformed");
  const now = Math.floor(ctx.now.getTime() / 1000);
  if (typeof claims.nbf === "number" && now < claims.nbf - 300) return result("not_yet_valid", claims, signer);
  if (now > claims.exp) return result("expired", claims, signer, `有效期至 ${claims.validUntil}`);
  const revoked = ctx.revoked.get(claims.jti);
  if (revoked) return result("revoked", claims, signer, `${revoked.revokedAt.slice(0, 10)}：${revoked.reason}`);
  return result("ok", claims, signer);
}

/** Verifies a signed revocation list against the city's keys; null when it is not genuine. */
export async function verifyRevocationList(token: string, jwks: JSONWebKeySet): Promise<RevocationList | null> {
  const h = header(token);
  if (!h || h.alg !== SIGNING_ALG || h.typ !== REVOCATIONS_TYP || typeof h.kid !== "string") return null;
  const key = await keyFor(jwks, h.kid);
  if (!key) return null;
  const body = await verifySignature(token, key);
  if (!body || !Array.isArray(body.revoked)) return null;
  return body as unknown as RevocationList;
}
