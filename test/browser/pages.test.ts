/**
 * Every page in a real browser (Debian's chromium driven by playwright-core) against the real
 * city (workerd) and a real node: the CSP holds (no violation, no console error), each page's
 * own script ran, and a screenshot of each lands in test-results/screenshots/ for a human look.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { ROOT } from "../../scripts/lib/root.js";
import { startLocalCity, type LocalCity } from "../../scripts/lib/local-city.js";
import { enrol, spawnNode, type NodeProcess } from "../node/harness.js";
import { ID, TEST_CLERK } from "../node/helpers.js";

// Debian's chromium (what .ci/run installs); TONGBAN_CHROMIUM points elsewhere on other systems.
const CHROMIUM = process.env.TONGBAN_CHROMIUM ?? "/usr/bin/chromium";
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const SCREENSHOTS = join(ROOT, "test-results/screenshots");
// Headless, and nothing that talks to Google or needs a GPU or a sandbox (CI runs as root in a container).
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const licence = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township") && i.resultType === "证照")!;
const intakeItem = seedItems.find((i) => i.kind === "promised" && i.places.includes("township"))!;

let city: LocalCity;
let node: NodeProcess;
let browser: BrowserContext;
let profile: string;
const dir = mkdtempSync(join(tmpdir(), "tongban-browser-"));
let granted: { caseNo: string; queryCode: string; token: string };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium fonts-noto-cjk, or set TONGBAN_CHROMIUM`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  city = await startLocalCity();
  node = await spawnNode({ dir: join(dir, "node"), code: "BRW01", city: city.url });
  await enrol(city, node);
  // A result signed at the window under the city's delegation, then synced, so both sides hold it.
  const validUntil = new Date(Date.now() + 30 * 86_400_000).toISOString();
  expect((await city.api(`/api/admin/nodes/${node.code}/delegation`, "admin", { body: { items: [licence.code], validUntil } })).status).toBe(201);
  expect((await node.post("/api/sync/now", {})).body.online).toBe(true);
  const created = await node.post("/api/cases", { itemCode: licence.code, applicant: { name: "陈六", idNumber: ID.chen, phone: "13900002222" }, materials: licence.materials.map((m) => m.id) });
  expect(created.status).toBe(201);
  const { caseNo, queryCode } = created.body;
  expect((await node.post(`/api/cases/${caseNo}/actions`, { action: "decide", decision: "grant" })).status).toBe(200);
  const doc = await node.json(`/api/cases/${caseNo}/result?queryCode=${queryCode}`, { headers: { accept: "application/json" } });
  granted = { caseNo, queryCode, token: doc.body.token };
  expect((await node.post("/api/sync/now", {})).body).toMatchObject({ online: true, pendingEvents: 0 });

  profile = mkdtempSync(join(tmpdir(), "tongban-chromium-"));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1200, height: 900 }, locale: "zh-CN" });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await node?.stop();
  await city?.close();
  for (const d of [dir, profile]) if (d) rmSync(d, { recursive: true, force: true });
});

interface Visit {
  page: Page;
  /** Saves a screenshot, closes the page and returns what went wrong on it. */
  finish(screenshot: string): Promise<{ violations: string[]; problems: string[] }>;
}

const CLEAN = { violations: [], problems: [] };

// Runs in the page (a CDP-injected script, which the page's CSP does not govern); this file is
// typechecked without the DOM library, hence a string.
const RECORD_VIOLATIONS = `document.addEventListener("securitypolicyviolation", (e) => {
  (window.__violations ??= []).push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile + ":" + e.lineNumber);
});`;

/** Opens `url` in a fresh tab that records CSP violations, console errors and uncaught exceptions. */
async function visit(url: string): Promise<Visit> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  await page.addInitScript({ content: RECORD_VIOLATIONS });
  const res = await page.goto(url, { waitUntil: "load" });
  expect(res!.status(), url).toBe(200);
  expect(res!.headers()["content-security-policy"], url).toBe(CSP);
  return {
    page,
    async finish(screenshot) {
      await page.screenshot({ path: join(SCREENSHOTS, `${screenshot}.png`), fullPage: true });
      const violations = (await page.evaluate("window.__violations ?? []")) as string[];
      await page.close();
      return { violations, problems };
    },
  };
}

