import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createCityApp } from "../../workers/app.js";
import { seedDepartments, seedItems } from "../../schema/seed/catalog.js";
import type { SeedItem } from "../../schema/seed/types.js";
import { problem, problemBody, validationProblem } from "./helpers.js";

const get = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`http://city.test${path}`, init));
const PROBLEM = "application/problem+json; charset=utf-8";

const deptOf = (i: SeedItem) => seedDepartments.find((d) => d.code === i.departmentCode)!;

/** The list view of a seed item as the README's catalog table describes it. */
function summaryOf(i: SeedItem) {
  return {
    code: i.code,
    basicCode: i.basicCode,
    name: i.name,
    department: { code: i.departmentCode, name: deptOf(i).name },
    kind: i.kind,
    category: i.category,
    places: i.places,
    onlineDepth: i.onlineDepth,
    statutoryLimit: i.statutoryLimit,
    promisedLimit: i.promisedLimit,
    free: i.fees.every((f) => Number(f.amount) === 0),
  };
}

/** One page of a list of seed items, in the catalog's order (department sort order, then code). */
function pageOf(items: readonly SeedItem[], page = 1, pageSize = 20) {
  const ordered = [...items].sort((a, b) => deptOf(a).sortOrder - deptOf(b).sortOrder || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
  return { items: ordered.slice((page - 1) * pageSize, page * pageSize).map(summaryOf), total: ordered.length };
}

describe("catalog API on D1", () => {
  it("lists items with code, name, department and kind, and counts them all", async () => {
    const res = await get("/api/catalog/items?pageSize=100");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: any[]; total: number };
    // One page holds the whole seed catalog.
    expect(seedItems.length).toBeLessThanOrEqual(100);
    expect(body).toEqual(pageOf(seedItems, 1, 100));
    expect(body.items).toHaveLength(seedItems.length);
    const d1 = await env.DB.prepare("select count(*) as n from service_items").first<{ n: number }>();
    expect(body.total).toBe(d1!.n);
  });

  it("searches by keyword, department and place, and pages", async () => {
    // The keyword matches name, codes and content (README); the seed's matches, found here:
    const marriage = seedItems.filter((i) => [i.name, i.code, i.basicCode, i.content].some((t) => t.includes("结婚")));
    expect(marriage.map((i) => i.name)).toEqual(["内地居民结婚登记", "补领结婚证"]);
    const q = (await (await get(`/api/catalog/items?q=${encodeURIComponent("结婚")}`)).json()) as any;
    expect(q).toEqual(pageOf(marriage));
    const dept = (await (await get("/api/catalog/items?department=GA&pageSize=100")).json()) as any;
    expect(dept).toEqual(pageOf(seedItems.filter((i) => i.departmentCode === "GA"), 1, 100));
    const town = (await (await get("/api/catalog/items?place=township&pageSize=100")).json()) as any;
    expect(town).toEqual(pageOf(seedItems.filter((i) => i.places.includes("township")), 1, 100));
    // Neither filter is all or nothing of the seed, so each could fail.
    expect(dept.total).toBeGreaterThan(0);
    expect(dept.total).toBeLessThan(seedItems.length);
    expect(town.total).toBeGreaterThan(0);
    expect(town.total).toBeLessThan(seedItems.length);
    const p1 = (await (await get("/api/catalog/items?pageSize=7&page=1")).json()) as any;
    const p2 = (await (await get("/api/catalog/items?pageSize=7&page=2")).json()) as any;
    expect(p1).toEqual(pageOf(seedItems, 1, 7));
    expect(p2).toEqual(pageOf(seedItems, 2, 7));
    expect(p1.items).toHaveLength(7);
    expect(p2.items).toHaveLength(7);
    const none = (await (await get(`/api/catalog/items?q=${encodeURIComponent("100%_不存在")}`)).json()) as any;
    expect(none).toEqual({ items: [], total: 0 });
  });

  it("returns the full guide of an item", async () => {
    const seed = seedItems.find((i) => i.kind === "joint")!;
    const res = await get(`/api/catalog/items/${seed.code}`);
    expect(res.status).toBe(200);
    const g = (await res.json()) as any;
    expect(seed.jointDepartments.length).toBeGreaterThan(0);
    expect(g).toEqual({
      ...summaryOf(seed),
      kind: "joint",
      level: seed.level,
      content: seed.content,
      legalBasis: seed.legalBasis,
      conditions: seed.conditions,
      materials: seed.materials,
      procedure: seed.procedure,
      fees: seed.fees,
      resultType: seed.resultType,
      resultName: seed.resultName,
      complaintChannel: seed.complaintChannel,
      address: seed.address,
      consultPhone: seed.consultPhone,
      // The time the test database was seeded with (store/seed.ts).
      updatedAt: "2026-01-01T00:00:00.000Z",
      jointDepartments: seed.jointDepartments.map((code) => ({ code, name: seedDepartments.find((d) => d.code === code)!.name })),
    });
  });

  it("lists departments", async () => {
    const body = (await (await get("/api/catalog/departments")).json()) as any;
    expect(body).toEqual({
      departments: [...seedDepartments].sort((a, b) => a.sortOrder - b.sortOrder || a.code.localeCompare(b.code)).map(({ code, name, creditCode }) => ({ code, name, creditCode })),
    });
  });

  it("revalidates catalog reads with ETag and caches them briefly", async () => {
    const first = await get("/api/catalog/items?pageSize=5");
    const tag = first.headers.get("etag");
    expect(tag).toMatch(/^(W\/)?"[0-9a-f]+"$/);
    expect(first.headers.get("cache-control")).toBe("public, max-age=60, stale-while-revalidate=300");
    const again = await get("/api/catalog/items?pageSize=5", { headers: { "if-none-match": tag! } });
    expect(again.status).toBe(304);
    const other = await get("/api/catalog/items?pageSize=6", { headers: { "if-none-match": tag! } });
    expect(other.status).toBe(200);
  });
});

