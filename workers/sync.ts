/** The city's sync endpoints: signed push (and heartbeat) and signed pull from enrolled nodes. */
import { Hono, type Context } from "hono";
import type { JSONWebKeySet, JWK } from "jose";
import { approvalIssuedPayload, DEFAULT_APPROVAL_VALID_DAYS, revocableIds, verifyApproval } from "../domain/approval.js";
import type { ChainedEvent } from "../domain/events.js";
import { MAX_CLOCK_SKEW_MS } from "../domain/sync-protocol.js";
import { payloadDifference } from "../domain/recheck.js";
import type { CaseSnapshot } from "../domain/lifecycle.js";
import { approvalById, approvalClaimsFor, approvalForCase, revocationsAmong } from "../store/approvals.js";
import type { AcceptedEvent } from "../domain/ingest.js";
import type { Db } from "../store/db.js";
import { eq } from "drizzle-orm";
import type { z } from "zod";
import { nodes } from "../schema/tables.js";
import { MAX_MESSAGE_AGE_MS, pullPayloadSchemas, pushPayloadSchemas, SIGNATURE_HEADER } from "../domain/sync-protocol.js";
import { CITY_MIN_PROTOCOL_VERSION, cityAccepts, cityRefusal, PROTOCOL_VERSION, type ProtocolVersion } from "../domain/protocol-versions.js";
import { claimPull, ingestPush } from "../store/sync.js";
import { buildPull } from "../store/pull-feed.js";
import { AppError } from "../http/errors.js";
import { validationError } from "../http/validate.js";
import type { CityEnv } from "./env.js";
import { detachedJws, splitCompactJws, verifyNodeSignature } from "./node-jws.js";

const MAX_BODY = 4 * 1024 * 1024;

/**
 * Verifies a node-signed compact JWS and parses its payload with the schema of the protocol
 * version it states (any the city still speaks); throws the precise problem.
 */
async function verifyNodeMessage<M extends Readonly<Record<ProtocolVersion, z.ZodType>>>(c: Context<CityEnv>, schemas: M): Promise<{ node: string; payload: z.output<M[ProtocolVersion]> }> {
  const declared = Number(c.req.header("content-length") ?? 0);
  if (declared > MAX_BODY) throw new AppError("invalid_batch", `批次过大（${declared} 字节，上限 ${MAX_BODY}）`, { field: "body" });
  let body: Uint8Array;
  try {
    body = new Uint8Array(await c.req.arrayBuffer());
  } catch {
    throw new AppError("bad_request", "请求体不完整（连接中断）", { field: "body" });
  }
  if (body.byteLength > MAX_BODY) throw new AppError("invalid_batch", `批次过大（${body.byteLength} 字节，上限 ${MAX_BODY}）`, { field: "body" });
  const detached = c.req.header(SIGNATURE_HEADER);
  const jws = detached !== undefined ? detachedJws(detached, body) : splitCompactJws(body);
  if (!jws) {
    if (detached !== undefined) throw new AppError("bad_request", `${SIGNATURE_HEADER} 应为分离式 JWS 签名（protected..signature）`, { field: SIGNATURE_HEADER });
    throw new AppError("bad_request", "请求体应为节点签名的 JWS（compact serialization）", { field: "body" });
  }
  const code = typeof jws.header.kid === "string" ? jws.header.kid : "";
  const [node] = code ? await c.var.db.select().from(nodes).where(eq(nodes.code, code)).limit(1) : [];
  if (!node || !node.publicJwk) throw new AppError("unknown_node", `节点 ${code || "（未标明）"} 未在市级登记`, { node: code || null });
  if (node.revokedAt) throw new AppError("node_revoked", `节点 ${code} 已于 ${node.revokedAt} 被撤销`, { node: code, revokedAt: node.revokedAt });
  if (!(await verifyNodeSignature(node.publicJwk as JWK, jws))) {
    throw new AppError("bad_signature", `批次签名无法用节点 ${code} 登记的公钥验证`, { node: code });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(jws.payload));
  } catch {
    throw new AppError("invalid_batch", "批次内容不是 JSON", { field: "payload" });
  }
  const v = (raw as { v?: unknown })?.v;
  if (!cityAccepts(v)) {
    throw new AppError("unsupported_protocol", cityRefusal(v), {
      protocolVersion: PROTOCOL_VERSION,
      supportedVersions: { min: CITY_MIN_PROTOCOL_VERSION, max: PROTOCOL_VERSION },
      received: v ?? null,
    });
  }
  const parsed = await schemas[v].safeParseAsync(raw);
  if (!parsed.success) throw batchError(code, parsed.error.issues) ?? validationError(parsed.error.issues, "json");
  const payload = parsed.data as z.output<M[ProtocolVersion]> & { node: string; batchId: string; sentAt: string; events?: unknown[] };
  if (payload.node !== code) throw new AppError("node_mismatch", `批次声称来自 ${payload.node}，但由节点 ${code} 签名`, { node: code, claimed: payload.node });
  // A signed message is good once, and only while fresh: a captured heartbeat must not keep a
  // dead hall looking alive, nor a captured pull hand its cases to whoever replays it.
  const now = c.var.now();
  const skewMs = Date.parse(payload.sentAt) - now.getTime();
  if (Math.abs(skewMs) > MAX_MESSAGE_AGE_MS) {
    throw new AppError(
      "stale_message",
      `请求的签发时间与市级时钟相差 ${Math.round(Math.abs(skewMs) / 60_000)} 分钟，超过 ${MAX_MESSAGE_AGE_MS / 60_000} 分钟：请校准节点的系统时间后重试`,
      { node: code, sentAt: payload.sentAt, serverTime: now.toISOString(), skewMs },
    );
  }
  return { node: code, payload };
}

