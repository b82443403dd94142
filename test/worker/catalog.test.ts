import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createCityApp } from "../../workers/app.js";
import { seedDepartments, seedItems } from "../../schema/seed/catalog.js";

const get = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`http://city.test${path}`, init));
const PROBLEM = "application/problem+json; charset=utf-8";

describe("catalog API on D1", () => {
  it("lists items with code, name, department and kind, and counts them all", async () => {
    const res = await get("/api/catalog/items?pageSize=100");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { items: any[]; total: number };
    expect(body.total).toBe(seedItems.length);
    expect(body.items).toHaveLength(seedItems.length);
    const byCode = new Map(seedItems.map((i) => [i.code, i]));
    for (const item of body.items) {
      const seed = byCode.get(item.code)!;
      expect(item).toMatchObject({ code: seed.code, name: seed.name, kind: seed.kind, department: { code: seed.departmentCode } });
      expect(item.department.name).toBe(seedDepartments.find((d) => d.code === seed.departmentCode)!.name);
    }
    const d1 = await env.DB.prepare("select count(*) as n from service_items").first<{ n: number }>();
    expect(body.total).toBe(d1!.n);
  });

  it("searches by keyword, department and place, and pages", async () => {
    const marriage = seedItems.filter((i) => i.name.includes("结婚"));
    expect(marriage.length).toBeGreaterThan(0);
    const q = (await (await get(`/api/catalog/items?q=${encodeURIComponent("结婚")}`)).json()) as any;
    expect(q.items.map((i: any) => i.code).sort()).toEqual(
      seedItems.filter((i) => [i.name, i.code, i.basicCode, i.content].some((t) => t.includes("结婚"))).map((i) => i.code).sort(),
    );
    const dept = (await (await get("/api/catalog/items?department=GA&pageSize=100")).json()) as any;
    expect(dept.total).toBe(seedItems.filter((i) => i.departmentCode === "GA").length);
    const town = (await (await get("/api/catalog/items?place=township&pageSize=100")).json()) as any;
    expect(town.total).toBe(seedItems.filter((i) => i.places.includes("township")).length);
    const p1 = (await (await get("/api/catalog/items?pageSize=7&page=1")).json()) as any;
    const p2 = (await (await get("/api/catalog/items?pageSize=7&page=2")).json()) as any;
    expect(p1.items).toHaveLength(7);
    expect(p2.items).toHaveLength(7);
    expect(p1.items.map((i: any) => i.code)).not.toContain(p2.items[0].code);
    const none = (await (await get(`/api/catalog/items?q=${encodeURIComponent("100%_不存在")}`)).json()) as any;
    expect(none).toEqual({ items: [], total: 0 });
  });

  it("returns the full guide of an item", async () => {
    const seed = seedItems.find((i) => i.kind === "joint")!;
    const res = await get(`/api/catalog/items/${seed.code}`);
    expect(res.status).toBe(200);
    const g = (await res.json()) as any;
    expect(g).toMatchObject({
      code: seed.code,
      basicCode: seed.basicCode,
      name: seed.name,
      kind: "joint",
      content: seed.content,
      legalBasis: seed.legalBasis,
      conditions: seed.conditions,
      materials: seed.materials,
      procedure: seed.procedure,
      statutoryLimit: seed.statutoryLimit,
      promisedLimit: seed.promisedLimit,
      fees: seed.fees,
      resultType: seed.resultType,
      resultName: seed.resultName,
      complaintChannel: seed.complaintChannel,
      places: seed.places,
      address: seed.address,
      onlineDepth: seed.onlineDepth,
    });
    expect(g.jointDepartments.map((d: any) => d.code)).toEqual(seed.jointDepartments);
    expect(g.materials[0]).toEqual(expect.objectContaining({ id: expect.any(String), name: expect.any(String), required: expect.any(Boolean) }));
  });

  it("lists departments", async () => {
    const body = (await (await get("/api/catalog/departments")).json()) as any;
    expect(body.departments.map((d: any) => d.code)).toEqual([...seedDepartments].sort((a, b) => a.sortOrder - b.sortOrder || a.code.localeCompare(b.code)).map((d) => d.code));
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
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: "validation_failed", field: "code" });
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
    expect(await place.json()).toMatchObject({ status: 400, field: "place" });
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
    const noTz = await get("/api/calendar/deadline?start=2026-09-29T10:00:00&days=5");
    expect(noTz.status).toBe(400);
    expect(await noTz.json()).toMatchObject({ code: "validation_failed", field: "start" });
    const none = await get("/api/calendar/deadline?start=2026-09-29T10:00:00Z");
    expect(await none.json()).toMatchObject({ status: 400, field: "days" });
    const neg = await get("/api/calendar/deadline?start=2026-09-29T10:00:00Z&days=-1");
    expect(await neg.json()).toMatchObject({ status: 400, field: "days" });
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
    const res = await page("/items/11350500003621153B3079999900000");
    expect(res.status).toBe(404);
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
