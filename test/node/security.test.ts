import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CSP, inlineCode, linkedAssets } from "../shared/pages.js";
import { seedItems } from "../../schema/seed/catalog.js";
import { MAX_BODY_BYTES } from "../../edge-node/app.js";
import { nodeHostNames } from "../../edge-node/hosts.js";
import { ID, rawRequest, startTestNode, type RunningNode } from "./helpers.js";

const PROBLEM = "application/problem+json; charset=utf-8";
const promised = seedItems.find((i) => i.kind === "promised" && i.places.includes("township"))!;
const intake = { itemCode: promised.code, applicant: { name: "李四", idNumber: ID.li, phone: "13800138000" }, materials: [] as string[] };
const problemType = (code: string) => `https://tongban.example.cn/problems/${code.replaceAll("_", "-")}`;

let node: RunningNode;
let port: number;
beforeEach(async () => {
  node = await startTestNode({ allowedHosts: ["hall-pc.lan"] });
  port = Number(new URL(node.url).port);
});
afterEach(async () => {
  await node.close();
});

async function caseCount(): Promise<number> {
  return Number((await node.store.client.execute("select count(*) as n from cases")).rows[0]!.n);
}


describe("security headers and CSP-clean pages on the node", () => {
  it("sends the strict CSP and the other headers on pages, JSON and problems", async () => {
    for (const path of ["/", "/api/catalog/items?pageSize=1", "/api/nothing", "/track"]) {
      const res = await fetch(node.url + path);
      expect(
        Object.fromEntries(["content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy"].map((k) => [k, res.headers.get(k)])),
        path,
      ).toEqual({ "content-security-policy": CSP, "x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
      await res.arrayBuffer();
    }
  });

  it("the console, the track page, the receipt and the notice carry no inline code and link only served assets", async () => {
    const created = await node.post("/api/cases", intake);
    expect(created.status).toBe(201);
    const pages = ["/", "/track", created.body.receiptUrl, created.body.noticeUrl];
    const seen = new Set<string>();
    for (const path of pages) {
      const res = await fetch(node.url + path, { headers: { cookie: node.cookie } });
      expect(res.status, path).toBe(200);
      const page = await res.text();
      expect(inlineCode(page), path).toEqual([]);
      for (const href of linkedAssets(page)) {
        seen.add(href.replace(/\?.*/, ""));
        const asset = await fetch(node.url + href);
        expect(asset.status, href).toBe(200);
        expect(asset.headers.get("content-type")).toBe(href.includes(".js?") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
        expect(asset.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
        await asset.arrayBuffer();
      }
    }
    expect([...seen].sort()).toEqual(["/assets/a4.css", "/assets/console.js", "/assets/print.js", "/assets/site.css"]);
    // The print button works through print.js, not an onclick attribute.
    const receipt = await (await fetch(node.url + created.body.receiptUrl, { headers: { cookie: node.cookie } })).text();
    expect(receipt).toContain('<p class="noprint"><button type="button" data-print>打印</button></p>');
    expect(await (await fetch(node.url + "/assets/print.js")).text()).toContain('document.querySelectorAll("button[data-print]")');
  });
});

describe("the node answers to its own host names only (DNS rebinding)", () => {
  const misdirected = (host: string, instance: string) => ({
    type: problemType("misdirected_request"),
    title: "主机名不属于本服务",
    status: 421,
    detail: `本服务不接受主机名 ${host} 的请求，请使用本机配置的地址访问`,
    code: "misdirected_request",
    instance,
    host,
  });

  it("421 problem for a foreign Host, on reads and writes alike, and nothing is written", async () => {
    const host = `attacker.example:${port}`;
    const read = await rawRequest(node.url, "/api/cases", { headers: { host } });
    expect(read.status).toBe(421);
    expect(read.headers["content-type"]).toBe(PROBLEM);
    expect(read.headers["content-security-policy"]).toBe(CSP);
    expect(read.body).toEqual(misdirected(host, "/api/cases"));

    const write = await rawRequest(node.url, "/api/cases", { method: "POST", headers: { host, "content-type": "application/json" }, body: JSON.stringify(intake) });
    expect(write.status).toBe(421);
    expect(write.body).toEqual(misdirected(host, "/api/cases"));
    expect(await caseCount()).toBe(0);
  });

  it("421 for one of its names on another port", async () => {
    const res = await rawRequest(node.url, "/", { headers: { host: "127.0.0.1:1" } });
    expect(res.status).toBe(421);
    expect(res.body).toEqual(misdirected("127.0.0.1:1", "/"));
  });

  it("answers to the loopback names, with or without the port, in any case, and to --allowed-hosts", async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "localhost", `LocalHost:${port}`, `[::1]:${port}`, `hall-pc.lan:${port}`, "hall-pc.lan."]) {
      const res = await rawRequest(node.url, "/healthz", { headers: { host } });
      expect({ host, status: res.status, body: res.body }).toEqual({ host, status: 200, body: { ok: true, node: "TEST01" } });
    }
  });
});

describe("nodeHostNames", () => {
  const machine = { hostname: "Hall-PC", addresses: ["127.0.0.1", "192.168.1.20", "::1", "fe80::a00:27ff:fe4e:66a1"] };
  it("on loopback: the loopback names, --host, the machine's name and --allowed-hosts, not its LAN addresses", () => {
    expect(nodeHostNames({ host: "127.0.0.1", allowedHosts: ["tongban.lan"] }, machine)).toEqual(["localhost", "127.0.0.1", "[::1]", "hall-pc", "tongban.lan"]);
  });
  it("on every interface: every interface address too (IPv6 in brackets)", () => {
    expect(nodeHostNames({ host: "0.0.0.0", allowedHosts: [] }, machine)).toEqual([
      "localhost",
      "127.0.0.1",
      "[::1]",
      "0.0.0.0",
      "hall-pc",
      "192.168.1.20",
      "[fe80::a00:27ff:fe4e:66a1]",
    ]);
    expect(nodeHostNames({ host: "::", allowedHosts: [] }, machine)).toContain("192.168.1.20");
  });
  it("bound to one LAN address: that address", () => {
    expect(nodeHostNames({ host: "192.168.1.20", allowedHosts: [] }, machine)).toEqual(["localhost", "127.0.0.1", "[::1]", "192.168.1.20", "hall-pc"]);
  });
});

describe("state changes only from the node's own pages, as JSON", () => {
  it("415 problem for a write that is not JSON (a form post, text/plain), and nothing is written", async () => {
    for (const [type, label] of [
      ["text/plain", "text/plain"],
      ["application/x-www-form-urlencoded", "application/x-www-form-urlencoded"],
      ["multipart/form-data; boundary=x", "multipart/form-data"],
    ] as const) {
      const res = await rawRequest(node.url, "/api/cases", { method: "POST", headers: { "content-type": type }, body: JSON.stringify(intake) });
      expect(res.status).toBe(415);
      expect(res.headers["content-type"]).toBe(PROBLEM);
      expect(res.body).toEqual({
        type: problemType("unsupported_media_type"),
        title: "不支持的请求内容类型",
        status: 415,
        detail: `写操作的请求必须是 application/json（Content-Type），收到 ${label}`,
        code: "unsupported_media_type",
        instance: "/api/cases",
        field: "content-type",
        accepted: ["application/json"],
      });
    }
    expect(await caseCount()).toBe(0);
  });

  it("415 for a bodiless POST (what a cross-site <form> or no-cors fetch can send to /api/sync/now)", async () => {
    const res = await rawRequest(node.url, "/api/sync/now", { method: "POST" });
    expect(res.status).toBe(415);
    expect(res.body).toMatchObject({ code: "unsupported_media_type", detail: "写操作的请求必须是 application/json（Content-Type），收到 （无）", instance: "/api/sync/now" });
  });

  it("403 problem for a write from another origin, even as JSON, and nothing is written", async () => {
    const res = await rawRequest(node.url, "/api/cases", {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://attacker.example" },
      body: JSON.stringify(intake),
    });
    expect(res.status).toBe(403);
    expect(res.headers["content-type"]).toBe(PROBLEM);
    expect(res.body).toEqual({
      type: problemType("cross_site"),
      title: "拒绝跨站请求",
      status: 403,
      detail: "拒绝来自其他网站的写操作（来源 http://attacker.example），请在本系统页面中操作",
      code: "cross_site",
      instance: "/api/cases",
      origin: "http://attacker.example",
    });
    // The same host on another port is another origin too.
    const otherPort = await rawRequest(node.url, "/api/cases", { method: "POST", headers: { "content-type": "application/json", origin: "http://127.0.0.1:1" }, body: "{}" });
    expect(otherPort.body).toMatchObject({ status: 403, code: "cross_site", origin: "http://127.0.0.1:1" });
    const fetchMeta = await rawRequest(node.url, "/api/sync/now", { method: "POST", headers: { "content-type": "application/json", "sec-fetch-site": "cross-site" }, body: "{}" });
    expect(fetchMeta.body).toEqual({
      type: problemType("cross_site"),
      title: "拒绝跨站请求",
      status: 403,
      detail: "拒绝来自其他网站的写操作（来源 跨站），请在本系统页面中操作",
      code: "cross_site",
      instance: "/api/sync/now",
      origin: null,
    });
    expect(await caseCount()).toBe(0);
  });

  it("takes a JSON write from its own origin (what the console sends), and any read from anywhere", async () => {
    const own = await rawRequest(node.url, "/api/cases", {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8", origin: node.url, "sec-fetch-site": "same-origin", cookie: node.cookie },
      body: JSON.stringify(intake),
    });
    expect(own.status).toBe(201);
    // The write guard is for writes: a read with a session is answered from any origin (a browser sends
    // its SameSite=Strict cookie only from the node's own pages, so another site reads as no one).
    const read = await rawRequest(node.url, "/api/cases", { headers: { origin: "http://attacker.example", "sec-fetch-site": "cross-site", cookie: node.cookie } });
    expect(read.status).toBe(200);
    expect(read.body.total).toBe(1);
    const anonymous = await rawRequest(node.url, "/api/cases", { headers: { origin: "http://attacker.example", "sec-fetch-site": "cross-site" } });
    expect(anonymous.status).toBe(401);
  });
});

describe("request body limit", () => {
  it("413 problem for a body over 1 MiB, declared or streamed, and nothing is written", async () => {
    const big = JSON.stringify({ ...intake, padding: "x".repeat(MAX_BODY_BYTES) });
    const expected = {
      type: problemType("payload_too_large"),
      title: "请求体过大",
      status: 413,
      detail: "请求体超过 1048576 字节的上限",
      code: "payload_too_large",
      instance: "/api/cases",
      limit: 1048576,
    };
    const declared = await rawRequest(node.url, "/api/cases", { method: "POST", headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(big)) }, body: big });
    expect(declared.status).toBe(413);
    expect(declared.headers["content-type"]).toBe(PROBLEM);
    expect(declared.body).toEqual(expected);
    // The unread rest of the body leaves the connection unusable: the answer says it closes.
    expect(declared.headers.connection).toBe("close");
    const streamed = await rawRequest(node.url, "/api/cases", { method: "POST", headers: { "content-type": "application/json", "transfer-encoding": "chunked" }, body: big });
    expect(streamed.status).toBe(413);
    expect(streamed.body).toEqual(expected);
    expect(await caseCount()).toBe(0);
    // Just under the limit is an ordinary request.
    const fine = await node.post("/api/cases", { ...intake, padding: "x".repeat(1000) });
    expect(fine.status).toBe(201);
  });
});
