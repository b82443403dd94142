/**
 * Signed electronic approvals at the city worker, inside workerd with local D1: the published
 * keys, issuing on a grant (once), the applicant's download (JSON and the printable page with
 * its QR code), the verification API against every kind of bad document, key rotation,
 * revocation and its signed list, delegations to township nodes, documents signed by nodes
 * under a delegation, and a node-signed approval arriving by sync.
 *
 * Tests in this file share one D1: every test enrols its own nodes (fresh codes) and makes its
 * own cases, so none depends on another having run.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import {
  base64url,
  compactVerify,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  importJWK,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
  type JWK,
} from "jose";
import { encode } from "uqr";
import jsQR from "jsqr";
import { resultPage } from "../../http/result.js";
import {
  APPROVAL_TYP,
  approvalClaims,
  DELEGATION_TYP,
  isValidLicenceId,
  mod37_36,
  nodeKid,
  REVOCATIONS_TYP,
  signClaims,
  verifyRevocationList,
  type ApprovalClaims,
} from "../../domain/approval.js";
import { formatCaseNo, queryCodeFrom } from "../../domain/case-number.js";
import { isValidIdNumber } from "../../domain/codes.js";
import { chainEvent, GENESIS_HASH, type ChainedEvent } from "../../domain/events.js";
import { applyEvent, decide, openCase, type CaseCommand, type CaseSnapshot, type Role } from "../../domain/lifecycle.js";
import { localDate, makeCalendar } from "../../domain/time.js";
import type { PullResponse, PushResponse } from "../../domain/sync-protocol.js";
import { seedDepartments, seedItems } from "../../schema/seed/catalog.js";
import type { SeedItem } from "../../schema/seed/types.js";
import {
  BASE,
  PROBLEM,
  call,
  completeMaterials,
  countRows,
  enrolNode,
  freshCode,
  itemForCase,
  pullAs,
  pushEvents,
  revokeNode,
  staffJson,
  type TestNode,
  json,
  problem,
  problemBody,
  problemType,
  validationProblem,
} from "./helpers.js";

// ------------------------------------------------------------------------------------------ fixtures

const CURRENT_KID = "city-test-2";
const RETIRED_KID = "city-test-1";
const VALID_DAYS = 1825;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A licence-like result (证照) handled by departments after forwarding, offered at townships. */
const licenceItem = seedItems.find((i) => i.kind === "promised" && i.resultType === "证照" && i.places.includes("township"))!;
/** A promised item whose result is not a licence. */
const plainItem = seedItems.find((i) => i.kind === "promised" && i.resultType !== "证照" && i.places.includes("township"))!;
/** An immediate item a township window decides itself, with a licence-like result. */
const immediateLicenceItem = seedItems.find((i) => i.kind === "immediate" && i.resultType === "证照" && i.places.includes("township"))!;
/** Another immediate township item (for delegations that do not cover the one above). */
const otherImmediateItem = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township") && i.code !== immediateLicenceItem.code)!;

const deptOf = (item: SeedItem) => seedDepartments.find((d) => d.code === item.departmentCode)!;

/** A valid 公民身份号码 whose check character is X (the applicant of most cases here). */
const HOLDER_ID = "11010519491231002X";
const HOLDER_ID_MASKED = "1101**********002X";

// ------------------------------------------------------------------------------------------ helpers



/** ISO/IEC 7064 MOD 37,36 hybrid check character, written independently of the production code. */
function isoMod37_36(s: string): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  let p = 36;
  for (const ch of s) {
    const v = alphabet.indexOf(ch);
    if (v < 0) continue; // dots and other separators do not count
    const sum = (p + v) % 36 || 36;
    p = (2 * sum) % 37;
  }
  return alphabet[(37 - p) % 36]!;
}

const calendar = makeCalendar([], [2025, 2026, 2027]);

interface OpenOpts {
  item: SeedItem;
  at: Date;
  applicantName?: string;
  idNumber?: string;
}

/**
 * A township node's event log for any item, with a query code in the real alphabet (the result
 * route only accepts those): events chained exactly as a node chains them.
 */
class NodeChain {
  readonly events: ChainedEvent[] = [];
  readonly cases = new Map<string, CaseSnapshot>();
  readonly items = new Map<string, SeedItem>();
  private n = 0;

  constructor(readonly origin: string) {}

  private get head() {
    const last = this.events.at(-1);
    return last ? { seq: last.seq, hash: last.hash } : { seq: 0, hash: GENESIS_HASH };
  }

  async append(caseNo: string, type: string, payload: Record<string, unknown>, at: Date): Promise<ChainedEvent> {
    const e = await chainEvent(this.head.hash, {
      origin: this.origin,
      seq: this.head.seq + 1,
      caseNo,
      type,
      payload,
      actor: `window@${this.origin}`,
      occurredAt: at.toISOString(),
    });
    this.cases.set(caseNo, applyEvent(this.cases.get(caseNo) ?? null, { caseNo, type, payload }));
    this.events.push(e);
    return e;
  }

  /** Window intake with complete materials: accepted at once. Returns the case number and query code. */
  async open(opts: OpenOpts): Promise<{ caseNo: string; queryCode: string; event: ChainedEvent }> {
    this.n++;
    const caseNo = formatCaseNo(this.origin, opts.at, this.n);
    const queryCode = queryCodeFrom(crypto.getRandomValues(new Uint8Array(8)));
    const opened = openCase(calendar, itemForCase(opts.item), {
      caseNo,
      queryCode,
      origin: this.origin,
      channel: "window",
      applicant: { name: opts.applicantName ?? "林晓梅", idNumber: opts.idNumber ?? HOLDER_ID, phone: "13800000000" },
      materials: completeMaterials(opts.item),
      at: opts.at,
    });
    if (!opened.ok) throw new Error(`openCase failed: ${JSON.stringify(opened.error)}`);
    this.items.set(caseNo, opts.item);
    const event = await this.append(caseNo, opened.value.event.type, opened.value.event.payload, opts.at);
    return { caseNo, queryCode, event };
  }

  /** A command decided against the node's own view of the case. */
  async act(caseNo: string, cmd: CaseCommand, at: Date, role: Role = "clerk"): Promise<ChainedEvent> {
    const c = this.cases.get(caseNo)!;
    const decided = decide(c, cmd, { role, at, calendar, item: itemForCase(this.items.get(caseNo)!) });
    if (!decided.ok) throw new Error(`decide failed: ${JSON.stringify(decided.error)}`);
    return this.append(caseNo, decided.value.event.type, decided.value.event.payload, at);
  }
}

const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);

/** A node with one accepted case of `item` pushed to the city. */
async function caseAtCity(item: SeedItem, applicantName = "林晓梅") {
  const node = await enrolNode(freshCode("AP"));
  const chain = new NodeChain(node.code);
  const { caseNo, queryCode } = await chain.open({ item, at: minutesAgo(30), applicantName });
  const res = await pushEvents(node, chain.events);
  expect(res.status).toBe(200);
  expect(await json<PushResponse>(res)).toMatchObject({ stored: 1, conflicts: [] });
  return { node, chain, caseNo, queryCode };
}

const action = (caseNo: string, role: "clerk" | "approver", body: unknown) => staffJson("POST", `/api/cases/${caseNo}/actions`, role, body);

/** A case the township window forwarded to its department (in review at the city, not decided). */
async function forwardedCase(item: SeedItem, applicantName?: string) {
  const c = await caseAtCity(item, applicantName);
  const fwd = await c.chain.act(c.caseNo, { action: "forward" }, minutesAgo(29));
  const res = await pushEvents(c.node, [fwd]);
  expect(await json<PushResponse>(res)).toMatchObject({ stored: 1, conflicts: [] });
  expect(await env.DB.prepare("select state from cases where case_no = ?").bind(c.caseNo).first()).toEqual({ state: "in_review" });
  return c;
}

/** A case granted at the city by an approver; returns the decide response body too. */
async function grantedCase(item: SeedItem, applicantName?: string) {
  const c = await forwardedCase(item, applicantName);
  const t0 = Date.now();
  const res = await action(c.caseNo, "approver", { action: "decide", decision: "grant" });
  const t1 = Date.now();
  expect(res.status).toBe(200);
  const decided = await json(res);
  expect(decided).toMatchObject({ state: "decided", decision: "grant" });
  return { ...c, decided, t0, t1 };
}

/** The applicant's download. */
function result(caseNo: string, queryCode: string, accept?: string): Promise<Response> {
  return call(`/api/cases/${caseNo}/result?queryCode=${encodeURIComponent(queryCode)}`, accept ? { headers: { accept } } : {});
}

async function resultJson(
  caseNo: string,
  queryCode: string,
): Promise<{ id: string; token: string; claims: ApprovalClaims; issuer: string; status: "valid" | "revoked"; revoked: { reason: string; revokedAt: string } | null }> {
  const res = await result(caseNo, queryCode, "application/json");
  expect(res.status).toBe(200);
  return json(res);
}

function verify(token: unknown): Promise<Response> {
  return call("/api/verify", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) });
}