const replayed = (node: string, batchId: string) => new AppError("replayed_batch", `批次 ${batchId} 已处理过，拒绝重放`, { node, batchId });

/** A push whose events break the event limits: 400 `invalid_batch` naming the first such event. */
function batchError(node: string, issues: readonly z.core.$ZodIssue[]): AppError | null {
  const issue = issues.find((i) => i.path[0] === "events" && i.code === "custom" && (i as { params?: { reason?: string } }).params?.reason);
  if (!issue) return null;
  const { reason, seq } = (issue as unknown as { params: { reason: string; seq: number | null } }).params;
  const field = issue.path.slice(2).map(String).join(".");
  return new AppError("invalid_batch", `批次中序号 ${seq ?? "（无）"} 的事件不合法：${issue.message}`, { node, seq, field, reason });
}

/**
 * A node may push only approvals it signed itself, under a delegation from this city, for that
 * very case: anything else is kept in the log but flagged, and never served as the case's result.
 */
async function checkPushedApproval(db: Db, node: string, e: ChainedEvent, before: CaseSnapshot | null, earlier: readonly AcceptedEvent[], jwks: JSONWebKeySet): Promise<string | null> {
  if (e.type !== "approval-issued") return null;
  if (!before || before.decision !== "grant" || (before.state !== "decided" && before.state !== "delivered")) return "办件在市级没有准予决定，不能签发电子文书";
  const filedEarlier = earlier.some((a) => !a.conflict && a.event.type === "approval-issued" && a.event.caseNo === e.caseNo);
  if (filedEarlier || (await approvalForCase(db, e.caseNo))) return "本件已有电子文书，不再接受另一份";
  const p = e.payload as { token?: unknown; id?: unknown; issuer?: unknown };
  if (typeof p.token !== "string") return "电子文书缺失";
  // Judged as of its own issue time (a document issued under a then-valid delegation stays
  // acceptable), but against today's revocations: a revoked document is never filed as a result.
  const issuedAt = new Date(e.occurredAt);
  const r = await verifyApproval(p.token, { jwks, revoked: await revocationsAmong(db, revocableIds(p.token)), now: issuedAt });
  if (!r.valid) return `电子文书无效：${r.reason}`;
  if (r.signer?.kind !== "node" || r.signer.node !== node) return "乡镇节点只能上传本节点签发的电子文书";
  const claims = r.claims!;
  if (claims.caseNo !== e.caseNo || claims.jti !== p.id || p.issuer !== node) return "电子文书与办件不符";
  if (await approvalById(db, claims.jti)) return "电子文书编号已被另一份文书使用";
  // Issued after the case was decided, and not after the event that carries it.
  const decidedAt = before.decidedAt ? Date.parse(before.decidedAt) : Number.POSITIVE_INFINITY;
  if (claims.iat * 1000 < decidedAt - MAX_CLOCK_SKEW_MS || claims.iat * 1000 > Date.parse(e.occurredAt) + MAX_CLOCK_SKEW_MS) {
    return "电子文书的签发时间不在办结之后、上传之前";
  }
  // The document must be the one the city's own rules make for this case — every claim, not a few.
  const made = await approvalClaimsFor(db, before, { id: claims.jti, issuer: claims.iss, issuedAt: new Date(claims.iat * 1000), validDays: DEFAULT_APPROVAL_VALID_DAYS, delegation: claims.del });
  if (!made) return "事项或部门不在市级目录中，不能登记电子文书";
  const claimDiff = payloadDifference(claims as unknown as Record<string, unknown>, made as unknown as Record<string, unknown>);
  if (claimDiff) return `电子文书内容与市级按规则签发的不符：${claimDiff}`;
  // What the city files about the document is taken from the document, never from the payload beside it.
  const diff = payloadDifference(e.payload as Record<string, unknown>, approvalIssuedPayload(claims, p.token, r.signer.kid, node, e.occurredAt));
  if (diff) return `电子文书登记信息与文书本身不符：${diff}`;
  return null;
}