describe("catalog errors", () => {
  it("404 problem for an unknown item", async () => {
    const code = "11350500003621153B3079999900000";
    const res = await get(`/api/catalog/items/${code}`);
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe(PROBLEM);
    expect(await res.json()).toEqual({
      type: "https://tongban.example.cn/problems/item-not-found",
      title: "事项不存在",
      status: 404,
      detail: `事项 ${code} 不存在`,
      code: "item_not_found",
      instance: `/api/catalog/items/${code}`,
      itemCode: code,
    });
  });

  it("400 problem naming the field for malformed parameters", async () => {
    const bad = await get("/api/catalog/items/abc");
    expect(await problem(bad, 400)).toEqual(validationProblem("/api/catalog/items/abc", { field: "code", message: "事项编码应为31位数字或大写字母" }));
    const size = await get("/api/catalog/items?pageSize=1000");
    expect(size.status).toBe(400);
    expect(await size.json()).toEqual({
      type: "https://tongban.example.cn/problems/validation-failed",
      title: "请求参数不合法",
      status: 400,
      detail: "字段 pageSize 不合法：每页条数不能大于 100",
      code: "validation_failed",
      instance: "/api/catalog/items",
      field: "pageSize",
      errors: [{ field: "pageSize", message: "每页条数不能大于 100" }],
    });
    const place = await get("/api/catalog/items?place=moon");
    expect(await problem(place, 400)).toEqual(validationProblem("/api/catalog/items", { field: "place", message: "办理地点应为 city 或 township" }));
  });
});

