/**
 * Helpers for the city worker's sync and admin tests: staff tokens, node enrolment with a real
 * Ed25519 key, node-signed JWS messages, and real hash chains of case events built with the
 * domain core exactly as a township node builds them.
 */
import { queryCodeFrom } from "../../domain/case-number.js";
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { exports } from "cloudflare:workers";
import { base64url, CompactSign, SignJWT, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from "jose";
import { chainEvent, GENESIS_HASH, type ChainedEvent } from "../../domain/events.js";
import { applyEvent, decide, openCase, type CaseCommand, type CaseSnapshot, type ItemForCase, type Role } from "../../domain/lifecycle.js";
import { formatCaseNo } from "../../domain/case-number.js";
import { makeCalendar } from "../../domain/time.js";
import { PROTOCOL_VERSION, SIGNATURE_HEADER, type PullPayload, type PushPayload } from "../../domain/sync-protocol.js";
import { AUTH_AUDIENCE } from "../../http/env.js";
import { seedItems } from "../../schema/seed/catalog.js";
import { seedCalendarRows } from "../../store/seed.js";

/** A valid 公民身份号码 (GB 11643 check digit), the applicant of the chains below. */
export const TEST_ID_NUMBER = "11010519491231002X";

export const BASE = "http://city.test";
export const PROBLEM = "application/problem+json; charset=utf-8";

/** A request to the worker under test (the real entry point, real D1). */
export function call(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

/** The problem+json `type` URI of a code. */
export const problemType = (code: string) => `https://tongban.example.cn/problems/${code.replaceAll("_", "-")}`;

/**
 * The title and status the API answers each problem code with, written out here rather than read
 * from `http/errors.ts`, so a changed title or status fails the tests that pin it.
 */
const PROBLEM_TITLES = {
  bad_request: [400, "请求格式错误"],
  validation_failed: [400, "请求参数不合法"],
  unknown_materials: [400, "材料编号不属于该事项"],
  invalid_command: [400, "操作参数不合法"],
  unsupported_protocol: [400, "同步协议版本不受支持"],
  invalid_batch: [400, "同步批次不合法"],
  stale_message: [400, "同步请求已过期或节点时钟偏差过大"],
  unauthorized: [401, "未认证"],
  unknown_node: [401, "节点未登记"],
  bad_signature: [401, "签名无效"],
  node_revoked: [403, "节点已被撤销"],
  node_mismatch: [403, "签名节点与批次节点不一致"],
  forbidden: [403, "无权执行该操作"],
  password_change_required: [403, "请先修改密码"],
  forbidden_role: [403, "当前角色无权执行该操作"],
  not_owner: [403, "该环节不归本窗口办理"],
  cross_site: [403, "拒绝跨站请求"],
  not_found: [404, "资源不存在"],
  item_not_found: [404, "事项不存在"],
  case_not_found: [404, "办件不存在"],
  invalid_state: [409, "当前状态下不能执行该操作"],
  conflict: [409, "与现有数据冲突"],
  unverified_history: [409, "办理记录未通过核验"],
  replayed_batch: [409, "重放的同步批次"],
  sync_gap: [409, "事件序号不连续"],
  payload_too_large: [413, "请求体过大"],
  unsupported_media_type: [415, "不支持的请求内容类型"],
  misdirected_request: [421, "主机名不属于本服务"],
  too_many_attempts: [429, "尝试次数过多"],
  internal: [500, "服务器内部错误"],
} as const satisfies Record<string, readonly [number, string]>;

export type ProblemCode = keyof typeof PROBLEM_TITLES;

/** A whole problem+json body: `code`'s type, title and status, then `detail`, `instance` and the extra members. */
export function problemBody(code: ProblemCode, detail: string, instance: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const [status, title] = PROBLEM_TITLES[code];
  return { type: problemType(code), title, status, detail, code, instance, ...extra };
}

export interface FieldError {
  field: string;
  message: string;
}

/** A whole 400 `validation_failed` body: the first invalid field named in `field` and `detail`, every one listed in `errors`. */
export function validationProblem(instance: string, ...errors: [FieldError, ...FieldError[]]): Record<string, unknown> {
  const [first] = errors;
  return problemBody("validation_failed", `字段 ${first.field} 不合法：${first.message}`, instance, { field: first.field, errors });
}

/** A response's JSON body. */
export async function json<T = any>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Asserts a problem response's status and content type and returns its body. */
export async function problem(res: Response, status: number): Promise<Record<string, unknown>> {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe(PROBLEM);
  return json(res);
}

// ---------------------------------------------------------------- staff tokens

export type StaffRole = "clerk" | "approver" | "supervisor" | "admin";

let authKey: Promise<CryptoKey> | null = null;
function testAuthKey(): Promise<CryptoKey> {
  authKey ??= importJWK(JSON.parse(env.TEST_AUTH_PRIVATE_JWK) as JWK, "EdDSA") as Promise<CryptoKey>;
  return authKey;
}

export interface TokenOptions {
  sub?: string;
  /** The hall the staff member belongs to (default: the city). */
  hall?: string;
  department?: string;
  /** Sign with this key instead of the trusted test key. */
  key?: CryptoKey;
  kid?: string;
  issuer?: string;
  audience?: string;
  /** Seconds until expiry (negative for an expired token). */
  ttl?: number;
}

/** A staff bearer token as the city's identity provider would issue it. */
export async function staffToken(role: string, opts: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { role };
  if (opts.hall) claims.hall = opts.hall;
  if (opts.department) claims.department = opts.department;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "EdDSA", kid: opts.kid ?? "test-key", typ: "JWT" })
    .setIssuer(opts.issuer ?? env.AUTH_ISSUER ?? "tongban-test")
    .setAudience(opts.audience ?? AUTH_AUDIENCE)
    .setSubject(opts.sub ?? `${role}-tester`)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.ttl ?? 3600))
    .sign(opts.key ?? (await testAuthKey()));
}

