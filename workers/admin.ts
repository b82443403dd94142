/** Administrator routes: node enrolment and revocation, calendar and catalog maintenance. */
import { Hono } from "hono";
import { asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { calendarDays, calendarYears, changes, departments, nodes, serviceItems } from "../schema/tables.js";
import { SERVICE_ITEM_KINDS } from "../schema/types.js";
import { CITY_ORIGIN, ORIGIN_CODE_PATTERN } from "../domain/case-number.js";
import { parseItemCode } from "../domain/codes.js";
import { AppError } from "../http/errors.js";
import { actorOf } from "../domain/principal.js";
import { delegationsOf, revokeApproval } from "../store/approvals.js";
import { jsonBody, line, zv } from "../http/validate.js";
import { deleteCalendarDay, putCalendarDay, putItem } from "../store/reference-history.js";
import { principal, requires } from "../http/auth.js";
import type { CityEnv } from "./env.js";

const ed25519Jwk = z
  .object({
    kty: z.literal("OKP", { message: "publicJwk.kty 应为 OKP" }),
    crv: z.literal("Ed25519", { message: "publicJwk.crv 应为 Ed25519" }),
    x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, "publicJwk.x 应为 32 字节公钥的 base64url"),
    kid: z.string().max(100).optional(),
  })
  .strict();

const enrolSchema = z.object({
  code: z.string().regex(ORIGIN_CODE_PATTERN, "节点编码应为 2–12 位大写字母或数字").refine((c) => c !== CITY_ORIGIN, `节点编码不能是 ${CITY_ORIGIN}`),
  name: z.string().trim().min(1, "请填写节点名称").max(60).pipe(line("节点名称不能包含换行或控制字符")),
  publicJwk: ed25519Jwk,
});

const dateParam = z.object({
  date: z.iso.date("日期格式应为 YYYY-MM-DD").refine((d) => d >= "2000-01-01" && d <= "2100-12-31", "日期应在 2000–2100 年之间"),
});
const daySchema = z.object({ kind: z.enum(["holiday", "workday"], { message: "kind 应为 holiday 或 workday" }), name: z.string().trim().min(1).max(40) });
/** A year is four plain digits: `0x7EA`, `2.026e3` or ` 2026` are refused, not read as 2026. */
const yearParam = z.object({ year: z.string().regex(/^\d{4}$/, "年份应为4位数字").transform(Number).pipe(z.number().min(2000, "年份不早于2000").max(2100, "年份不晚于2100")) });
const limitSchema = z.object({ value: z.number().int().min(0).max(3650), unit: z.enum(["day", "hour"]) });

const itemSchema = z.object({
  name: z.string().trim().min(1).max(100),
  departmentCode: z.string().min(1).max(20),
  kind: z.enum(SERVICE_ITEM_KINDS as [string, ...string[]]),
  content: z.string().min(1).max(4000),
  legalBasis: z.array(z.string().min(1)).min(1),
  conditions: z.array(z.string().min(1)),
  materials: z
    .array(
      z.object({
        id: z.string().regex(/^[a-z0-9-]{1,40}$/),
        name: z.string().min(1).max(200),
        form: z.enum(["original", "copy", "original_and_copy", "electronic"]),
        copies: z.number().int().min(1).max(100),
        required: z.boolean(),
        deferrable: z.boolean(),
        note: z.string().max(500),
      }),
    )
    .refine((ms) => new Set(ms.map((m) => m.id)).size === ms.length, "材料编号不能重复"),
  procedure: z.array(z.object({ name: z.string().min(1), description: z.string() })).min(1),
  statutoryLimit: limitSchema,
  promisedLimit: limitSchema,
  fees: z.array(z.object({ name: z.string().min(1), amount: z.string().regex(/^\d+(\.\d{1,2})?$/), basis: z.string() })),
  resultType: z.string().min(1).max(40),
  resultName: z.string().min(1).max(100),
  complaintChannel: z.object({ phone: z.string(), address: z.string(), online: z.string() }),
  places: z.array(z.enum(["city", "township"])).min(1),
  address: z.string().min(1).max(200),
  onlineDepth: z.number().int().min(1).max(4),
  jointDepartments: z.array(z.string()),
  consultPhone: z.string().min(1).max(40),
});