/** The computed value of a CSS property: proof that the stylesheet asset loaded and applied. */
const css = (page: Page, selector: string, property: string) =>
  page.$eval(selector, (el, p) => (globalThis as any).getComputedStyle(el).getPropertyValue(p) as string, property);

describe("the city's pages in a browser", () => {
  it("the catalog: styled, with items", async () => {
    const v = await visit(`${city.url}/`);
    expect(await css(v.page, "header.top", "background-color")).toBe("rgb(183, 28, 28)");
    expect(await v.page.locator("tbody tr").count()).toBeGreaterThan(5);
    expect(await v.finish("city-catalog")).toEqual(CLEAN);
  });

  it("an item's guide", async () => {
    const v = await visit(`${city.url}/items/${licence.code}`);
    expect(await v.page.locator("h1").textContent()).toBe(licence.name);
    expect(await css(v.page, "section.card", "background-color")).toBe("rgb(255, 255, 255)");
    expect(await v.finish("city-item-guide")).toEqual(CLEAN);
  });

  it("/verify with a document in the link's hash: its script posts it and shows 有效", async () => {
    const v = await visit(`${city.url}/verify#${granted.token}`);
    await v.page.locator("#out h2").waitFor();
    expect(await v.page.locator("#out h2").textContent()).toBe("有效");
    expect(await v.page.locator("#out h2").getAttribute("class")).toBe("light-green");
    expect(await v.page.locator("#out").textContent()).toContain(granted.caseNo);
    expect(await css(v.page, "#token", "width")).toBe(await css(v.page, "#out", "width"));
    expect(await v.finish("city-verify")).toEqual(CLEAN);
  });

  it("/reconcile: its script reads the calendar, and with a supervisor token the nodes", async () => {
    const v = await visit(`${city.url}/reconcile`);
    await expect.poll(() => v.page.locator("#calendar").textContent()).toContain("工作日历已录入");
    await v.page.fill("#token", await city.token("supervisor"));
    await v.page.click("#save");
    await expect.poll(() => v.page.locator("#nodes").textContent()).toContain("BRW01");
    await v.page.click("#run");
    await expect.poll(() => v.page.locator("#verify").textContent()).toMatch(/^全部 \d+ 条链、\d+ 个事件校验通过。$/);
    expect(await v.finish("city-reconcile")).toEqual(CLEAN);
  });

  it("/track: the applicant's view of the synced case", async () => {
    const v = await visit(`${city.url}/track?caseNo=${granted.caseNo}&queryCode=${granted.queryCode}`);
    expect(await v.page.locator("section.card h2").textContent()).toBe(licence.name);
    expect(await v.page.locator("section.card").textContent()).toContain("3505**********5512");
    expect(await v.finish("city-track")).toEqual(CLEAN);
  });
});