async function verifyBody(token: string): Promise<any> {
  const res = await verify(token);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  return json(res);
}

async function publishedJwks(): Promise<JSONWebKeySet> {
  const res = await call("/.well-known/jwks.json");
  expect(res.status).toBe(200);
  return json(res);
}

let currentKey: Promise<CryptoKey> | null = null;
/** The city's current private signing key (the SIGNING_JWK secret). */
function cityKey(): Promise<CryptoKey> {
  currentKey ??= importJWK(JSON.parse(env.SIGNING_JWK!) as JWK, "EdDSA") as Promise<CryptoKey>;
  return currentKey;
}

/** A fresh Ed25519 key not published anywhere. */
async function foreignKey(): Promise<CryptoKey> {
  return (await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true })).privateKey;
}

/** Valid approval claims for a made-up case of `item` (nothing in D1 needs to hold it). */
function claimsFor(item: SeedItem, opts: { issuedAt?: Date; validDays?: number; delegation?: string; caseNo?: string } = {}): ApprovalClaims {
  const dept = deptOf(item);
  return approvalClaims({
    id: crypto.randomUUID(),
    issuer: BASE,
    issuedAt: opts.issuedAt ?? new Date(),
    validDays: opts.validDays ?? VALID_DAYS,
    // A node numbers its own cases: a document under a delegation is for a case of the delegated node.
    caseNo: opts.caseNo ?? formatCaseNo(opts.delegation ? String(decodeJwt(opts.delegation).sub) : "DOC", new Date(), Math.floor(Math.random() * 9000) + 1000),
    itemCode: item.code,
    itemName: item.name,
    holderName: "陈志远",
    holderIdNumber: HOLDER_ID,
    department: { code: dept.code, name: dept.name, creditCode: dept.creditCode },
    resultType: item.resultType,
    resultName: item.resultName,
    basicCode: item.basicCode,
    ...(opts.delegation ? { delegation: opts.delegation } : {}),
  });
}

