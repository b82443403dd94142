/**
 * Query-code guessing at the city: wrong codes and unknown cases count alike, per client address
 * (CF-Connecting-IP) and per case number, on tracking (JSON and page) and the result download.
 * The city app here runs on an injected clock, so the hour's lock can be waited out.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createCityApp } from "../../workers/app.js";
import { problemBody } from "./helpers.js";
import { cityWindowCase } from "./people.js";

const clock = { now: new Date("2026-12-01T02:00:00.000Z") };
const app = createCityApp({ now: () => clock.now });
const later = (ms: number) => (clock.now = new Date(clock.now.getTime() + ms));

function get(path: string, address: string, accept?: string): Promise<Response> {
  return Promise.resolve(app.fetch(new Request(`http://city.test${path}`, { headers: { "cf-connecting-ip": address, ...(accept ? { accept } : {}) } }), env));
}
const track = (caseNo: string, code: string, address: string) => get(`/api/track?caseNo=${caseNo}&queryCode=${code}`, address);
const page = (caseNo: string, code: string, address: string) => get(`/track?caseNo=${caseNo}&queryCode=${code}`, address, "text/html");
const result = (caseNo: string, code: string, address: string, accept = "application/json") => get(`/api/cases/${caseNo}/result?queryCode=${code}`, address, accept);

const wrongFor = (code: string) => (code === "ABCDEFGH" ? "HGFEDCBA" : "ABCDEFGH");
const unknownCase = (n: number) => `ZZ${String(n).padStart(2, "0")}-20261201-${String(n).padStart(4, "0")}`;
const REFUSED = { type: "https://tongban.example.cn/problems/forbidden", title: "无权执行该操作", status: 403, detail: "办件编号或查询码不正确，或办件尚未上传到此处", code: "forbidden", field: "queryCode" };

/** Asserts a 429 problem whole (no instance: the path repeats the case number). */
async function expectBlocked(res: Response, retryAfter = 3600, wait = "60 分钟"): Promise<string> {
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe(String(retryAfter));
  expect(res.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
  const text = await res.text();
  const { instance: _, ...expected } = problemBody("too_many_attempts", `查询码错误次数过多，请 ${wait}后再试；也可携带受理回执到办事窗口查询`, "", { retryAfter });
  expect(JSON.parse(text)).toEqual(expected);
  return text;
}

describe("per client address", () => {
  it("30 failed lookups an hour on any route (wrong codes and unknown cases alike), then 429 on every route; another address is not held up", async () => {
    const known = await cityWindowCase({ idNumber: "11010519491231002X" });
    const target = await cityWindowCase({ idNumber: "35050219900101123X" });
    const A = "203.0.113.5";
    for (let i = 0; i < 30; i++) {
      // Nine wrong codes for a real case (under its own limit of 10), the rest unknown case numbers, on all three routes.
      const [caseNo, code] = i < 9 ? [known.caseNo, wrongFor(known.queryCode)] : [unknownCase(i), "ABCDEFGH"];
      const res = await [track, page, result][i % 3]!(caseNo, code, A);
      expect(res.status).toBe(i % 3 === 1 ? 200 : 403); // the page shows its refusal in the page
      if (i % 3 === 1) expect(await res.text()).toContain("办件编号或查询码不正确，或办件尚未上传到此处");
    }
    // Locked: even the right code for a case nobody guessed at, on every route.
    await expectBlocked(await track(target.caseNo, target.queryCode, A));
    await expectBlocked(await result(target.caseNo, target.queryCode, A));
    const html = await page(target.caseNo, target.queryCode, A);
    expect([html.status, html.headers.get("retry-after"), html.headers.get("content-type")]).toEqual([429, "3600", "text/html; charset=UTF-8"]);
    expect(await html.text()).toContain("查询码错误次数过多，请 60 分钟后再试；也可携带受理回执到办事窗口查询");
    const download = await result(target.caseNo, target.queryCode, A, "text/html,application/xhtml+xml");
    expect([download.status, download.headers.get("content-type")]).toEqual([429, "text/html; charset=UTF-8"]);
    // Another client with the right code is not held up by A's guessing.
    const other = await track(target.caseNo, target.queryCode, "203.0.113.6");
    expect(other.status).toBe(200);
    expect(((await other.json()) as { caseNo: string }).caseNo).toBe(target.caseNo);
    // An hour after the lock began, A may look again.
    later(60 * 60_000 + 1_000);
    expect((await track(target.caseNo, target.queryCode, A)).status).toBe(200);
  });

  it("malformed codes (400) and right codes never count", async () => {
    const kase = await cityWindowCase({ idNumber: "350521198512150041" });
    const C = "203.0.113.9";
    for (let i = 0; i < 35; i++) expect((await track(kase.caseNo, "0000", C)).status).toBe(400);
    for (let i = 0; i < 35; i++) expect((await track(kase.caseNo, kase.queryCode, C)).status).toBe(200);
    expect((await track(unknownCase(99), "ABCDEFGH", C)).status).toBe(403);
  });
});

describe("per case number", () => {
  it("10 wrong codes from any addresses lock that case number for an hour, existing or not, with the same answer; other cases stay open", async () => {
    const real = await cityWindowCase({ idNumber: "350582197006305512" });
    const other = await cityWindowCase({ idNumber: "350582197006305512" });
    const ghost = unknownCase(77);
    for (let i = 0; i < 10; i++) {
      expect((await track(real.caseNo, wrongFor(real.queryCode), `198.51.100.${i}`)).status).toBe(403);
      expect((await result(ghost, "ABCDEFGH", `198.51.100.${i}`)).status).toBe(403);
    }
    const fresh = "198.51.100.200";
    const lockedReal = await expectBlocked(await track(real.caseNo, real.queryCode, fresh));
    const lockedGhost = await expectBlocked(await track(ghost, "ABCDEFGH", fresh));
    // A locked case number that exists and one that does not: the same bytes.
    expect(lockedReal).toBe(lockedGhost);
    expect((await track(other.caseNo, other.queryCode, fresh)).status).toBe(200);
    later(30 * 60_000);
    await expectBlocked(await track(real.caseNo, real.queryCode, fresh), 1800, "30 分钟");
    later(30 * 60_000 + 1_000);
    expect((await track(real.caseNo, real.queryCode, fresh)).status).toBe(200);
  });

  it("a wrong code for a case and any code for an unknown case are the same bytes on every JSON route", async () => {
    const kase = await cityWindowCase({ idNumber: "11010519491231002X" });
    const D = "203.0.113.20";
    const bodies = [
      await (await track(kase.caseNo, wrongFor(kase.queryCode), D)).text(),
      await (await track(unknownCase(55), kase.queryCode, D)).text(),
      await (await result(kase.caseNo, wrongFor(kase.queryCode), D)).text(),
      await (await result(unknownCase(56), kase.queryCode, D)).text(),
    ];
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0]!)).toEqual(REFUSED);
  });
});
