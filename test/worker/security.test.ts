import { describe, expect, it } from "vitest";
import { CSP, inlineCode, linkedAssets } from "../shared/pages.js";
import { seedItems } from "../../schema/seed/catalog.js";
import { bearer, call, problem, problemType } from "./helpers.js";

const PAGES = ["/", `/items/${seedItems[0]!.code}`, "/verify", "/reconcile", "/track"];



describe("security headers on every response of the city", () => {
  it("sends the strict CSP, no framing, no sniffing and no referrer on pages, JSON, problems and 404s", async () => {
    for (const path of [...PAGES, "/api/catalog/items?pageSize=1", "/api/catalog/items/nonsense", "/no/such/page", "/healthz"]) {
      const res = await call(path);
      const h = Object.fromEntries(["content-security-policy", "x-frame-options", "x-content-type-options", "referrer-policy", "cross-origin-opener-policy", "permissions-policy"].map((k) => [k, res.headers.get(k)]));
      expect(h, path).toEqual({
        "content-security-policy": CSP,
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
      });
      await res.arrayBuffer();
    }
  });

  it("keeps the header when a role check fails (problem answers too)", async () => {
    const res = await call("/api/reconcile");
    expect(res.headers.get("content-security-policy")).toBe(CSP);
    expect((await problem(res, 401)).code).toBe("unauthorized");
  });
});

describe("pages satisfy the CSP: no inline code, every script and style is a served asset", () => {
  it.each(PAGES)("%s", async (path) => {
    const res = await call(path);
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(inlineCode(page)).toEqual([]);
    const assets = linkedAssets(page);
    expect(assets.some((a) => a.startsWith("/assets/site.css?v="))).toBe(true);
    if (path === "/verify") expect(assets.some((a) => a.startsWith("/assets/verify.js?v="))).toBe(true);
    if (path === "/reconcile") expect(assets.some((a) => a.startsWith("/assets/reconcile.js?v="))).toBe(true);
    for (const href of assets) {
      const asset = await call(href);
      expect(asset.status, href).toBe(200);
      expect(asset.headers.get("content-type"), href).toBe(href.includes(".js?") ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8");
      expect((await asset.text()).length, href).toBeGreaterThan(20);
    }
  });

  it("keeps the pages' text and ids the scripts rely on", async () => {
    const verify = await (await call("/verify")).text();
    expect(verify).toContain('<textarea id="token" rows="6" class="full-width" placeholder="eyJhbGciOiJFZERTQSIs…"></textarea>');
    expect(verify).toContain('<p><button id="go">验证</button></p><div id="out"></div>');
    const script = await (await call(linkedAssets(verify).find((a) => a.includes("verify.js"))!)).text();
    expect(script).toContain('if (location.hash.length > 1) { $("#token").value = decodeURIComponent(location.hash.slice(1)); check(); }');
    // The escape table survives being moved out of the page: a quote becomes &quot;.
    expect(script).toContain(`"\\"":"&quot;"`);
  });
});

describe("GET /assets/:name", () => {
  it("serves the current version for good, revalidates anything else, and answers 304 to its ETag", async () => {
    const href = linkedAssets(await (await call("/reconcile")).text()).find((a) => a.includes("reconcile.js"))!;
    const version = new URL(href, "http://x").searchParams.get("v")!;
    const current = await call(href);
    expect(current.status).toBe(200);
    expect(current.headers.get("etag")).toBe(`"${version}"`);
    expect(current.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(current.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await current.text()).toContain('$("#run").onclick = verify;');

    const unversioned = await call("/assets/reconcile.js");
    expect(unversioned.headers.get("cache-control")).toBe("no-cache");
    expect(unversioned.headers.get("etag")).toBe(`"${version}"`);
    await unversioned.arrayBuffer();

    const revalidated = await call("/assets/reconcile.js", { headers: { "if-none-match": `W/"other", "${version}"` } });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe("");
  });

  it("serves the tab icon every page links (else browsers log a /favicon.ico 404 on each first visit)", async () => {
    const page = await (await call("/")).text();
    const href = /<link rel="icon" href="(\/assets\/favicon\.svg\?v=\w+)">/.exec(page)![1]!;
    const icon = await call(href);
    expect(icon.status).toBe(200);
    expect(icon.headers.get("content-type")).toBe("image/svg+xml");
    expect(await icon.text()).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  });

  it("404 problem for an asset that does not exist, and the node's console script is not the city's", async () => {
    for (const name of ["nope.js", "console.js"]) {
      expect(await problem(await call(`/assets/${name}`), 404)).toEqual({
        type: problemType("not_found"),
        title: "资源不存在",
        status: 404,
        detail: `没有这个静态资源：${name}`,
        code: "not_found",
        instance: `/assets/${name}`,
      });
    }
  });
});

describe("403 answers to staff say why in WWW-Authenticate (RFC 6750)", () => {
  it("a valid token of another role: insufficient_scope", async () => {
    const res = await call("/api/reconcile", { headers: await bearer("clerk") });
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="tongban", error="insufficient_scope"');
    expect(await problem(res, 403)).toEqual({
      type: problemType("forbidden"),
      title: "无权执行该操作",
      status: 403,
      detail: "窗口人员无权查看节点对账",
      code: "forbidden",
      instance: "/api/reconcile",
      requiredRoles: ["supervisor", "admin"],
      role: "clerk",
    });
  });

  it("a 403 that is not about a token (a wrong query code) does not ask for one", async () => {
    const res = await call("/api/cases/ABC01-20261123-0001/result?queryCode=ABCDEFGH");
    expect(res.headers.get("www-authenticate")).toBeNull();
    expect(await problem(res, 403)).toMatchObject({ code: "forbidden", field: "queryCode" });
  });
});
