/**
 * Input that must be refused, not reinterpreted: numbers in paths and queries are plain digits (a
 * year is four of them), text carries no control characters or lone surrogates, and a query code
 * holds only letters the receipt alphabet issues.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { call, problem, problemType, staffJson } from "./helpers.js";

const yearRow = () => env.DB.prepare("select year, source, updated_at from calendar_years where year = 2026").first();

describe("numbers are plain digits", () => {
  it.each(["0x7EA", "2.026e3", "%202026", "02026", "2026%20", "+2026", "2026.0"])("PUT /api/admin/calendar/years/%s is a 400 and year 2026 stays as it was", async (year) => {
    const before = await yearRow();
    const res = await staffJson("PUT", `/api/admin/calendar/years/${year}`, "admin", { source: "伪造的通知" });
    const body = await problem(res, 400);
    expect(body).toMatchObject({ code: "validation_failed", field: "year", errors: [{ field: "year", message: "年份应为4位数字" }] });
    expect(await yearRow()).toEqual(before);
  });

  it("a four-digit year still works", async () => {
    const res = await staffJson("PUT", "/api/admin/calendar/years/2027", "admin", { source: "国务院办公厅关于2027年部分节假日安排的通知" });
    expect(res.status).toBe(200);
  });

  it.each(["0x2", "1e1", "-1", " 2", "1.5"])("a page number %j is a 400, not read as a number", async (page) => {
    const res = await call(`/api/catalog/items?page=${encodeURIComponent(page)}`);
    expect(await problem(res, 400)).toEqual({
      type: problemType("validation_failed"),
      title: "请求参数不合法",
      status: 400,
      detail: "字段 page 不合法：页码应为不带符号的十进制整数",
      code: "validation_failed",
      instance: "/api/catalog/items",
      field: "page",
      errors: [{ field: "page", message: "页码应为不带符号的十进制整数" }],
    });
  });

  it("a conflict's seq in the path is plain digits too", async () => {
    const res = await staffJson("POST", "/api/conflicts/N001/1e0/resolve", "supervisor", { resolution: "已核实" });
    expect(await problem(res, 400)).toMatchObject({ code: "validation_failed", field: "seq", errors: [{ field: "seq", message: "序号应为不带符号的十进制整数" }] });
  });

  it("a deadline question about 30 February is refused, not rolled over into March", async () => {
    const res = await call("/api/calendar/deadline?start=2026-02-30T09:00:00%2B08:00&days=5");
    expect(await problem(res, 400)).toMatchObject({ code: "validation_failed", field: "start", errors: [{ field: "start", message: "start 应为带时区的 ISO 8601 时间，如 2026-10-09T09:00:00+08:00" }] });
  });
});

describe("text is clean", () => {
  it.each([
    ["a NUL", "张\u0000三", "包含空字符（NUL）"],
    ["a lone surrogate", "张\ud800三", "包含无效的 Unicode 字符（不成对的代理项）"],
    ["a C1 control", "张\u0085三", "包含控制字符"],
  ])("a body string holding %s is a 400 naming the field; nothing changes", async (_what, text, message) => {
    const before = await env.DB.prepare("select count(*) as n from calendar_days").first();
    const res = await staffJson("PUT", "/api/admin/calendar/days/2027-01-01", "admin", { kind: "holiday", name: text });
    expect(await problem(res, 400)).toEqual({
      type: problemType("validation_failed"),
      title: "请求参数不合法",
      status: 400,
      detail: `字段 name 不合法：${message}`,
      code: "validation_failed",
      instance: "/api/admin/calendar/days/2027-01-01",
      field: "name",
      errors: [{ field: "name", message }],
    });
    expect(await env.DB.prepare("select count(*) as n from calendar_days").first()).toEqual(before);
  });

  it("a query string holding a NUL is a 400 too", async () => {
    const res = await call("/api/catalog/items?q=%E5%87%BA%00%E7%94%9F");
    expect(await problem(res, 400)).toMatchObject({ code: "validation_failed", field: "q", errors: [{ field: "q", message: "包含空字符（NUL）" }] });
  });

  it("line breaks and tabs stay allowed in multi-line text (a reason, a note)", async () => {
    const res = await staffJson("PUT", "/api/admin/calendar/years/2028", "admin", { source: "通知\n第二行\t附注" });
    expect(res.status).toBe(200);
  });
});

describe("query codes", () => {
  it.each(["ABCDEFGI", "ABCDEFGL", "ABCDEFG0", "ABCDEFG1", "ABCDEFGO"])("%s (a character the receipt alphabet never issues) is malformed, refused before any lookup", async (code) => {
    const res = await call(`/api/track?caseNo=N001-20261123-0001&queryCode=${code}`);
    expect(await problem(res, 400)).toMatchObject({
      code: "validation_failed",
      field: "queryCode",
      errors: [{ field: "queryCode", message: "查询码应为回执上的8位字符（不含 0、1、I、L、O）" }],
    });
  });
});

describe("more that must be refused", () => {
  it("a calendar date outside 2000–2100 is a 400 and nothing reaches the nodes", async () => {
    const before = await env.DB.prepare("select count(*) as n from changes").first();
    const res = await staffJson("PUT", "/api/admin/calendar/days/0000-01-01", "admin", { kind: "holiday", name: "元年" });
    expect(await problem(res, 400)).toMatchObject({ code: "validation_failed", field: "date", errors: [{ field: "date", message: "日期应在 2000–2100 年之间" }] });
    expect(await env.DB.prepare("select count(*) as n from changes").first()).toEqual(before);
  });

  it("a trusted token whose role or sub is not text is a 401, not a 500", async () => {
    const { staffToken } = await import("./helpers.js");
    const { SignJWT, importJWK } = await import("jose");
    const key = await importJWK(JSON.parse(env.TEST_AUTH_PRIVATE_JWK), "EdDSA");
    const now = Math.floor(Date.now() / 1000);
    for (const claims of [{ role: { toString: 1 }, sub: "x" }, { role: "admin", sub: { toString: 1 } }]) {
      const token = await new SignJWT(claims as never)
        .setProtectedHeader({ alg: "EdDSA", kid: "test-key" })
        .setIssuer(env.AUTH_ISSUER ?? "tongban-test")
        .setAudience("tongban-city")
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(key);
      const res = await call("/api/admin/nodes", { headers: { authorization: `Bearer ${token}` } });
      expect(await problem(res, 401)).toMatchObject({ code: "unauthorized", detail: "访问令牌的 sub、role 或 hall 声明格式不正确" });
    }
    expect(typeof (await staffToken("admin"))).toBe("string");
  });

  it("at the city only a clerk takes a case at the window", async () => {
    const { seedItems } = await import("../../schema/seed/catalog.js");
    const item = seedItems.find((i) => i.places.includes("city") && i.kind === "immediate")!;
    for (const role of ["approver", "supervisor", "admin"] as const) {
      const res = await staffJson("POST", "/api/cases", role, {
        itemCode: item.code,
        applicant: { name: "张三", idNumber: "11010519491231002X", phone: "13800138000" },
        materials: item.materials.map((m) => m.id),
      });
      expect(await problem(res, 403)).toMatchObject({ code: "forbidden", role, requiredRoles: ["clerk"] });
    }
  });

  it("an item is taken only where its catalog entry says it is handled", async () => {
    const { seedItems } = await import("../../schema/seed/catalog.js");
    const townshipOnly = seedItems.find((i) => !i.places.includes("city"))!;
    const res = await staffJson("POST", "/api/cases", "clerk", {
      itemCode: townshipOnly.code,
      applicant: { name: "张三", idNumber: "11010519491231002X", phone: "13800138000" },
      materials: townshipOnly.materials.map((m) => m.id),
    });
    expect(await problem(res, 400)).toMatchObject({ code: "invalid_command", field: "itemCode", detail: `事项“${townshipOnly.name}”不在市行政服务中心办理` });
  });
});