/** `{ authorization: "Bearer …" }` for a role (an approver of `GAJ` unless told otherwise). */
export async function bearer(role: StaffRole, opts: TokenOptions = {}): Promise<Record<string, string>> {
  return { authorization: `Bearer ${await staffToken(role, role === "approver" ? { department: "GAJ", ...opts } : opts)}` };
}

/** The department of the case a path is about: an approver acting on it belongs there unless told otherwise. */
async function departmentOfPath(path: string): Promise<string | undefined> {
  const caseNo = /^\/api\/cases\/([^/?]+)/.exec(path)?.[1];
  if (!caseNo) return undefined;
  const row = await env.DB.prepare("select department_code as d from cases where case_no = ?").bind(decodeURIComponent(caseNo)).first<{ d: string }>();
  return row?.d;
}

/** A JSON request with a staff token. */
export async function staffJson(method: string, path: string, role: StaffRole, body?: unknown, opts: TokenOptions = {}): Promise<Response> {
  const department = opts.department ?? (role === "approver" ? await departmentOfPath(path) : undefined);
  return call(path, {
    method,
    headers: { ...(await bearer(role, { ...opts, ...(department ? { department } : {}) })), ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

// ---------------------------------------------------------------- nodes

export interface PublicEd25519Jwk {
  kty: string;
  crv: string;
  x: string;
}

export interface TestNode {
  code: string;
  name: string;
  privateKey: CryptoKey;
  publicJwk: PublicEd25519Jwk;
}

let codeCounter = 0;
/** A node code not used before in this test file (files have their own storage). */
export function freshCode(prefix = "N"): string {
  codeCounter++;
  return `${prefix}${String(codeCounter).padStart(3, "0")}`;
}

/** A fresh Ed25519 key pair and its public JWK (kty, crv, x only). */
export async function newNodeKey(): Promise<{ privateKey: CryptoKey; publicJwk: PublicEd25519Jwk }> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, publicJwk: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x! } };
}

/** POSTs an enrolment with an admin token. */
export async function postEnrolment(body: unknown, headers?: Record<string, string>): Promise<Response> {
  return call("/api/admin/nodes", {
    method: "POST",
    headers: { "content-type": "application/json", ...(headers ?? (await bearer("admin"))) },
    body: JSON.stringify(body),
  });
}

/** Generates a key, enrols the node at the city and returns it (fails loudly if enrolment does). */
export async function enrolNode(code: string = freshCode(), name = `${code} 乡镇便民服务中心`): Promise<TestNode> {
  const { privateKey, publicJwk } = await newNodeKey();
  const res = await postEnrolment({ code, name, publicJwk });
  if (res.status !== 201) throw new Error(`enrolment of ${code} failed: ${res.status} ${await res.text()}`);
  return { code, name, privateKey, publicJwk };
}

/** Revokes a node with an admin token. */
export async function revokeNode(code: string): Promise<Response> {
  return call(`/api/admin/nodes/${code}/revoke`, { method: "POST", headers: await bearer("admin") });
}

// ---------------------------------------------------------------- signed messages

/** A compact JWS over a JSON payload, as a node signs (EdDSA, kid = node code). */
export async function signWith(key: CryptoKey, kid: string, payload: unknown): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: "EdDSA", kid, typ: "tongban-sync+jws" })
    .sign(key);
}