/** Replaces a compact JWS's payload with `edit(payload)`, keeping header and signature. */
function tamperPayload(token: string, edit: (p: Record<string, any>) => void): string {
  const [h, p, s] = token.split(".");
  const payload = JSON.parse(new TextDecoder().decode(base64url.decode(p!))) as Record<string, any>;
  edit(payload);
  return `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
}

/** Flips one character in the middle of the signature segment. */
function tamperSignature(token: string): string {
  const [h, p, s] = token.split(".");
  const i = 20;
  const flipped = s![i] === "A" ? "B" : "A";
  return `${h}.${p}.${s!.slice(0, i)}${flipped}${s!.slice(i + 1)}`;
}

/** Asks the city for a delegation for a node (admin). */
function postDelegation(code: string, body: unknown, role: "admin" | "approver" | "clerk" = "admin"): Promise<Response> {
  return staffJson("POST", `/api/admin/nodes/${code}/delegation`, role, body);
}

async function delegate(node: TestNode, items: string[], validFrom: Date, validUntil: Date): Promise<{ id: string; token: string }> {
  const res = await postDelegation(node.code, { items, validFrom: validFrom.toISOString(), validUntil: validUntil.toISOString() });
  expect(res.status).toBe(201);
  return json(res);
}

/** A document signed by a node's key exactly as edge-node/approvals.ts signs it. */
async function nodeSigned(node: { code: string; privateKey: CryptoKey; publicJwk: JWK }, claims: ApprovalClaims): Promise<{ token: string; kid: string }> {
  const kid = await nodeKid(node.code, node.publicJwk);
  return { token: await signClaims(claims, node.privateKey, kid, APPROVAL_TYP), kid };
}

/** Rasterizes a QR matrix (4 px a module, 4 modules of extra quiet zone) as RGBA for jsQR. */
function rasterize(matrix: boolean[][]): { data: Uint8ClampedArray; width: number; height: number } {
  const scale = 4;
  const quiet = 4;
  const modules = matrix.length + quiet * 2;
  const width = modules * scale;
  const data = new Uint8ClampedArray(width * width * 4).fill(255);
  for (let y = 0; y < matrix.length; y++) {
    for (let x = 0; x < matrix.length; x++) {
      if (!matrix[y]![x]) continue;
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const px = ((y + quiet) * scale + dy) * width + (x + quiet) * scale + dx;
          data[px * 4] = 0;
          data[px * 4 + 1] = 0;
          data[px * 4 + 2] = 0;
          data[px * 4 + 3] = 255;
        }
      }
    }
  }
  return { data, width, height: width };
}

/**
 * The QR code printed on a result page, read back from its SVG as a module matrix: the SVG inside
 * `<div class="qr">`, its viewBox, and the dark rectangles of its path (`M x y h w v h h -w z`,
 * with spaces or commas), scaled to modules. Independent of which renderer drew it.
 */
function qrMatrixFromPage(page: string, modules: number): boolean[][] {
  const svg = /<div class="qr">\s*(<svg[\s\S]*?<\/svg>)/.exec(page)?.[1];
  expect(svg, "a QR <svg> inside <div class=\"qr\">").toBeDefined();
  const box = /viewBox="0 0 (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)"/.exec(svg!);
  expect(box).not.toBeNull();
  const width = Number(box![1]);
  expect(Number(box![2])).toBe(width);
  const unit = width / modules;
  const paths = [...svg!.matchAll(/<path\b[^>]*\sd="([^"]+)"/g)].map((m) => m[1]!);
  expect(paths).toHaveLength(1);
  const grid = Array.from({ length: modules }, () => Array<boolean>(modules).fill(false));
  const rect = /M(\d+(?:\.\d+)?)[ ,](\d+(?:\.\d+)?)h(\d+(?:\.\d+)?)v(\d+(?:\.\d+)?)h-(\d+(?:\.\d+)?)z/g;
  let covered = 0;
  for (const m of paths[0]!.matchAll(rect)) {
    covered += m[0].length;
    const [x, y, w, h] = [m[1], m[2], m[3], m[4]].map((v) => Number(v) / unit) as [number, number, number, number];
    for (let row = y; row < y + h; row++) for (let col = x; col < x + w; col++) grid[row]![col] = true;
  }
  // Every drawing command was understood.
  expect(covered).toBe(paths[0]!.length);
  return grid;
}

const approvalsOf = (caseNo: string) => env.DB.prepare("select * from approvals where case_no = ?").bind(caseNo).all<Record<string, unknown>>();
const issuedEvents = (caseNo: string) => countRows("select count(*) as n from case_events where case_no = ? and type = 'approval-issued'", caseNo);

// ------------------------------------------------------------------------------------------ 1. keys

describe("published keys", () => {
  it("GET /.well-known/jwks.json lists the current and the retired key, public halves only", async () => {
    const res = await call("/.well-known/jwks.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await json<JSONWebKeySet>(res);
    const current = JSON.parse(env.SIGNING_JWK!) as JWK;
    const retired = JSON.parse(env.TEST_RETIRED_SIGNING_PRIVATE_JWK) as JWK;
    expect(body).toEqual({
      keys: [
        { kty: "OKP", crv: "Ed25519", x: current.x, kid: CURRENT_KID, alg: "EdDSA", use: "sig" },
        { kty: "OKP", crv: "Ed25519", x: retired.x, kid: RETIRED_KID, alg: "EdDSA", use: "sig" },
      ],
    });
    for (const k of body.keys) expect(k).not.toHaveProperty("d");
    expect(JSON.stringify(body)).not.toContain(current.d!);
    expect(JSON.stringify(body)).not.toContain(retired.d!);
  });
});

// ------------------------------------------------------------------------------------------ 2. issuing

describe("issuing on a grant", () => {
  it("a licence-like grant issues a city-signed approval with a GB/T 36904 licence id and a masked holder", async () => {
    const { caseNo, queryCode, decided, t0, t1 } = await grantedCase(licenceItem, "林晓梅");
    expect(decided.approval).toEqual({
      id: expect.stringMatching(UUID),
      licenceId: expect.stringMatching(/^1\.2\.156\.3005\.2\./),
      issuer: "CITY",
      resultUrl: `/api/cases/${caseNo}/result?queryCode=${queryCode}`,
    });

    const got = await resultJson(caseNo, queryCode);
    const dept = deptOf(licenceItem);
    const iat = got.claims.iat;
    expect(iat).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) - 1);
    expect(iat).toBeLessThanOrEqual(Math.ceil(t1 / 1000) + 1);
    const exp = iat + VALID_DAYS * 86_400;
    const shanghaiDay = (s: number) => new Date(s * 1000 + 8 * 3600_000).toISOString().slice(0, 10);
    const serial = caseNo.replaceAll("-", "");
    const body = `1.2.156.3005.2.${licenceItem.basicCode}.${dept.creditCode}.${serial}.001`;
    const expectedLicence = `${body}.${isoMod37_36(body)}`;

    expect(got).toEqual({
      id: decided.approval.id,
      token: expect.any(String),
      issuer: "CITY",
      status: "valid",
      revoked: null,
      claims: {
        jti: decided.approval.id,
        iss: BASE,
        iat,
        nbf: iat,
        exp,
        caseNo,
        itemCode: licenceItem.code,
        itemName: licenceItem.name,
        holder: { name: "林晓梅", idNumber: HOLDER_ID_MASKED },
        decision: "grant",
        department: { code: dept.code, name: dept.name },
        seal: `${dept.name}行政审批专用章`,
        issuedOn: shanghaiDay(iat),
        validUntil: shanghaiDay(exp),
        resultName: licenceItem.resultName,
        licenceId: expectedLicence,
      },
    });
    expect(got.claims.seal).toMatch(/行政审批专用章$/);
    expect(got.claims.issuedOn).toMatch(DATE);
    expect(got.claims.validUntil).toMatch(DATE);
    expect(got.claims.holder.idNumber).toBe("1101**********002X");

    // The licence id: the right shape, the right check character (computed here independently).
    const lid = got.claims.licenceId!;
    expect(lid).toMatch(/^1\.2\.156\.3005\.2\./);
    expect(isValidLicenceId(lid)).toBe(true);
    expect(lid.slice(-1)).toBe(isoMod37_36(lid.slice(0, -2)));
    expect(mod37_36(lid.slice(0, -2))).toBe(isoMod37_36(lid.slice(0, -2)));
    expect(decided.approval.licenceId).toBe(lid);

    // The signed document: header, claims equal to the JSON's, verifiable with the published key.
    expect(decodeProtectedHeader(got.token)).toEqual({ alg: "EdDSA", kid: CURRENT_KID, typ: APPROVAL_TYP });
    expect(decodeJwt(got.token)).toEqual(got.claims);
    const jwks = await publishedJwks();
    const pub = await importJWK(jwks.keys.find((k) => k.kid === CURRENT_KID)!, "EdDSA");
    await expect(compactVerify(got.token, pub)).resolves.toBeDefined();

    // The full ID number is nowhere in the signed payload.
    const payloadText = new TextDecoder().decode(base64url.decode(got.token.split(".")[1]!));
    expect(payloadText).not.toContain(HOLDER_ID);
    expect(payloadText).not.toContain(HOLDER_ID.slice(4, 14));
    expect(got.token).not.toContain(HOLDER_ID);
  });

  it("the city-signed approval of a township case reaches its node by pull", async () => {
    const { node, caseNo, queryCode } = await forwardedCase(licenceItem);
    const before = await json<PullResponse>(await pullAs(node, null));
    expect((await action(caseNo, "approver", { action: "decide", decision: "grant" })).status).toBe(200);
    const { id, token } = await resultJson(caseNo, queryCode);

    const res = await pullAs(node, before.cursor);
    expect(res.status).toBe(200);
    const pulled = await json<PullResponse>(res);
    const mine = pulled.events.filter((e) => e.caseNo === caseNo);
    expect(mine.map((e) => [e.origin, e.type])).toEqual([
      ["CITY", "decided"],
      ["CITY", "approval-issued"],
    ]);
    expect(mine[1]!.payload).toMatchObject({ id, token, kid: CURRENT_KID, issuer: "CITY" });
  });

  it("a non-licence grant has no licence id", async () => {
    const { caseNo, queryCode, decided } = await grantedCase(plainItem);
    expect(decided.approval).toEqual({ id: expect.stringMatching(UUID), licenceId: null, issuer: "CITY", resultUrl: `/api/cases/${caseNo}/result?queryCode=${queryCode}` });
    const got = await resultJson(caseNo, queryCode);
    expect(got.id).toBe(decided.approval.id);
    expect(got.claims).not.toHaveProperty("licenceId");
    expect(decodeJwt(got.token)).not.toHaveProperty("licenceId");
    expect(got.claims).toMatchObject({ itemCode: plainItem.code, resultName: plainItem.resultName, decision: "grant", holder: { idNumber: HOLDER_ID_MASKED } });
    const [row] = (await approvalsOf(caseNo)).results;
    expect(row).toMatchObject({ licence_id: null, issuer: "CITY", kid: CURRENT_KID });
  });

  it("a denial issues nothing: no approval in the response, the download answers 409", async () => {
    const { caseNo, queryCode } = await forwardedCase(licenceItem);
    const res = await action(caseNo, "approver", { action: "decide", decision: "deny", reason: "不符合换领条件" });
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({ state: "decided", decision: "deny" });
    expect(body).not.toHaveProperty("approval");

    const dl = await result(caseNo, queryCode, "application/json");
    expect(await problem(dl, 409)).toEqual({
      type: problemType("invalid_state"),
      title: "当前状态下不能执行该操作",
      status: 409,
      detail: "本件尚未作出准予决定，没有可下载的电子文书",
      code: "invalid_state",
      instance: `/api/cases/${caseNo}/result`,
      state: "decided",
      decision: "deny",
    });
    expect((await approvalsOf(caseNo)).results).toEqual([]);
    expect(await issuedEvents(caseNo)).toBe(0);
  });

  it("issues once: repeated downloads return the same document; one row and one approval-issued event", async () => {
    const { caseNo, queryCode, decided } = await grantedCase(licenceItem);
    const first = await resultJson(caseNo, queryCode);
    const second = await resultJson(caseNo, queryCode);
    expect(first.id).toBe(decided.approval.id);
    expect(second).toEqual(first);
    // The page download does not issue another one either.
    expect((await result(caseNo, queryCode)).status).toBe(200);

    const rows = (await approvalsOf(caseNo)).results;
    expect(rows).toEqual([
      {
        id: first.id,
        case_no: caseNo,
        token: first.token,
        kid: CURRENT_KID,
        issuer: "CITY",
        licence_id: first.claims.licenceId,
        issued_at: new Date(first.claims.iat * 1000).toISOString(),
        expires_at: new Date(first.claims.exp * 1000).toISOString(),
      },
    ]);
    expect(await issuedEvents(caseNo)).toBe(1);
    const ev = await env.DB.prepare("select origin, payload from case_events where case_no = ? and type = 'approval-issued'").bind(caseNo).first<{ origin: string; payload: string }>();
    expect(ev!.origin).toBe("CITY");
    expect(JSON.parse(ev!.payload)).toEqual({
      id: first.id,
      token: first.token,
      kid: CURRENT_KID,
      issuer: "CITY",
      licenceId: first.claims.licenceId,
      issuedAt: new Date(first.claims.iat * 1000).toISOString(),
      expiresAt: new Date(first.claims.exp * 1000).toISOString(),
      at: expect.stringMatching(ISO),
    });
  });
});

// ------------------------------------------------------------------------------------------ 3. the printable page

describe("the printable result page", () => {
  /**
   * Downloads the page of a granted case and checks it: Chinese A4 HTML with 准予, the seal, the
   * masked ID only, and a QR code that is exactly the verify link's and scans back to the token.
   */
  async function checkPrintedResult(item: SeedItem, holderName: string) {
    const { caseNo, queryCode } = await grantedCase(item, holderName);
    const { token, claims } = await resultJson(caseNo, queryCode);

    const res = await result(caseNo, queryCode);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const page = await res.text();
    expect(page).toContain('<html lang="zh-CN">');
    expect(page).toContain("准予");
    expect(page).toContain(claims.seal);
    expect(page).toContain(`${deptOf(item).name}行政审批专用章`);
    expect(page).toContain(holderName);
    expect(page).toContain(HOLDER_ID_MASKED);
    expect(page).not.toContain(HOLDER_ID);
    expect(page).toContain(caseNo);
    // Whether there is a licence id is the catalog's to say, not the response's: a 证照 result
    // carries the GB/T 36904 id of this item, department and case (computed here), printed on the
    // page; any other result has none.
    if (item.resultType === "证照") {
      const body = `1.2.156.3005.2.${item.basicCode}.${deptOf(item).creditCode}.${caseNo.replaceAll("-", "")}.001`;
      const licence = `${body}.${isoMod37_36(body)}`;
      expect(claims.licenceId).toBe(licence);
      expect(page).toContain(`证照标识：${licence}`);
    } else {
      expect(claims).not.toHaveProperty("licenceId");
      expect(page).not.toContain("证照标识");
    }
    expect(page).toMatch(/<svg[\s\S]*<\/svg>/);

    const link = `${BASE}/verify#${token}`;
    expect(new URL(link).host).toBe("city.test");
    // The printed code is exactly the QR code of the verify link (ECC L, border 2) ...
    const qr = encode(link, { ecc: "L", border: 2 });
    const printed = qrMatrixFromPage(page, qr.size);
    expect(printed).toEqual(qr.data);

    // ... and scanning what is printed, as a phone would, gives the link with the token.
    // jsQR 1.4.0 cannot read any version-23 symbol (its alignment table says 74 where ISO/IEC
    // 18004 Table E.1 says 78: cozmo/jsQR#251), so the holder names here keep the codes off 23.
    expect(qr.version, "jsQR cannot decode QR version 23 (cozmo/jsQR#251): pick a holder name of another length").not.toBe(23);
    const img = rasterize(printed);
    const decoded = jsQR(img.data, img.width, img.height);
    expect(decoded, `jsQR found no QR code (version ${qr.version})`).not.toBeNull();
    expect(decoded!.data).toBe(link);
    const url = new URL(decoded!.data);
    expect(`${url.origin}${url.pathname}`).toBe(`${BASE}/verify`);
    expect(url.hash.slice(1)).toBe(token);
    return qr.version;
  }

  it("a licence: A4 HTML with 准予, the seal, the masked ID, and a QR code that scans to the verify link with the token", async () => {
    expect(licenceItem.resultType).toBe("证照");
    // A long name (minority names run to a dozen characters and more) keeps this code off version 23.
    await checkPrintedResult(licenceItem, "阿依古丽·买买提艾力·吐尔逊·阿卜杜热合曼");
  });

  it("a non-licence result prints the same way", async () => {
    expect(plainItem.resultType).not.toBe("证照");
    await checkPrintedResult(plainItem, "黄丽娟");
  });
});

