import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { ID, startTestNode, type RunningNode } from "./helpers.js";

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const promised = seedItems.find((i) => i.kind === "promised" && i.places.includes("township"))!;
const intake = { itemCode: promised.code, applicant: { name: "李四", idNumber: ID.li, phone: "13800138000" }, materials: [] as string[] };

let node: RunningNode;
beforeEach(async () => {
  node = await startTestNode();
});
afterEach(async () => {
  await node.close();
});

/** Everything in a page that a strict CSP would block: inline scripts, inline styles, event handler attributes. */
function inlineCode(page: string): string[] {
  return [
    ...[...page.matchAll(/<script(?![^>]*\ssrc=)[^>]*>/gi)].map((m) => m[0]),
    ...[...page.matchAll(/<style[\s>]/gi)].map((m) => m[0]),
    ...[...page.matchAll(/\sstyle\s*=\s*["'][^"']*["']/gi)].map((m) => m[0]),
    ...[...page.matchAll(/\son[a-z]+\s*=\s*["'][^"']*["']/gi)].map((m) => m[0]),
  ];
}
const linkedAssets = (page: string) => [...page.matchAll(/<(?:script src|link rel="stylesheet" href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);

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
      const res = await fetch(node.url + path);
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
    const receipt = await (await fetch(node.url + created.body.receiptUrl)).text();
    expect(receipt).toContain('<p class="noprint"><button type="button" data-print>打印</button></p>');
    expect(await (await fetch(node.url + "/assets/print.js")).text()).toContain('document.querySelectorAll("button[data-print]")');
  });
});