/** A payload signed by the node with its own key and code. */
export function signPush(node: TestNode, payload: unknown): Promise<string> {
  return signWith(node.privateKey, node.code, payload);
}

let batchCounter = 0;
/** A batch id unique within the test file. */
export function newBatchId(): string {
  batchCounter++;
  return `batch-${String(batchCounter).padStart(6, "0")}-${crypto.randomUUID().slice(0, 8)}`;
}

/** A push payload for `node` (a new batch id, the current time, headSeq = last event's seq). */
export function pushPayload(node: { code: string }, events: readonly ChainedEvent[], over: Partial<PushPayload> = {}): PushPayload {
  return {
    v: PROTOCOL_VERSION,
    kind: "push",
    node: node.code,
    batchId: newBatchId(),
    sentAt: new Date().toISOString(),
    headSeq: events.length ? events.at(-1)!.seq : 0,
    events: events as PushPayload["events"],
    ...over,
  };
}

/** A pull payload for `node`. */
export function pullPayload(node: { code: string }, cursor: number | null, over: Partial<PullPayload> = {}): PullPayload {
  return { v: PROTOCOL_VERSION, kind: "pull", node: node.code, batchId: newBatchId(), sentAt: new Date().toISOString(), cursor, ...over };
}

/** POSTs a body (normally a compact JWS) to `/api/sync/push`. */
export function push(body: string): Promise<Response> {
  return call("/api/sync/push", { method: "POST", headers: { "content-type": "application/jose" }, body });
}

/** A detached, unencoded-payload JWS (what nodes send): the body as given, the signature in its header. */
export async function signDetached(key: CryptoKey, kid: string, body: string, header: Record<string, unknown> = { alg: "EdDSA", kid, typ: "tongban-sync+jws", b64: false, crit: ["b64"] }): Promise<string> {
  const h = base64url.encode(JSON.stringify(header));
  const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, new TextEncoder().encode(`${h}.${body}`)));
  return `${h}..${base64url.encode(sig)}`;
}

/** POSTs a payload with a detached signature to a sync endpoint. */
export function postDetached(path: "/api/sync/push" | "/api/sync/pull", body: string, signature: string): Promise<Response> {
  return call(path, { method: "POST", headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature }, body });
}

/** POSTs a body to `/api/sync/pull`. */
export function pull(body: string): Promise<Response> {
  return call("/api/sync/pull", { method: "POST", headers: { "content-type": "application/jose" }, body });
}

