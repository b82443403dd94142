/** Public catalog and calendar routes, served identically by the city and by every node. */
import { Hono } from "hono";
import { etag } from "hono/etag";
import { z } from "zod";
import { getItemGuide, listDepartments, listItems } from "../store/catalog.js";
import { loadCalendar } from "../store/calendar.js";
import { calendarStatus, computeDeadline } from "../domain/time.js";
import { AppError } from "./errors.js";
import type { SharedEnv } from "./env.js";
import { digits, zv } from "./validate.js";

/** 实施编码: 31 characters of digits and upper-case letters. */
export const itemCodeSchema = z.string().regex(/^[0-9A-Z]{31}$/, "事项编码应为31位数字或大写字母");

const listQuery = z.object({
  q: z.string().trim().max(100, "检索词不超过100个字符").optional(),
  department: z.string().regex(/^[A-Z0-9-]{1,20}$/, "部门编码格式不正确").optional(),
  place: z.enum(["city", "township"], { message: "办理地点应为 city 或 township" }).optional(),
  page: digits("页码", 1, 10_000).default(1),
  pageSize: digits("每页条数", 1, 100).default(20),
});

const deadlineQuery = z
  .object({
    start: z.iso
      .datetime({ offset: true, message: "start 应为带时区的 ISO 8601 时间，如 2026-10-09T09:00:00+08:00" })
      .refine((v) => {
        const y = new Date(v).getUTCFullYear();
        return y >= 2000 && y <= 2100;
      }, "start 应在 2000–2100 年之间"),
    days: digits("days ", 0, 3650).optional(),
    hours: digits("hours ", 1, 10_000).optional(),
  })
  .refine((q) => (q.days === undefined) !== (q.hours === undefined), { message: "请给出 days 或 hours 之一", path: ["days"] });

/** Catalog reads change rarely: revalidate with ETag, cache briefly. */
const cacheable = [
  etag(),
  async (c: { header: (k: string, v: string) => void }, next: () => Promise<void>) => {
    await next();
    c.header("Cache-Control", "public, max-age=60, stale-while-revalidate=300");
  },
] as const;

/** The `/api/catalog/*` and `/api/calendar/*` routes. */
export function catalogRoutes() {
  return new Hono<SharedEnv>()
    .use("/api/catalog/*", ...cacheable)
    .get("/api/catalog/items", zv("query", listQuery), async (c) => {
      return c.json(await listItems(c.var.db, c.req.valid("query")));
    })
    .get("/api/catalog/items/:code", zv("param", z.object({ code: itemCodeSchema })), async (c) => {
      const { code } = c.req.valid("param");
      const guide = await getItemGuide(c.var.db, code);
      if (!guide) throw new AppError("item_not_found", `事项 ${code} 不存在`, { itemCode: code });
      return c.json(guide);
    })
    .get("/api/catalog/departments", async (c) => {
      const departments = await listDepartments(c.var.db);
      return c.json({ departments: departments.map(({ code, name, creditCode }) => ({ code, name, creditCode })) });
    })
    .get("/api/calendar/status", async (c) => c.json(calendarStatus(await loadCalendar(c.var.db), c.var.now())))
    .get("/api/calendar/deadline", zv("query", deadlineQuery), async (c) => {
      const q = c.req.valid("query");
      const cal = await loadCalendar(c.var.db);
      const limit = q.days !== undefined ? { value: q.days, unit: "day" as const } : { value: q.hours!, unit: "hour" as const };
      const dl = computeDeadline(cal, new Date(q.start), limit);
      return c.json({ deadline: dl.instant.toISOString(), date: dl.date, warnings: dl.warnings });
    });
}