describe("deadline API", () => {
  it("counts working days across 国庆 2026 and the Saturday 调休 working day", async () => {
    // Tue 29 Sep 10:00 Beijing + 5 working days: 30 Sep, 8 Oct, 9 Oct, 10 Oct (Sat, 调休), 12 Oct.
    const res = await get(`/api/calendar/deadline?start=${encodeURIComponent("2026-09-29T10:00:00+08:00")}&days=5`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deadline: "2026-10-12T09:30:00.000Z", date: "2026-10-12", warnings: [] });
  });

  it("uses the Beijing date for an acceptance at 00:30 Beijing (16:30 UTC the day before)", async () => {
    // 2026-11-23 00:30 Beijing is a Monday; the day of acceptance does not count: 1 day → Tuesday 24th.
    const body = (await (await get("/api/calendar/deadline?start=2026-11-22T16:30:00Z&days=1")).json()) as any;
    expect(body).toEqual({ deadline: "2026-11-24T09:30:00.000Z", date: "2026-11-24", warnings: [] });
  });

  it("warns loudly when the deadline runs into a year whose holidays are not published", async () => {
    const body = (await (await get("/api/calendar/deadline?start=2026-12-28T02:00:00Z&days=10")).json()) as any;
    expect(body.warnings).toEqual([
      {
        code: "calendar_unpublished",
        years: [2027],
        message: "2027年的法定节假日安排尚未录入工作日历，期限暂按周一至周五工作推算，可能不准确；请管理员尽快录入。",
      },
    ]);
  });

  it("400 for a missing or malformed start, or neither days nor hours", async () => {
    const instance = "/api/calendar/deadline";
    const noTz = await get("/api/calendar/deadline?start=2026-09-29T10:00:00&days=5");
    expect(await problem(noTz, 400)).toEqual(validationProblem(instance, { field: "start", message: "start 应为带时区的 ISO 8601 时间，如 2026-10-09T09:00:00+08:00" }));
    const none = await get("/api/calendar/deadline?start=2026-09-29T10:00:00Z");
    expect(await problem(none, 400)).toEqual(validationProblem(instance, { field: "days", message: "请给出 days 或 hours 之一" }));
    const neg = await get("/api/calendar/deadline?start=2026-09-29T10:00:00Z&days=-1");
    expect(await problem(neg, 400)).toEqual(validationProblem(instance, { field: "days", message: "days 应为不带符号的十进制整数" }));
  });
});

describe("public pages", () => {
  const pinned = createCityApp({ now: () => new Date("2026-09-29T02:00:00.000Z") });
  const page = (path: string) => pinned.fetch(new Request(`http://city.test${path}`), env);

  it("renders the catalog with search in Chinese", async () => {
    const res = await page(`/?q=${encodeURIComponent("结婚")}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('<html lang="zh-CN">');
    expect(html).toContain("政务服务事项目录");
    const hit = seedItems.find((i) => i.name.includes("结婚"))!;
    expect(html).toContain(hit.name);
    expect(html).not.toContain(seedItems.find((i) => !JSON.stringify(i).includes("结婚"))!.code);
  });

  it("renders an item's guide with the expected completion date if filed today", async () => {
    const item = seedItems.find((i) => i.kind === "promised" && i.promisedLimit.unit === "day" && i.promisedLimit.value === 5)!;
    const res = await page(`/items/${item.code}`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain(item.name);
    for (const m of item.materials) expect(html).toContain(m.name);
    // Filed Tue 29 Sep 2026 10:00 Beijing, 5 working days across 国庆 → Mon 12 Oct.
    expect(html).toContain("预计 2026年10月12日 前办结");
  });

  it("answers an unknown item page with a 404 problem", async () => {
    const code = "11350500003621153B3079999900000";
    const res = await page(`/items/${code}`);
    expect(await problem(res, 404)).toEqual(problemBody("item_not_found", `事项 ${code} 不存在`, `/items/${code}`, { itemCode: code }));
  });
});

describe("calendar status for the administrator", () => {
  it("warns when next year's arrangement is not entered, and stops once it is", async () => {
    const at = (iso: string) => createCityApp({ now: () => new Date(iso) }).fetch(new Request("http://city.test/api/calendar/status"), env);
    const late2026 = (await (await at("2026-11-22T02:00:00Z")).json()) as any;
    expect(late2026.publishedYears).toEqual(expect.arrayContaining([2025, 2026]));
    expect(late2026.warnings).toEqual([
      { code: "calendar_unpublished", years: [2027], message: "2027年的法定节假日安排尚未录入工作日历，期限暂按周一至周五工作推算，可能不准确；请管理员尽快录入。" },
    ]);
    const mid2025 = (await (await at("2025-06-01T02:00:00Z")).json()) as any;
    expect(mid2025.warnings).toEqual([]);
  });
});