// ------------------------------------------------------------------------------------------ 4. guards

describe("download guards", () => {
  it("a wrong query code and an unknown case answer the same 403, byte for byte (no existence leak)", async () => {
    const { caseNo, queryCode } = await grantedCase(plainItem);
    const wrong = queryCode === "ABCDEFGH" ? "HGFEDCBA" : "ABCDEFGH";
    // No `instance`: it would repeat the case number of the path, the one thing that differs.
    const forbidden = {
      type: problemType("forbidden"),
      title: "无权执行该操作",
      status: 403,
      detail: "办件编号或查询码不正确，或办件尚未上传到此处",
      code: "forbidden",
      field: "queryCode",
    };
    const answers = [
      await result(caseNo, wrong, "application/json"),
      await result(caseNo, wrong),
      await result("ZZ9-20260101-0001", queryCode, "application/json"),
      await result("ZZ9-20260101-0001", wrong, "application/json"),
    ];
    const texts = await Promise.all(answers.map((a) => a.clone().text()));
    expect(new Set(texts).size).toBe(1);
    for (const a of answers) expect(await problem(a, 403)).toEqual(forbidden);
    // The right code, typed in lower case, still opens it.
    expect((await result(caseNo, queryCode.toLowerCase(), "application/json")).status).toBe(200);
  });

  it("a malformed query code is a 400", async () => {
    const { caseNo } = await grantedCase(plainItem);
    expect(await problem(await result(caseNo, "abc", "application/json"), 400)).toEqual({
      type: problemType("validation_failed"),
      title: "请求参数不合法",
      status: 400,
      detail: "字段 queryCode 不合法：查询码应为回执上的8位字符（不含 0、1、I、L、O）",
      code: "validation_failed",
      instance: `/api/cases/${caseNo}/result`,
      field: "queryCode",
      errors: [{ field: "queryCode", message: "查询码应为回执上的8位字符（不含 0、1、I、L、O）" }],
    });
    // 0 and 1 are not in the query code alphabet.
    expect(await problem(await result(caseNo, "Q0000001", "application/json"), 400)).toEqual(
      validationProblem(`/api/cases/${caseNo}/result`, { field: "queryCode", message: "查询码应为回执上的8位字符（不含 0、1、I、L、O）" }),
    );
  });

  it("a case not yet decided is a 409 and issues nothing", async () => {
    const { caseNo, queryCode } = await forwardedCase(licenceItem);
    expect(await problem(await result(caseNo, queryCode, "application/json"), 409)).toEqual({
      type: problemType("invalid_state"),
      title: "当前状态下不能执行该操作",
      status: 409,
      detail: "本件尚未作出准予决定，没有可下载的电子文书",
      code: "invalid_state",
      instance: `/api/cases/${caseNo}/result`,
      state: "in_review",
      decision: null,
    });
    expect((await approvalsOf(caseNo)).results).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------ 5./6. verify

describe("verification", () => {
  it("a genuine city document is valid; the /verify page is Chinese HTML", async () => {
    const { caseNo, queryCode } = await grantedCase(licenceItem);
    const { token, claims } = await resultJson(caseNo, queryCode);
    expect(await verifyBody(token)).toEqual({
      valid: true,
      status: "valid",
      code: "ok",
      reason: "签名有效，文书真实",
      claims,
      signer: { kind: "city", kid: CURRENT_KID },
    });

    const page = await call("/verify");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const text = await page.text();
    expect(text).toContain("电子文书验证");
    expect(text).toContain("电子证照 / 审批文书验证");
    expect(text).toContain('id="token"');
    // The page's script (an asset, the CSP allows nothing inline) posts to the verify API.
    const script = /<script src="(\/assets\/verify\.js\?v=\w+)"><\/script>/.exec(text);
    expect(script).not.toBeNull();
    expect(await (await call(script![1]!)).text()).toContain('fetch("/api/verify"');
  });

  const invalid = (code: string, reason: string, claims: unknown = null, signer: unknown = null) => ({
    valid: false,
    status: code === "revoked" ? "revoked" : "invalid",
    code,
    reason,
    claims,
    signer,
  });

  it("garbage is malformed", async () => {
    expect(await verifyBody("this is not a document")).toEqual(invalid("malformed", "不是有效的电子文书（格式错误）"));
    expect(await verifyBody("a.b.c")).toEqual(invalid("malformed", "不是有效的电子文书（格式错误）"));
  });

  it("alg none and HS256 are not allowed", async () => {
    const claims = claimsFor(licenceItem);
    const none = `${base64url.encode(JSON.stringify({ alg: "none", typ: APPROVAL_TYP, kid: CURRENT_KID }))}.${base64url.encode(JSON.stringify(claims))}.`;
    expect(await verifyBody(none)).toEqual(invalid("alg_not_allowed", "签名算法不被接受（只接受 EdDSA）：收到 none"));

    const hs = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: "HS256", typ: APPROVAL_TYP, kid: CURRENT_KID })
      .sign(new TextEncoder().encode("a shared secret nobody should trust, 32+ bytes long"));
    expect(await verifyBody(hs)).toEqual(invalid("alg_not_allowed", "签名算法不被接受（只接受 EdDSA）：收到 HS256"));
  });

  it("a key the city never published is unknown_kid", async () => {
    const token = await signClaims(claimsFor(licenceItem), await foreignKey(), "nope", APPROVAL_TYP);
    expect(await verifyBody(token)).toEqual(invalid("unknown_kid", "签名密钥不是本中心公布的密钥"));
  });

  it("a tampered payload or signature is bad_signature", async () => {
    const { caseNo, queryCode } = await grantedCase(plainItem);
    const { token } = await resultJson(caseNo, queryCode);
    const forged = tamperPayload(token, (p) => {
      p.holder.name = "冒名者";
    });
    expect(decodeJwt(forged)).toMatchObject({ holder: { name: "冒名者" } });
    expect(await verifyBody(forged)).toEqual(invalid("bad_signature", "签名校验失败，文书内容可能被篡改"));
    expect(await verifyBody(tamperSignature(token))).toEqual(invalid("bad_signature", "签名校验失败，文书内容可能被篡改"));
    // The genuine one is still fine.
    expect(await verifyBody(token)).toMatchObject({ valid: true, code: "ok" });
  });

  it("a genuine document past its validity is expired", async () => {
    const claims = claimsFor(licenceItem, { issuedAt: new Date(Date.now() - 3 * 86_400_000), validDays: 1 });
    const token = await signClaims(claims, await cityKey(), CURRENT_KID, APPROVAL_TYP);
    expect(await verifyBody(token)).toEqual(invalid("expired", `文书已过有效期：有效期至 ${claims.validUntil}`, claims, { kind: "city", kid: CURRENT_KID }));
  });

  it("a genuine document dated in the future is not_yet_valid (five minutes of clock skew are tolerated)", async () => {
    const future = claimsFor(licenceItem, { issuedAt: new Date(Date.now() + 3_600_000) });
    const token = await signClaims(future, await cityKey(), CURRENT_KID, APPROVAL_TYP);
    expect(await verifyBody(token)).toEqual(invalid("not_yet_valid", "文书尚未生效", future, { kind: "city", kid: CURRENT_KID }));
    const skewed = claimsFor(licenceItem, { issuedAt: new Date(Date.now() + 60_000) });
    expect(await verifyBody(await signClaims(skewed, await cityKey(), CURRENT_KID, APPROVAL_TYP))).toMatchObject({ valid: true, code: "ok" });
  });

  it("a document of another type (a delegation) is wrong_type", async () => {
    const token = await signClaims(claimsFor(licenceItem), await cityKey(), CURRENT_KID, DELEGATION_TYP);
    expect(await verifyBody(token)).toEqual(invalid("wrong_type", "不是电子审批文书"));
  });

  it("a missing token is a 400 naming the field", async () => {
    const res = await call("/api/verify", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(await problem(res, 400)).toEqual(validationProblem("/api/verify", { field: "token", message: "缺少此项" }));
    const empty = await verify("   ");
    expect(await problem(empty, 400)).toEqual(validationProblem("/api/verify", { field: "token", message: "请提供要验证的文书" }));
  });
});

// ------------------------------------------------------------------------------------------ 7. rotation

describe("key rotation", () => {
  it("documents signed with the retired key stay valid; new ones use the current key", async () => {
    const retired = (await importJWK(JSON.parse(env.TEST_RETIRED_SIGNING_PRIVATE_JWK) as JWK, "EdDSA")) as CryptoKey;
    const claims = claimsFor(licenceItem, { issuedAt: new Date(Date.now() - 400 * 86_400_000) });
    const old = await signClaims(claims, retired, RETIRED_KID, APPROVAL_TYP);
    expect(await verifyBody(old)).toEqual({
      valid: true,
      status: "valid",
      code: "ok",
      reason: "签名有效，文书真实",
      claims,
      signer: { kind: "city", kid: RETIRED_KID },
    });

    const { caseNo, queryCode } = await grantedCase(plainItem);
    const { token } = await resultJson(caseNo, queryCode);
    expect(decodeProtectedHeader(token).kid).toBe(CURRENT_KID);
    expect(await verifyBody(token)).toMatchObject({ valid: true, signer: { kind: "city", kid: CURRENT_KID } });
  });
});

// ------------------------------------------------------------------------------------------ 8. revocation

describe("revocation", () => {
  it("guards the revoke route: 401, 403, 404, 400", async () => {
    const { caseNo, queryCode } = await grantedCase(plainItem);
    const { id } = await resultJson(caseNo, queryCode);
    const path = `/api/admin/approvals/${id}/revoke`;
    const body = JSON.stringify({ reason: "测试" });

    const none = await call(path, { method: "POST", headers: { "content-type": "application/json" }, body });
    expect(await problem(none, 401)).toEqual({
      type: problemType("unauthorized"),
      title: "未认证",
      status: 401,
      detail: "请先登录，再撤销电子文书",
      code: "unauthorized",
      instance: path,
    });

    const clerk = await staffJson("POST", path, "clerk", { reason: "测试" });
    expect(await problem(clerk, 403)).toEqual({
      type: problemType("forbidden"),
      title: "无权执行该操作",
      status: 403,
      detail: "窗口人员无权撤销电子文书",
      code: "forbidden",
      instance: path,
      requiredRoles: ["admin"],
      role: "clerk",
    });

    const unknownId = crypto.randomUUID();
    const unknown = await staffJson("POST", `/api/admin/approvals/${unknownId}/revoke`, "admin", { reason: "测试" });
    expect(await problem(unknown, 404)).toEqual({
      type: problemType("not_found"),
      title: "资源不存在",
      status: 404,
      detail: `文书 ${unknownId} 不存在`,
      code: "not_found",
      instance: `/api/admin/approvals/${unknownId}/revoke`,
      approvalId: unknownId,
    });

    const malformed = await staffJson("POST", "/api/admin/approvals/not-a-uuid/revoke", "admin", { reason: "测试" });
    expect(await problem(malformed, 400)).toEqual({
      type: problemType("validation_failed"),
      title: "请求参数不合法",
      status: 400,
      detail: "字段 id 不合法：文书编号格式不正确",
      code: "validation_failed",
      instance: "/api/admin/approvals/not-a-uuid/revoke",
      field: "id",
      errors: [{ field: "id", message: "文书编号格式不正确" }],
    });

    for (const reason of ["", "   "]) {
      const empty = await staffJson("POST", path, "admin", { reason });
      expect(await problem(empty, 400)).toEqual({
        type: problemType("validation_failed"),
        title: "请求参数不合法",
        status: 400,
        detail: "字段 reason 不合法：请填写撤销理由",
        code: "validation_failed",
        instance: path,
        field: "reason",
        errors: [{ field: "reason", message: "请填写撤销理由" }],
      });
    }

    // None of that revoked it.
    expect(await verifyBody((await resultJson(caseNo, queryCode)).token)).toMatchObject({ valid: true, code: "ok" });
    expect(await countRows("select count(*) as n from approval_revocations where approval_id = ?", id)).toBe(0);
  });

  it("an admin revokes; the document then verifies as revoked and appears in the signed list", async () => {
    const { caseNo, queryCode } = await grantedCase(licenceItem);
    const { id, token, claims } = await resultJson(caseNo, queryCode);
    const reason = "申请人以欺骗手段取得，依法撤销";

    const t0 = Date.now();
    const res = await staffJson("POST", `/api/admin/approvals/${id}/revoke`, "admin", { reason: `  ${reason}  ` });
    expect(res.status).toBe(200);
    const revoked = await json(res);
    expect(revoked).toEqual({ id, caseNo, revokedAt: expect.stringMatching(ISO), reason });
    expect(Date.parse(revoked.revokedAt)).toBeGreaterThanOrEqual(t0 - 1000);

    // A second revocation keeps the first reason and time.
    const again = await staffJson("POST", `/api/admin/approvals/${id}/revoke`, "admin", { reason: "另一个理由" });
    expect(again.status).toBe(200);
    expect(await json(again)).toEqual(revoked);

    const v = await verifyBody(token);
    expect(v).toEqual({
      valid: false,
      status: "revoked",
      code: "revoked",
      reason: `文书已被撤销：${revoked.revokedAt.slice(0, 10)}：${reason}`,
      claims,
      signer: { kind: "city", kid: CURRENT_KID },
    });
    expect(v.reason).toContain(reason);
    // The applicant's download still serves it, as what it now is.
    expect(await resultJson(caseNo, queryCode)).toEqual({ id, token, claims, issuer: "CITY", status: "revoked", revoked: { reason, revokedAt: revoked.revokedAt } });

    const listRes = await call("/api/approvals/revocations");
    expect(listRes.status).toBe(200);
    const list = await json<{ token: string; updatedAt: string; revoked: { id: string; revokedAt: string; reason: string }[] }>(listRes);
    expect(Object.keys(list).sort()).toEqual(["revoked", "token", "updatedAt"]);
    expect(list.revoked).toContainEqual({ id, revokedAt: revoked.revokedAt, reason });
    expect(list.updatedAt).toBe(list.revoked.map((r) => r.revokedAt).sort().at(-1));
    expect(decodeProtectedHeader(list.token)).toEqual({ alg: "EdDSA", kid: CURRENT_KID, typ: REVOCATIONS_TYP });

    const jwks = await publishedJwks();
    const verified = await verifyRevocationList(list.token, jwks);
    expect(verified).toEqual({ iss: BASE, iat: expect.any(Number), updatedAt: list.updatedAt, revoked: list.revoked });

    const tampered = tamperPayload(list.token, (p) => {
      p.revoked = p.revoked.filter((r: { id: string }) => r.id !== id);
    });
    expect(await verifyRevocationList(tampered, jwks)).toBeNull();
    expect(await verifyRevocationList(tamperSignature(list.token), jwks)).toBeNull();
    // A list signed by a key the city never published.
    const foreign = await signClaims(decodeJwt(list.token), await foreignKey(), CURRENT_KID, REVOCATIONS_TYP);
    expect(await verifyRevocationList(foreign, jwks)).toBeNull();
  });
});

// ------------------------------------------------------------------------------------------ 9. delegations

describe("delegations to township nodes", () => {
  it("an admin delegates items to an enrolled node; the node's next pull carries it", async () => {
    const node = await enrolNode(freshCode("DG"));
    const first = await pullAs(node, null);
    expect(first.status).toBe(200);
    const { cursor } = await json<PullResponse>(first);

    const validFrom = new Date(Date.now() - 60_000);
    const validUntil = new Date(Date.now() + 30 * 86_400_000);
    const items = [immediateLicenceItem.code, otherImmediateItem.code, immediateLicenceItem.code];
    const t0 = Date.now();
    const res = await postDelegation(node.code, { items, validFrom: validFrom.toISOString(), validUntil: validUntil.toISOString() });
    expect(res.status).toBe(201);
    const row = await json(res);
    expect(row).toEqual({
      id: expect.stringMatching(UUID),
      node: node.code,
      token: expect.any(String),
      items: [immediateLicenceItem.code, otherImmediateItem.code],
      validFrom: validFrom.toISOString(),
      validUntil: validUntil.toISOString(),
      issuedAt: expect.stringMatching(ISO),
    });
    expect(Date.parse(row.issuedAt)).toBeGreaterThanOrEqual(t0 - 1000);

    expect(decodeProtectedHeader(row.token)).toEqual({ alg: "EdDSA", kid: CURRENT_KID, typ: DELEGATION_TYP });
    const jwks = await publishedJwks();
    const { payload } = await compactVerify(row.token, await importJWK(jwks.keys.find((k) => k.kid === CURRENT_KID)!, "EdDSA"));
    expect(JSON.parse(new TextDecoder().decode(payload))).toEqual({
      jti: row.id,
      iss: BASE,
      sub: node.code,
      cnf: { jwk: { kty: "OKP", crv: "Ed25519", x: node.publicJwk.x } },
      items: [immediateLicenceItem.code, otherImmediateItem.code],
      iat: Math.floor(Date.parse(row.issuedAt) / 1000),
      nbf: Math.floor(validFrom.getTime() / 1000),
      exp: Math.floor(validUntil.getTime() / 1000),
    });

    const next = await pullAs(node, cursor);
    expect(next.status).toBe(200);
    const pulled = await json<PullResponse>(next);
    expect(pulled.delegations).toEqual([row]);

    // Another node does not receive it.
    const other = await enrolNode(freshCode("DG"));
    const otherPull = await json<PullResponse>(await pullAs(other, cursor));
    expect(otherPull.delegations.map((d) => d.id)).not.toContain(row.id);
  });

  it("validFrom defaults to now", async () => {
    const node = await enrolNode(freshCode("DG"));
    const t0 = Date.now();
    const res = await postDelegation(node.code, { items: [immediateLicenceItem.code], validUntil: new Date(Date.now() + 86_400_000).toISOString() });
    expect(res.status).toBe(201);
    const row = await json(res);
    expect(row.validFrom).toBe(row.issuedAt);
    expect(Date.parse(row.validFrom)).toBeGreaterThanOrEqual(t0 - 1000);
  });

  it("refuses an unknown node (404), a backwards validity (400), bad item codes (400) and other roles (403)", async () => {
    const node = await enrolNode(freshCode("DG"));
    const validUntil = new Date(Date.now() + 86_400_000).toISOString();
    const path = (code: string) => `/api/admin/nodes/${code}/delegation`;

    const unknownCode = "NOSUCHNODE9";
    expect(await problem(await postDelegation(unknownCode, { items: [immediateLicenceItem.code], validUntil }), 404)).toEqual({
      type: problemType("not_found"),
      title: "资源不存在",
      status: 404,
      detail: `节点 ${unknownCode} 未登记`,
      code: "not_found",
      instance: path(unknownCode),
      node: unknownCode,
    });

    const backwards = await postDelegation(node.code, {
      items: [immediateLicenceItem.code],
      validFrom: new Date(Date.now() + 2 * 86_400_000).toISOString(),
      validUntil,
    });
    expect(await problem(backwards, 400)).toEqual({
      type: problemType("validation_failed"),
      title: "请求参数不合法",
      status: 400,
      detail: "validUntil 必须晚于 validFrom",
      code: "validation_failed",
      instance: path(node.code),
      field: "validUntil",
    });

    const short = await postDelegation(node.code, { items: ["123"], validUntil });
    expect(await problem(short, 400)).toEqual(
      validationProblem(path(node.code), { field: "items.0", message: "事项编码应为31位" }, { field: "items", message: "包含无效的事项编码" }),
    );
    const wellShapedButInvalid = await postDelegation(node.code, { items: ["1".repeat(31)], validUntil });
    expect(await problem(wellShapedButInvalid, 400)).toEqual(validationProblem(path(node.code), { field: "items", message: "包含无效的事项编码" }));
    expect(await problem(await postDelegation(node.code, { items: [], validUntil }), 400)).toEqual(
      validationProblem(path(node.code), { field: "items", message: "至少授权一个事项" }),
    );

    const approver = await postDelegation(node.code, { items: [immediateLicenceItem.code], validUntil }, "approver");
    expect(approver.headers.get("www-authenticate")).toBe('Bearer realm="tongban", error="insufficient_scope"');
    expect(await problem(approver, 403)).toEqual(
      problemBody("forbidden", "部门审批人员无权管理节点与密钥", path(node.code), { requiredRoles: ["admin"], role: "approver" }),
    );
    const anonymous = await call(path(node.code), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ items: [immediateLicenceItem.code], validUntil }) });
    expect(anonymous.headers.get("www-authenticate")).toBe('Bearer realm="tongban"');
    expect(await problem(anonymous, 401)).toEqual(problemBody("unauthorized", "请先登录，再管理节点与密钥", path(node.code)));

    expect(await countRows("select count(*) as n from delegations where node = ?", node.code)).toBe(0);
  });

  it("a revoked node gets no delegation (409)", async () => {
    const node = await enrolNode(freshCode("DG"));
    expect((await revokeNode(node.code)).status).toBe(200);
    const res = await postDelegation(node.code, { items: [immediateLicenceItem.code], validUntil: new Date(Date.now() + 86_400_000).toISOString() });
    expect(await problem(res, 409)).toEqual({
      type: problemType("conflict"),
      title: "与现有数据冲突",
      status: 409,
      detail: `节点 ${node.code} 已被撤销，不能授权`,
      code: "conflict",
      instance: `/api/admin/nodes/${node.code}/delegation`,
      node: node.code,
    });
    expect(await countRows("select count(*) as n from delegations where node = ?", node.code)).toBe(0);
  });
});