describe("the node's pages in a browser", () => {
  // Each test starts signed in as the harness's clerk (its session cookie), whatever ran before.
  beforeEach(async () => {
    await browser.clearCookies();
    const [name, value] = node.cookie.split("=");
    await browser.addCookies([{ name: name!, value: value!, url: node.url, httpOnly: true, sameSite: "Strict" }]);
  });

  it("an anonymous visitor to the console is sent to /signin; the clerk signs in there and lands back on the console", async () => {
    await browser.clearCookies();
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    await page.goto(`${node.url}/`);
    expect(new URL(page.url()).pathname + new URL(page.url()).search).toBe("/signin?next=%2F");
    await page.fill("input[name=login]", TEST_CLERK.login);
    await page.fill("input[name=password]", "wrong-password-1");
    await page.click("button[type=submit]");
    await expect.poll(() => page.locator("#signin-error").textContent()).toBe("登录名或密码不正确");
    await page.fill("input[name=password]", TEST_CLERK.password);
    await Promise.all([page.waitForURL(`${node.url}/`), page.click("button[type=submit]")]);
    await page.screenshot({ path: join(SCREENSHOTS, "node-signed-in.png"), fullPage: true });
    await page.close();
    expect(problems).toEqual([]);
    // The session cookie is HttpOnly and SameSite=Strict, scoped to this node's hall.
    const cookies = await browser.cookies(node.url);
    expect(cookies.map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite }))).toEqual([{ name: "tongban_session_BRW01", httpOnly: true, sameSite: "Strict" }]);
  });

  it("the console: its script fills the items, the cases and the sync status, and takes an intake (a same-origin JSON write)", async () => {
    const v = await visit(`${node.url}/`);
    await expect.poll(() => v.page.locator("#item option").count()).toBeGreaterThan(1);
    await expect.poll(() => v.page.locator("#cases").textContent()).toContain(granted.caseNo);
    await expect.poll(() => v.page.locator("#sync").textContent()).toContain("已连接市级");
    expect(await css(v.page, "#item", "min-width")).toBe("448px");

    await v.page.selectOption("#item", intakeItem.code);
    await expect.poll(() => v.page.locator("input[name=m]").count()).toBe(intakeItem.materials.length);
    await v.page.fill("#name", "赵七");
    await v.page.fill("#idno", ID.wang);
    await v.page.fill("#phone", "13700003333");
    await v.page.click("button[type=submit]");
    await expect.poll(() => v.page.locator("#result").textContent()).toMatch(/^已生成办件 BRW01-\d{8}-\d{4}（/);
    // The sync button posts {} as JSON, which the node's write guard lets through.
    const [synced] = await Promise.all([v.page.waitForResponse((r) => r.url().endsWith("/api/sync/now")), v.page.click("#syncnow")]);
    expect(synced.status()).toBe(200);
    await expect.poll(() => v.page.locator("#cases").textContent()).not.toContain("未上传市级");
    await v.page.locator("#syncnow:enabled").waitFor();
    expect(await v.page.locator("#sync").textContent()).toContain("待上传事件 0");
    expect(await v.finish("node-console")).toEqual(CLEAN);
  });

  it("a receipt: A4 styles apply and the print button calls window.print through print.js", async () => {
    const v = await visit(`${node.url}/api/cases/${granted.caseNo}/receipt`);
    expect(await v.page.locator("h1").textContent()).toBe("受理回执");
    expect(await css(v.page, "h1", "text-align")).toBe("center");
    await v.page.evaluate("window.print = () => { window.__printed = true; }");
    await v.page.click("button[data-print]");
    expect(await v.page.evaluate("window.__printed === true")).toBe(true);
    expect(await v.finish("node-receipt")).toEqual(CLEAN);
  });

  it("the signed result: decision, seal and QR code laid out by classes, not style attributes", async () => {
    const v = await visit(`${node.url}/api/cases/${granted.caseNo}/result?queryCode=${granted.queryCode}`);
    expect(await v.page.locator("h1").textContent()).toBe("准予行政许可决定书");
    expect(await css(v.page, ".result-foot", "display")).toBe("flex");
    expect(await v.page.locator(".qr svg").count()).toBe(1);
    expect(await v.finish("node-result")).toEqual(CLEAN);
  });
});

describe("the check itself", () => {
  it("sees a violation when a page runs inline code", async () => {
    const v = await visit(`${city.url}/track`);
    await v.page.evaluate(`{ const s = document.createElement("script"); s.textContent = "window.__ran = true"; document.body.append(s); }`);
    expect(await v.page.evaluate("window.__ran ?? false")).toBe(false);
    const seen = await v.finish("csp-check");
    expect(seen.violations).toEqual([expect.stringMatching(/^script-src-elem inline /)]);
    expect(seen.problems).toEqual([expect.stringContaining("Content Security Policy")]);
  });
});