/** Signs and pushes events as the node. */
export async function pushEvents(node: TestNode, events: readonly ChainedEvent[], over: Partial<PushPayload> = {}): Promise<Response> {
  return push(await signPush(node, pushPayload(node, events, over)));
}

/** Signs and sends a pull as the node. */
export async function pullAs(node: TestNode, cursor: number | null, over: Partial<PullPayload> = {}): Promise<Response> {
  return pull(await signPush(node, pullPayload(node, cursor, over)));
}

// ---------------------------------------------------------------- event chains

/** A promised item that townships handle (decided by a department after forwarding). */
export const promisedItem = seedItems.find((i) => i.kind === "promised" && i.places.includes("township"))!;

export function itemForCase(item = promisedItem): ItemForCase {
  return {
    code: item.code,
    name: item.name,
    departmentCode: item.departmentCode,
    kind: item.kind,
    materials: item.materials,
    promisedLimit: item.promisedLimit,
    jointDepartments: item.jointDepartments,
    places: item.places,
  };
}

/** Every required material of an item: a complete application. */
export const completeMaterials = (item = promisedItem) => item.materials.filter((m) => m.required).map((m) => m.id);

/** The city's own calendar as seeded (holidays and 调休 of 2025–2026): the city re-computes deadlines with it. */
const seeded = seedCalendarRows("2026-01-01T00:00:00.000Z");
export const calendar = makeCalendar(seeded.days, seeded.years.map((y) => y.year));
/** Events are dated from here on, one minute apart (a Tuesday morning, Beijing). */
export const CHAIN_EPOCH = Date.parse("2026-09-29T01:00:00.000Z");

export interface OpenOptions {
  caseNo?: string;
  applicantName?: string;
  materials?: string[];
  at?: Date;
}

/**
 * One origin's event log as a township node keeps it: each event chained on the previous one,
 * and the node's own view of its cases (so `act` decides against the node's state).
 */
export class Chain {
  readonly events: ChainedEvent[] = [];
  readonly cases = new Map<string, CaseSnapshot>();
  private caseCounter = 0;

  constructor(readonly origin: string) {}