// ------------------------------------------------------------------------------------------ 10. node-signed documents

describe("documents signed by a township node under a delegation", () => {
  const inAnHour = () => new Date(Date.now() + 3_600_000);

  it("a delegation covering the item makes the node's document valid", async () => {
    const node = await enrolNode(freshCode("NS"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(60), new Date(Date.now() + 86_400_000));
    const claims = claimsFor(immediateLicenceItem, { delegation: del.token });
    const { token, kid } = await nodeSigned(node, claims);
    expect(kid).toMatch(new RegExp(`^node:${node.code}:`));
    expect(decodeProtectedHeader(token)).toEqual({ alg: "EdDSA", kid, typ: APPROVAL_TYP });
    expect(await verifyBody(token)).toEqual({
      valid: true,
      status: "valid",
      code: "ok",
      reason: "签名有效，文书真实",
      claims,
      signer: { kind: "node", node: node.code, kid, delegationKid: CURRENT_KID },
    });
  });

  it("a node's key cannot vouch for another node's case: delegation_case", async () => {
    const node = await enrolNode(freshCode("NS"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(60), new Date(Date.now() + 86_400_000));
    const claims = claimsFor(immediateLicenceItem, { delegation: del.token, caseNo: formatCaseNo("OTHER1", new Date(), 7) });
    const { token } = await nodeSigned(node, claims);
    expect(await verifyBody(token)).toMatchObject({ valid: false, status: "invalid", code: "delegation_case" });
  });

  it("revoking a delegation, or the node, revokes what its key signed under it", async () => {
    const node = await enrolNode(freshCode("NS"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(60), new Date(Date.now() + 86_400_000));
    const { token } = await nodeSigned(node, claimsFor(immediateLicenceItem, { delegation: del.token }));
    expect(await verifyBody(token)).toMatchObject({ valid: true });
    const res = await staffJson("POST", `/api/admin/delegations/${del.id}/revoke`, "admin", { reason: "节点电脑失窃" });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ id: del.id, node: node.code, revokedAt: expect.any(String), reason: "节点电脑失窃" });
    expect(await verifyBody(token)).toMatchObject({ valid: false, status: "revoked", code: "delegation_revoked", reason: expect.stringContaining("节点电脑失窃") });

    const other = await enrolNode(freshCode("NS"));
    const del2 = await delegate(other, [immediateLicenceItem.code], minutesAgo(60), new Date(Date.now() + 86_400_000));
    const signed = await nodeSigned(other, claimsFor(immediateLicenceItem, { delegation: del2.token }));
    expect((await staffJson("POST", `/api/admin/nodes/${other.code}/revoke`, "admin", {})).status).toBe(200);
    expect(await verifyBody(signed.token)).toMatchObject({ status: "revoked", code: "delegation_revoked", reason: expect.stringContaining(`节点 ${other.code} 已撤销`) });
  });

  it("a delegation that does not cover the item is delegation_item", async () => {
    const node = await enrolNode(freshCode("NS"));
    const del = await delegate(node, [otherImmediateItem.code], minutesAgo(60), inAnHour());
    const claims = claimsFor(immediateLicenceItem, { delegation: del.token });
    const { token, kid } = await nodeSigned(node, claims);
    expect(await verifyBody(token)).toEqual({
      valid: false,
      status: "invalid",
      code: "delegation_item",
      reason: `授权书不包含该事项：${immediateLicenceItem.code}`,
      claims,
      signer: { kind: "node", node: node.code, kid, delegationKid: CURRENT_KID },
    });
  });

  it("a document issued after its delegation ended is delegation_expired", async () => {
    const node = await enrolNode(freshCode("NS"));
    // Delegation valid for one hour, three hours ago; the document issued two hours after it started.
    const from = minutesAgo(180);
    const del = await delegate(node, [immediateLicenceItem.code], from, new Date(from.getTime() + 3_600_000));
    const claims = claimsFor(immediateLicenceItem, { delegation: del.token, issuedAt: new Date(from.getTime() + 2 * 3_600_000) });
    const { token, kid } = await nodeSigned(node, claims);
    expect(claims.exp * 1000).toBeGreaterThan(Date.now());
    expect(await verifyBody(token)).toEqual({
      valid: false,
      status: "invalid",
      code: "delegation_expired",
      reason: "签发时授权书不在有效期内",
      claims,
      signer: { kind: "node", node: node.code, kid, delegationKid: CURRENT_KID },
    });
  });

  it("a document issued while its delegation was valid stays valid after the delegation ends", async () => {
    const node = await enrolNode(freshCode("NS"));
    const from = minutesAgo(180);
    const del = await delegate(node, [immediateLicenceItem.code], from, new Date(from.getTime() + 3_600_000));
    const claims = claimsFor(immediateLicenceItem, { delegation: del.token, issuedAt: new Date(from.getTime() + 30 * 60_000) });
    const { token, kid } = await nodeSigned(node, claims);
    expect(await verifyBody(token)).toEqual({
      valid: true,
      status: "valid",
      code: "ok",
      reason: "签名有效，文书真实",
      claims,
      signer: { kind: "node", node: node.code, kid, delegationKid: CURRENT_KID },
    });
  });

  it("a document issued before its delegation started is delegation_expired too", async () => {
    const node = await enrolNode(freshCode("NS"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(30), inAnHour());
    const claims = claimsFor(immediateLicenceItem, { delegation: del.token, issuedAt: minutesAgo(90) });
    const { token } = await nodeSigned(node, claims);
    expect(await verifyBody(token)).toMatchObject({ valid: false, status: "invalid", code: "delegation_expired" });
  });

  it("a delegation signed by a key the city never published is delegation_invalid", async () => {
    const node = await enrolNode(freshCode("NS"));
    const now = Math.floor(Date.now() / 1000);
    const delegationClaims = {
      jti: crypto.randomUUID(),
      iss: BASE,
      sub: node.code,
      cnf: { jwk: { kty: "OKP", crv: "Ed25519", x: node.publicJwk.x } },
      items: [immediateLicenceItem.code],
      iat: now - 3600,
      nbf: now - 3600,
      exp: now + 86_400,
    };
    const rogue = await foreignKey();

    const unknownKid = await signClaims(delegationClaims, rogue, "foreign-1", DELEGATION_TYP);
    const a = await nodeSigned(node, claimsFor(immediateLicenceItem, { delegation: unknownKid }));
    expect(await verifyBody(a.token)).toEqual({
      valid: false,
      status: "invalid",
      code: "delegation_invalid",
      reason: "乡镇节点的授权书无效（不是本中心签发或已被篡改）：授权书的签名密钥不是本中心公布的密钥",
      claims: null,
      signer: null,
    });

    // Claiming the city's kid does not help: the signature does not match the published key.
    const posing = await signClaims(delegationClaims, rogue, CURRENT_KID, DELEGATION_TYP);
    const b = await nodeSigned(node, claimsFor(immediateLicenceItem, { delegation: posing }));
    expect(await verifyBody(b.token)).toEqual({
      valid: false,
      status: "invalid",
      code: "delegation_invalid",
      reason: "乡镇节点的授权书无效（不是本中心签发或已被篡改）",
      claims: null,
      signer: null,
    });

    // A node document without any delegation names no key the city vouches for.
    const c = await nodeSigned(node, claimsFor(immediateLicenceItem));
    expect(await verifyBody(c.token)).toMatchObject({ valid: false, code: "unknown_kid" });
  });

  it("node A's delegation on a document signed by node B's key is delegation_wrong_key", async () => {
    const a = await enrolNode(freshCode("NS"));
    const b = await enrolNode(freshCode("NS"));
    const delA = await delegate(a, [immediateLicenceItem.code], minutesAgo(60), inAnHour());
    const { token } = await nodeSigned(b, claimsFor(immediateLicenceItem, { delegation: delA.token }));
    expect(await verifyBody(token)).toEqual({
      valid: false,
      status: "invalid",
      code: "delegation_wrong_key",
      reason: "授权书授权的不是签署本文书的节点密钥",
      claims: null,
      signer: null,
    });

    // Node B signing under A's kid does not pass either: the signature is checked with A's key.
    const kidA = await nodeKid(a.code, a.publicJwk);
    const underA = await signClaims(claimsFor(immediateLicenceItem, { delegation: delA.token }), b.privateKey, kidA, APPROVAL_TYP);
    expect(await verifyBody(underA)).toMatchObject({ valid: false, code: "bad_signature" });
  });

  it("tampered claims of a node document are bad_signature", async () => {
    const node = await enrolNode(freshCode("NS"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(60), inAnHour());
    const { token } = await nodeSigned(node, claimsFor(immediateLicenceItem, { delegation: del.token }));
    const forged = tamperPayload(token, (p) => {
      p.holder.name = "冒名者";
    });
    expect(await verifyBody(forged)).toEqual({
      valid: false,
      status: "invalid",
      code: "bad_signature",
      reason: "签名校验失败，文书内容可能被篡改",
      claims: null,
      signer: null,
    });
    // Swapping the delegation for a broader one (another genuine delegation) breaks the signature too.
    const broader = await delegate(node, [immediateLicenceItem.code, otherImmediateItem.code], minutesAgo(60), inAnHour());
    const swapped = tamperPayload(token, (p) => {
      p.del = broader.token;
    });
    expect(await verifyBody(swapped)).toMatchObject({ valid: false, code: "bad_signature" });
    expect(await verifyBody(tamperSignature(token))).toMatchObject({ valid: false, code: "bad_signature" });
  });
});

// ------------------------------------------------------------------------------------------ 11. by sync

describe("a node-signed approval arriving by sync", () => {
  it("is stored with the node as issuer, served by the download as is, and verifies at the city", async () => {
    const node = await enrolNode(freshCode("SY"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(120), new Date(Date.now() + 86_400_000));

    // Decided and signed at the window exactly as edge-node/approvals.ts does it.
    const chain = new NodeChain(node.code);
    const { caseNo, queryCode, document } = await signedAtWindow(node, chain, del, "许文杰");
    expect(chain.cases.get(caseNo)).toMatchObject({ state: "decided", decision: "grant" });
    const { token, kid, claims } = await document(minutesAgo(10));
    expect(claims.licenceId).toBeDefined();

    const res = await pushEvents(node, chain.events);
    expect(res.status).toBe(200);
    expect(await json<PushResponse>(res)).toMatchObject({ ackedSeq: 3, stored: 3, conflicts: [], divergence: null });

    expect((await approvalsOf(caseNo)).results).toEqual([
      {
        id: claims.jti,
        case_no: caseNo,
        token,
        kid,
        issuer: node.code,
        licence_id: claims.licenceId,
        issued_at: new Date(claims.iat * 1000).toISOString(),
        expires_at: new Date(claims.exp * 1000).toISOString(),
      },
    ]);

    const got = await resultJson(caseNo, queryCode);
    expect(got).toEqual({ id: claims.jti, token, claims, issuer: node.code, status: "valid", revoked: null });
    // The city did not issue a second document.
    expect((await approvalsOf(caseNo)).results).toHaveLength(1);
    expect(await issuedEvents(caseNo)).toBe(1);
    expect(await countRows("select count(*) as n from case_events where case_no = ? and origin = 'CITY'", caseNo)).toBe(0);

    expect(await verifyBody(token)).toEqual({
      valid: true,
      status: "valid",
      code: "ok",
      reason: "签名有效，文书真实",
      claims,
      signer: { kind: "node", node: node.code, kid, delegationKid: CURRENT_KID },
    });

    // The printable page shows the node-signed document too.
    const page = await (await result(caseNo, queryCode)).text();
    const link = `${BASE}/verify#${token}`;
    const qr = encode(link, { ecc: "L", border: 2 });
    expect(qrMatrixFromPage(page, qr.size)).toEqual(qr.data);
  });
});

// ------------------------------------------------------------------------------------------ untrustworthy pushed approvals

describe("an approval-issued event the city cannot verify", () => {
  /** A node's immediate case, granted at its window, with an `approval-issued` event carrying `token`. */
  async function pushedWithToken(makeToken: (caseNo: string) => Promise<string>, issuer: (node: TestNode) => string) {
    const node = await enrolNode(freshCode("UT"));
    const chain = new NodeChain(node.code);
    const { caseNo, queryCode } = await chain.open({ item: immediateLicenceItem, at: minutesAgo(12) });
    await chain.act(caseNo, { action: "decide", decision: "grant" }, minutesAgo(11));
    const token = await makeToken(caseNo);
    const at = minutesAgo(10).toISOString();
    await chain.append(
      caseNo,
      "approval-issued",
      { id: crypto.randomUUID(), token, kid: CURRENT_KID, issuer: issuer(node), licenceId: null, issuedAt: at, expiresAt: "2031-01-01T00:00:00.000Z", at },
      new Date(at),
    );
    // The node's chain is genuine and signed, so the batch itself is accepted.
    const res = await pushEvents(node, chain.events);
    expect(res.status).toBe(200);
    expect(await json<PushResponse>(res)).toMatchObject({ ackedSeq: 3, divergence: null });
    return { node, caseNo, queryCode, token };
  }

  it("a malformed token never turns the applicant's download into a 500; the city signs a genuine one", async () => {
    const { caseNo, queryCode } = await pushedWithToken(async () => "not-a-jws", (n) => n.code);
    const res = await result(caseNo, queryCode, "application/json");
    expect(res.status).toBe(200);
    const got = await json(res);
    expect(got.token).not.toBe("not-a-jws");
    expect(await verifyBody(got.token)).toMatchObject({ valid: true, code: "ok" });
    const page = await result(caseNo, queryCode);
    expect(page.status).toBe(200);
  });

  it("a document forged under the city's kid is not served as the case's approval", async () => {
    const rogue = await foreignKey();
    const { caseNo, queryCode, token: forged } = await pushedWithToken(
      async (caseNo) => signClaims(claimsFor(immediateLicenceItem, { caseNo }), rogue, CURRENT_KID, APPROVAL_TYP),
      () => "CITY",
    );
    expect(await verifyBody(forged)).toMatchObject({ valid: false, code: "bad_signature" });
    const res = await result(caseNo, queryCode, "application/json");
    expect(res.status).toBe(200);
    const got = await json(res);
    expect(got.token).not.toBe(forged);
    expect(await verifyBody(got.token)).toMatchObject({ valid: true, code: "ok" });
  });
});

// ------------------------------------------------------------------------------------------ one valid result per case

/** A node's granted immediate case and a document its key signed for it under `del`. */
async function signedAtWindow(node: TestNode, chain: NodeChain, del: { token: string }, applicantName: string) {
  const { caseNo, queryCode } = await chain.open({ item: immediateLicenceItem, at: minutesAgo(12), applicantName });
  await chain.act(caseNo, { action: "decide", decision: "grant" }, minutesAgo(11));
  const snapshot = chain.cases.get(caseNo)!;
  const dept = deptOf(immediateLicenceItem);
  const document = async (issuedAt: Date, alter: (c: ApprovalClaims) => ApprovalClaims = (c) => c) => {
    const made = approvalClaims({
      id: crypto.randomUUID(),
      issuer: BASE,
      issuedAt,
      validDays: VALID_DAYS,
      caseNo,
      itemCode: snapshot.itemCode,
      itemName: snapshot.itemName,
      holderName: snapshot.applicantName,
      holderIdNumber: snapshot.applicantIdNumber,
      department: { code: dept.code, name: dept.name, creditCode: dept.creditCode },
      resultType: immediateLicenceItem.resultType,
      resultName: immediateLicenceItem.resultName,
      basicCode: immediateLicenceItem.basicCode,
      delegation: del.token,
    });
    const claims = alter(made);
    const { token, kid } = await nodeSigned(node, claims);
    await chain.append(
      caseNo,
      "approval-issued",
      {
        id: claims.jti,
        token,
        kid,
        issuer: node.code,
        licenceId: claims.licenceId ?? null,
        issuedAt: new Date(claims.iat * 1000).toISOString(),
        expiresAt: new Date(claims.exp * 1000).toISOString(),
        at: issuedAt.toISOString(),
      },
      issuedAt,
    );
    return { token, id: claims.jti, kid, claims };
  };
  return { caseNo, queryCode, document };
}

describe("what the city files from a node is a valid document, once per case", () => {

  it("a document signed under a delegation revoked since is flagged, and the city signs the result itself", async () => {
    const node = await enrolNode(freshCode("RV"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(120), new Date(Date.now() + 86_400_000));
    expect((await staffJson("POST", `/api/admin/delegations/${del.id}/revoke`, "admin", { reason: "授权误发" })).status).toBe(200);
    const chain = new NodeChain(node.code);
    const { caseNo, queryCode, document } = await signedAtWindow(node, chain, del, "钟立新");
    const doc = await document(minutesAgo(10));
    const res = await pushEvents(node, chain.events);
    expect(await json<PushResponse>(res)).toMatchObject({
      ackedSeq: 3,
      conflicts: [{ origin: node.code, seq: 3, caseNo, reason: expect.stringMatching(/^电子文书无效：/) }],
    });
    expect((await approvalsOf(caseNo)).results).toEqual([]);
    const got = await resultJson(caseNo, queryCode);
    expect(got).toMatchObject({ issuer: "CITY", status: "valid", revoked: null });
    expect(got.token).not.toBe(doc.token);
  });

  it("a second document for the same case in the same batch is flagged, not filed beside the first", async () => {
    const node = await enrolNode(freshCode("TW"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(120), new Date(Date.now() + 86_400_000));
    const chain = new NodeChain(node.code);
    const { caseNo, document } = await signedAtWindow(node, chain, del, "钟立新");
    const first = await document(minutesAgo(10));
    await document(minutesAgo(9));
    const res = await pushEvents(node, chain.events);
    expect(await json<PushResponse>(res)).toMatchObject({
      ackedSeq: 4,
      conflicts: [{ origin: node.code, seq: 4, caseNo, reason: "本件已有电子文书，不再接受另一份" }],
    });
    expect((await approvalsOf(caseNo)).results.map((r) => r.id)).toEqual([first.id]);
  });
});

describe("a node-signed document is filed only if it is exactly the one the city's rules make", () => {
  async function windowDocument(alter: (c: ApprovalClaims) => ApprovalClaims, issuedMinutesAgo = 10) {
    const node = await enrolNode(freshCode("FD"));
    const del = await delegate(node, [immediateLicenceItem.code], minutesAgo(120), new Date(Date.now() + 86_400_000));
    const chain = new NodeChain(node.code);
    const { caseNo, queryCode, document } = await signedAtWindow(node, chain, del, "钟立新");
    const doc = await document(minutesAgo(issuedMinutesAgo), alter);
    const res = await pushEvents(node, chain.events);
    return { node, caseNo, queryCode, doc, body: await json<PushResponse>(res) };
  }

  it.each([
    ["another seal", (c: ApprovalClaims) => ({ ...c, seal: "泉州市人民政府行政审批专用章" }), /^电子文书内容与市级按规则签发的不符：字段 seal：/],
    ["another result", (c: ApprovalClaims) => ({ ...c, resultName: "不动产权证书" }), /^电子文书内容与市级按规则签发的不符：字段 resultName：/],
    ["a validity of a hundred years", (c: ApprovalClaims) => ({ ...c, exp: c.iat + 100 * 365 * 86_400 }), /^电子文书内容与市级按规则签发的不符：字段 exp：/],
    ["an extra claim", (c: ApprovalClaims) => ({ ...c, note: "特批" }) as ApprovalClaims, /^电子文书内容与市级按规则签发的不符：字段 note：/],
    ["no nbf", (c: ApprovalClaims) => ({ ...c, nbf: undefined }) as unknown as ApprovalClaims, /^电子文书内容与市级按规则签发的不符：字段 nbf：/],
  ])("%s: flagged, and the city signs the result itself", async (_what, alter, reason) => {
    const { node, caseNo, queryCode, doc, body } = await windowDocument(alter);
    expect(body.conflicts).toEqual([{ origin: node.code, seq: 3, caseNo, reason: expect.stringMatching(reason) }]);
    expect((await approvalsOf(caseNo)).results).toEqual([]);
    const got = await resultJson(caseNo, queryCode);
    expect(got).toMatchObject({ issuer: "CITY", status: "valid" });
    expect(got.token).not.toBe(doc.token);
  });

  it("a document dated before the case was decided: flagged", async () => {
    // Signed as if an hour earlier (every date in it consistent with that), pushed in order now.
    const backdated = (c: ApprovalClaims): ApprovalClaims => {
      const iat = c.iat - 3600;
      const exp = c.exp - 3600;
      return { ...c, iat, nbf: iat, exp, issuedOn: localDate(new Date(iat * 1000)), validUntil: localDate(new Date(exp * 1000)) };
    };
    const { node, caseNo, body } = await windowDocument(backdated);
    expect(body.conflicts).toEqual([{ origin: node.code, seq: 3, caseNo, reason: "电子文书的签发时间不在办结之后、上传之前" }]);
  });

  it("a document reusing another document's id: flagged, never a silent second approval", async () => {
    const first = await grantedCase(plainItem);
    const { id } = await resultJson(first.caseNo, first.queryCode);
    const { node, caseNo, body } = await windowDocument((c) => ({ ...c, jti: id }));
    expect(body.conflicts).toEqual([{ origin: node.code, seq: 3, caseNo, reason: "电子文书编号已被另一份文书使用" }]);
    expect((await approvalsOf(caseNo)).results).toEqual([]);
  });
});

describe("a document too long for a QR code", () => {
  it("a delegation covers at most 20 items", async () => {
    const node = await enrolNode(freshCode("QR"));
    const items = seedItems.slice(0, 21).map((i) => i.code);
    const res = await postDelegation(node.code, { items, validUntil: new Date(Date.now() + 86_400_000).toISOString() });
    expect(await problem(res, 400)).toMatchObject({ code: "validation_failed", field: "items", errors: [{ field: "items", message: "一份授权至多20个事项" }] });
  });

  it("prints with a QR code of the verify page and says to paste the document, never a 500", async () => {
    const page = resultPage(claimsFor(plainItem), "x".repeat(4_000), `${BASE}/verify`);
    const text = await Promise.resolve(page).then(String);
    expect(text).toContain("文书较长，二维码只含验证页地址");
    expect(text).toContain("<svg");
  });
});