/** `/api/admin/*` (role admin) and `/api/admin/nodes` listing. */
export function adminRoutes() {
  return new Hono<CityEnv>()
    .get("/api/admin/nodes", requires("node.manage"), async (c) => {
      const rows = await c.var.db.select().from(nodes).orderBy(asc(nodes.code));
      return c.json({ nodes: rows });
    })
    .post("/api/admin/nodes", requires("node.manage"), jsonBody(enrolSchema), async (c) => {
      const { code, name, publicJwk } = c.req.valid("json");
      const now = c.var.now().toISOString();
      const row = { code, name, publicJwk: { kty: "OKP", crv: "Ed25519", x: publicJwk.x }, enrolledAt: now, revokedAt: null, updatedAt: now };
      // One statement decides who enrols a code: of concurrent enrolments exactly one inserts (or
      // fills a row that has no key yet); every other one finds the winner's row below.
      const won = await c.var.db
        .insert(nodes)
        .values(row)
        .onConflictDoUpdate({ target: nodes.code, set: row, setWhere: sql`${nodes.publicJwk} IS NULL AND ${nodes.revokedAt} IS NULL` })
        .returning({ code: nodes.code });
      if (won.length === 1) return c.json(row, 201);
      const [existing] = await c.var.db.select().from(nodes).where(eq(nodes.code, code)).limit(1);
      if (existing?.revokedAt) throw new AppError("conflict", `节点 ${code} 已被撤销，不能重新登记；请使用新的节点编码`, { node: code, revokedAt: existing.revokedAt });
      if (existing?.publicJwk?.x === publicJwk.x) return c.json(existing, 200);
      throw new AppError("conflict", `节点 ${code} 已用另一把公钥登记；如需换钥请先撤销`, { node: code });
    })
    .post("/api/admin/nodes/:code/revoke", requires("node.manage"), zv("param", z.object({ code: z.string().regex(ORIGIN_CODE_PATTERN, "节点编码格式不正确") })), async (c) => {
      const { code } = c.req.valid("param");
      const [existing] = await c.var.db.select().from(nodes).where(eq(nodes.code, code)).limit(1);
      if (!existing) throw new AppError("not_found", `节点 ${code} 未登记`, { node: code });
      if (existing.revokedAt) return c.json(existing);
      const now = c.var.now().toISOString();
      await c.var.db.update(nodes).set({ revokedAt: now, updatedAt: now }).where(eq(nodes.code, code));
      // A revoked node's key must not keep vouching for results: its delegations go on the revocation list.
      for (const d of await delegationsOf(c.var.db, code)) await revokeApproval(c.var.db, d.id, `节点 ${code} 已撤销`, actorOf(principal(c)), c.var.now());
      return c.json({ ...existing, revokedAt: now, updatedAt: now });
    })
    .put("/api/admin/calendar/days/:date", requires("calendar.manage"), zv("param", dateParam), jsonBody(daySchema), async (c) => {
      const { date } = c.req.valid("param");
      const body = c.req.valid("json");
      const at = c.var.now().toISOString();
      const row = { date, ...body, updatedAt: at };
      await putCalendarDay(c.var.db, row);
      return c.json(row);
    })
    .delete("/api/admin/calendar/days/:date", requires("calendar.manage"), zv("param", dateParam), async (c) => {
      const { date } = c.req.valid("param");
      const at = c.var.now().toISOString();
      await deleteCalendarDay(c.var.db, date, at);
      return c.body(null, 204);
    })
    .put("/api/admin/calendar/years/:year", requires("calendar.manage"), zv("param", yearParam), jsonBody(z.object({ source: z.string().trim().min(1).max(200) })), async (c) => {
      const { year } = c.req.valid("param");
      const at = c.var.now().toISOString();
      const row = { year, source: c.req.valid("json").source, updatedAt: at };
      await c.var.db.batch([
        c.var.db.insert(calendarYears).values(row).onConflictDoUpdate({ target: calendarYears.year, set: row }),
        c.var.db.insert(changes).values({ kind: "calendar_year", key: String(year), node: null, at }),
      ]);
      return c.json(row);
    })
    .put("/api/admin/catalog/items/:code", requires("catalog.manage"), zv("param", z.object({ code: z.string() })), jsonBody(itemSchema), async (c) => {
      const { code } = c.req.valid("param");
      const parsed = parseItemCode(code);
      if (!parsed) throw new AppError("validation_failed", "事项编码不是有效的实施编码（信用代码+层级+基本编码）", { field: "code" });
      const body = c.req.valid("json");
      const [dept] = await c.var.db.select().from(departments).where(eq(departments.code, body.departmentCode)).limit(1);
      if (!dept) throw new AppError("validation_failed", `部门 ${body.departmentCode} 不存在`, { field: "departmentCode" });
      if (dept.creditCode !== parsed.creditCode) throw new AppError("validation_failed", "事项编码中的信用代码与实施部门不符", { field: "code" });
      const at = c.var.now().toISOString();
      const { statutoryLimit, promisedLimit, ...rest } = body;
      const row = {
        ...rest,
        kind: body.kind as (typeof SERVICE_ITEM_KINDS)[number],
        code,
        basicCode: parsed.basicCode,
        category: parsed.category,
        level: parsed.level,
        statutoryLimitValue: statutoryLimit.value,
        statutoryLimitUnit: statutoryLimit.unit,
        promisedLimitValue: promisedLimit.value,
        promisedLimitUnit: promisedLimit.unit,
        updatedAt: at,
      };
      await putItem(c.var.db, row, at);
      return c.json(row);
    });
}