  get head(): { seq: number; hash: string } {
    const last = this.events.at(-1);
    return last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  /** The events with seq in [from, to]. */
  range(from: number, to = Number.POSITIVE_INFINITY): ChainedEvent[] {
    return this.events.filter((e) => e.seq >= from && e.seq <= to);
  }

  event(seq: number): ChainedEvent {
    const e = this.events.find((x) => x.seq === seq);
    if (!e) throw new Error(`${this.origin} has no event ${seq}`);
    return e;
  }

  private nextAt(): Date {
    return new Date(CHAIN_EPOCH + this.events.length * 60_000);
  }

  private async append(draft: { caseNo: string; type: string; payload: Record<string, unknown> }, at: Date, actor = `window@${this.origin}`): Promise<ChainedEvent> {
    const e = await chainEvent(this.head.hash, {
      origin: this.origin,
      seq: this.head.seq + 1,
      caseNo: draft.caseNo,
      type: draft.type,
      payload: draft.payload,
      actor,
      occurredAt: at.toISOString(),
    });
    try {
      this.cases.set(draft.caseNo, applyEvent(this.cases.get(draft.caseNo) ?? null, draft));
    } catch {
      // A forged event may not even apply here; the chain still carries it, as a hostile node's would.
    }
    this.events.push(e);
    return e;
  }

  /**
   * Chains an event exactly as given, bypassing the rules a real node applies: what a node running
   * modified code (or an attacker with its key) could sign and push.
   */
  forge(draft: { caseNo: string; type: string; payload: Record<string, unknown> }, opts: { at?: Date; actor?: string } = {}): Promise<ChainedEvent> {
    return this.append(draft, opts.at ?? this.nextAt(), opts.actor);
  }

  /** The event draft an honest `open` would make now (to be altered and forged). */
  openDraft(opts: OpenOptions & { item?: typeof promisedItem } = {}): { caseNo: string; type: string; payload: Record<string, unknown>; at: Date } {
    const at = opts.at ?? this.nextAt();
    const n = this.caseCounter + 1;
    const opened = openCase(calendar, itemForCase(opts.item ?? promisedItem), {
      caseNo: opts.caseNo ?? formatCaseNo(this.origin, at, n),
      queryCode: queryCodeFrom(Uint8Array.from([n, n >> 8, 5, 7, 11, 13, 17, 19])),
      origin: this.origin,
      channel: "window",
      applicant: { name: opts.applicantName ?? `申请人${n}`, idNumber: TEST_ID_NUMBER, phone: "13800000000" },
      materials: opts.materials ?? completeMaterials(opts.item ?? promisedItem),
      at,
    });
    if (!opened.ok) throw new Error(`openCase failed: ${JSON.stringify(opened.error)}`);
    this.caseCounter = n;
    return { ...opened.value.event, at };
  }

  /** Window intake of a new case (complete materials: accepted at once). */
  async open(opts: OpenOptions & { item?: typeof promisedItem } = {}): Promise<ChainedEvent> {
    const { at, ...draft } = this.openDraft(opts);
    return this.append(draft, at);
  }

  /** A command on one of this node's cases, decided against the node's own state. */
  async act(caseNo: string, cmd: CaseCommand, role: Role = "clerk", at: Date = this.nextAt()): Promise<ChainedEvent> {
    const c = this.cases.get(caseNo);
    if (!c) throw new Error(`${this.origin} does not hold case ${caseNo}`);
    const item = seedItems.find((i) => i.code === c.itemCode)!;
    const decided = decide(c, cmd, { role, at, calendar, item: itemForCase(item) });
    if (!decided.ok) throw new Error(`decide failed: ${JSON.stringify(decided.error)}`);
    return this.append(decided.value.event, at);
  }

  /** A copy holding this chain's first `n` events (to grow a different history from there). */
  fork(n: number): Chain {
    const other = new Chain(this.origin);
    for (const e of this.events.slice(0, n)) {
      other.events.push(e);
      other.cases.set(e.caseNo, applyEvent(other.cases.get(e.caseNo) ?? null, e as { caseNo: string; type: string; payload: Record<string, any> }));
    }
    other.caseCounter = new Set(other.events.filter((e) => e.type === "opened").map((e) => e.caseNo)).size;
    return other;
  }
}

/** `n` chained `opened` events of `code` (one new accepted case each), as a node would hold them. */
export async function makeEvents(code: string, n: number, opts: { chain?: Chain; applicantPrefix?: string } = {}): Promise<ChainedEvent[]> {
  const chain = opts.chain ?? new Chain(code);
  const out: ChainedEvent[] = [];
  for (let i = 0; i < n; i++) out.push(await chain.open(opts.applicantPrefix ? { applicantName: `${opts.applicantPrefix}${i + 1}` } : {}));
  return out;
}

// ---------------------------------------------------------------- D1 reads

export async function countRows(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql).bind(...params).first<{ n: number }>();
  return row?.n ?? 0;
}

export const eventCount = (origin: string) => countRows("select count(*) as n from case_events where origin = ?", origin);
export const caseCount = (origin: string) => countRows("select count(*) as n from cases where origin = ?", origin);

/** Everything the city holds for a node: events, cases, batches, contact, conflicts, divergences. */
export async function footprint(code: string) {
  return {
    events: await eventCount(code),
    cases: await caseCount(code),
    batches: await countRows("select count(*) as n from sync_batches where node = ?", code),
    contacts: await countRows("select count(*) as n from node_contacts where code = ?", code),
    conflicts: await countRows("select count(*) as n from conflicts where origin = ?", code),
    divergences: await countRows("select count(*) as n from divergences where origin = ?", code),
  };
}

/** A node the city holds nothing of. */
export const NOTHING = { events: 0, cases: 0, batches: 0, contacts: 0, conflicts: 0, divergences: 0 };