/** `/api/sync/push` and `/api/sync/pull`. */
export function syncRoutes() {
  return new Hono<CityEnv>()
    .post("/api/sync/push", async (c) => {
      const { node, payload } = await verifyNodeMessage(c, pushPayloadSchemas);
      const last = payload.events.at(-1);
      if (last && payload.headSeq < last.seq) {
        throw new AppError("invalid_batch", `节点报告的链头 ${payload.headSeq} 小于批次中的序号 ${last.seq}`, { node, seq: last.seq, field: "headSeq", reason: "head_behind_batch" });
      }
      const jwks = c.var.config.signing.jwks;
      const res = await ingestPush(c.var.db, node, payload, c.var.now(), (e, before, earlier) => checkPushedApproval(c.var.db, node, e, before, earlier, jwks));
      switch (res.kind) {
        case "ok":
          return c.json(res.response);
        case "gap":
          throw new AppError("sync_gap", `市级已确认到 ${res.ackedSeq}，批次从 ${res.firstSeq} 开始，请从 ${res.ackedSeq + 1} 重发`, {
            node,
            ackedSeq: res.ackedSeq,
            chainHead: res.chainHead,
            firstSeq: res.firstSeq,
          });
        case "replayed":
          throw replayed(node, payload.batchId);
        case "invalid":
          throw new AppError("invalid_batch", `批次在序号 ${res.seq} 处不合法：${res.reason}`, { node, seq: res.seq, reason: res.reason });
      }
    })
    .post("/api/sync/pull", async (c) => {
      const { node, payload } = await verifyNodeMessage(c, pullPayloadSchemas);
      if (!(await claimPull(c.var.db, node, payload, c.var.now()))) throw replayed(node, payload.batchId);
      const accountsSnapshot = payload.v >= 2 && "accountsSnapshot" in payload && payload.accountsSnapshot === true;
      return c.json(await buildPull(c.var.db, node, { v: payload.v, cursor: payload.cursor, limit: payload.limit ?? 1000, accountsSnapshot }, c.var.now()));
    });
}
