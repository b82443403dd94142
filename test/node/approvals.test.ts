/**
 * Signed approvals end to end over real HTTP: a township node signs an immediate item's result
 * while the city is unreachable, prints it at once, and the city holds and verifies it after sync.
 * Documents are also checked with Node's own crypto.verify (not jose) and with the offline CLI.
 */
import { spawnSync } from "node:child_process";
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { startLocalCity, type LocalCity } from "../../scripts/lib/local-city.js";
import { enrol, FaultProxy, spawnNode, type NodeProcess } from "./harness.js";
import { ID, refusedPort } from "./helpers.js";

const immediate = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township") && i.resultType === "证照") ?? seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;
const promised = seedItems.find((i) => i.kind === "promised" && i.places.includes("township"))!;
const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

let city: LocalCity;
let proxy: FaultProxy;
let node: NodeProcess;
const dir = mkdtempSync(join(tmpdir(), "tongban-approvals-"));
const jwksFile = join(dir, "jwks.json");

beforeAll(async () => {
  city = await startLocalCity();
  proxy = new FaultProxy(await refusedPort(), city.url);
  await proxy.up();
  node = await spawnNode({ dir: join(dir, "node"), code: `AP${process.pid % 10000}`, city: proxy.url });
  await enrol(city, node);
  writeFileSync(jwksFile, JSON.stringify(await (await fetch(`${city.url}/.well-known/jwks.json`)).json()));
}, 60_000);
afterAll(async () => {
  await node?.stop();
  await proxy?.down();
  await city?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Checks a compact JWS with node:crypto alone against a JWK. */
function cryptoVerifies(token: string, jwk: Record<string, unknown>): boolean {
  const [h, p, s] = token.split(".") as [string, string, string];
  const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } as never, format: "jwk" });
  return cryptoVerify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"));
}
const part = (token: string, i: number) => JSON.parse(Buffer.from(token.split(".")[i]!, "base64url").toString()) as Record<string, any>;

function verifyCli(args: string[]) {
  const r = spawnSync(NPM, ["run", "-s", "verify", "--", ...args], { encoding: "utf8" });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe("a township signs offline under the city's delegation", () => {
  it("prints a verifiable result with the city unreachable, and the city holds it after sync", async () => {
    const validUntil = new Date(Date.now() + 30 * 86_400_000).toISOString();
    const del = await city.api(`/api/admin/nodes/${node.code}/delegation`, "admin", { body: { items: [immediate.code], validUntil } });
    expect(del.status).toBe(201);
    expect((await node.post("/api/sync/now")).body.online).toBe(true);

    await proxy.down();
    const created = await node.post("/api/cases", { itemCode: immediate.code, applicant: { name: "陈六", idNumber: ID.chen, phone: "13900002222" }, materials: immediate.materials.map((m) => m.id) });
    expect(created.status).toBe(201);
    const { caseNo, queryCode } = created.body;
    const decided = await node.post(`/api/cases/${caseNo}/actions`, { action: "decide", decision: "grant" });
    expect(decided.status).toBe(200);
    expect(decided.body.approval).toMatchObject({ issuer: node.code, resultUrl: `/api/cases/${caseNo}/result?queryCode=${queryCode}` });
    expect(await fetch(`${proxy.url}/healthz`).then(() => "reachable", () => "unreachable")).toBe("unreachable");

    // The window prints it at once.
    const page = await fetch(`${node.url}/api/cases/${caseNo}/result?queryCode=${queryCode}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("准予");
    expect(html).toContain("<svg");
    expect(html).toContain("3505**********5512");
    expect(html).not.toContain(ID.chen);
    const doc = (await node.json(`/api/cases/${caseNo}/result?queryCode=${queryCode}`, { headers: { accept: "application/json" } })).body;
    expect(doc.issuer).toBe(node.code);
    const token: string = doc.token;
    expect(part(token, 0)).toMatchObject({ alg: "EdDSA", typ: "tongban-approval+jwt", kid: expect.stringMatching(new RegExp(`^node:${node.code}:`)) });

    // Anyone with the city's published keys can check it offline, with Node's crypto alone:
    // the delegation is signed by a city key and names the node key that signed the document.
    const jwks = (await import("node:fs")).readFileSync(jwksFile, "utf8");
    const cityKeys = JSON.parse(jwks).keys as Record<string, unknown>[];
    const delegation: string = part(token, 1).del;
    const cityKey = cityKeys.find((k) => k.kid === part(delegation, 0).kid)!;
    expect(cryptoVerifies(delegation, cityKey)).toBe(true);
    const nodeKey = part(delegation, 1).cnf.jwk;
    expect(part(delegation, 1)).toMatchObject({ sub: node.code, items: [immediate.code] });
    expect(cryptoVerifies(token, nodeKey)).toBe(true);
    // One character inside the signature changed (the last ones carry padding bits, so not those).
    const at = token.length - 10;
    expect(cryptoVerifies(`${token.slice(0, at)}${token[at] === "A" ? "B" : "A"}${token.slice(at + 1)}`, nodeKey)).toBe(false);

    // And with the offline verifier.
    const offline = verifyCli([token, "--jwks", jwksFile]);
    expect(offline.status).toBe(0);
    expect(offline.out).toContain("结论：有效（ok）");
    expect(offline.out).toContain(`乡镇节点 ${node.code}（经市级授权`);

    // The link comes back: the approval reaches the city, which serves the same document.
    await proxy.up();
    expect((await node.post("/api/sync/now")).body).toMatchObject({ online: true, pendingEvents: 0 });
    const atCity = await fetch(`${city.url}/api/cases/${caseNo}/result?queryCode=${queryCode}`, { headers: { accept: "application/json" } });
    expect(atCity.status).toBe(200);
    expect(((await atCity.json()) as { token: string }).token).toBe(token);
    const verified = await (await fetch(`${city.url}/api/verify`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ token }) })).json();
    expect(verified).toMatchObject({ valid: true, status: "valid", code: "ok", signer: { kind: "node", node: node.code } });
    const rows = await city.d1.prepare("select issuer from approvals where case_no = ?").bind(caseNo).all<{ issuer: string }>();
    expect(rows.results).toEqual([{ issuer: node.code }]);
  });

  it("a city-signed result verifies with node:crypto against the published JWKS; revoked, the offline tool says so", async () => {
    await proxy.up();
    const created = await node.post("/api/cases", { itemCode: promised.code, applicant: { name: "林七", idNumber: ID.wang, phone: "13900003333" }, materials: promised.materials.map((m) => m.id) });
    const { caseNo, queryCode } = created.body;
    expect((await node.post(`/api/cases/${caseNo}/actions`, { action: "forward" })).status).toBe(200);
    await node.post("/api/sync/now");
    const dec = await city.api(`/api/cases/${caseNo}/actions`, "approver", { body: { action: "decide", decision: "grant" } });
    expect(dec.body.approval.issuer).toBe("CITY");
    const doc = (await (await fetch(`${city.url}/api/cases/${caseNo}/result?queryCode=${queryCode}`, { headers: { accept: "application/json" } })).json()) as { id: string; token: string };
    const jwks = (await (await fetch(`${city.url}/.well-known/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    const key = jwks.keys.find((k) => k.kid === part(doc.token, 0).kid)!;
    expect(key.d).toBeUndefined();
    expect(cryptoVerifies(doc.token, key)).toBe(true);
    const [h, p, s] = doc.token.split(".");
    const forged = Buffer.from(JSON.stringify({ ...part(doc.token, 1), holder: { name: "冒名", idNumber: "1101**********002X" } })).toString("base64url");
    expect(cryptoVerifies(`${h}.${forged}.${s}`, key)).toBe(false);
    void p;

    // The pulled result is at the node too, where the window hands it over.
    await node.post("/api/sync/now");
    const atNode = (await node.json(`/api/cases/${caseNo}/result?queryCode=${queryCode}`, { headers: { accept: "application/json" } })).body;
    expect(atNode.token).toBe(doc.token);

    const revoke = await city.api(`/api/admin/approvals/${doc.id}/revoke`, "admin", { body: { reason: "申请人提供虚假材料" } });
    expect(revoke.status).toBe(200);
    const revokedAt: string = revoke.body.revokedAt;

    // The download says so, at the city and — after its next pull — at the node's window.
    for (const base of [city.url, node.url]) {
      if (base === node.url) expect((await node.post("/api/sync/now")).body.online).toBe(true);
      const asJson = (await (await fetch(`${base}/api/cases/${caseNo}/result?queryCode=${queryCode}`, { headers: { accept: "application/json" } })).json()) as Record<string, unknown>;
      expect(asJson).toMatchObject({ id: doc.id, token: doc.token, status: "revoked", revoked: { reason: "申请人提供虚假材料", revokedAt } });
      const printed = await (await fetch(`${base}/api/cases/${caseNo}/result?queryCode=${queryCode}`)).text();
      expect(printed).toContain('<div class="sheet is-revoked">');
      expect(printed).toContain("<strong>已撤销</strong>");
      expect(printed).toContain("撤销理由：申请人提供虚假材料");
    }
    const list = (await (await fetch(`${city.url}/api/approvals/revocations`)).json()) as { token: string };
    const listFile = join(dir, "revocations.json");
    writeFileSync(listFile, JSON.stringify(list));
    const revoked = verifyCli([doc.token, "--jwks", jwksFile, "--revocations", listFile]);
    expect(revoked.status).toBe(1);
    expect(revoked.out).toContain("结论：已撤销（revoked）");
    expect(revoked.out).toContain("申请人提供虚假材料");

    // A revocation list that was tampered with is refused, not trusted.
    const bad = join(dir, "bad-revocations.json");
    writeFileSync(bad, JSON.stringify({ token: list.token.slice(0, -3) + "AAA" }));
    const refused = verifyCli([doc.token, "--jwks", jwksFile, "--revocations", bad]);
    expect(refused.status).toBe(2);
    expect(refused.out).toContain("签名无效");
    // A QR scan gives the verify link; the tool takes it as it is.
    const link = verifyCli([`${city.url}/verify#${doc.token}`, "--jwks", jwksFile]);
    expect(link.status).toBe(0);
  });
});
