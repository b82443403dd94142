/** Conflicts flagged by the city: listed for a person, and marked resolved with what they decided. */
import { Hono, type MiddlewareHandler } from "hono";
import { and, asc, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import { conflicts } from "../schema/tables.js";
import { ORIGIN_CODE_PATTERN } from "../domain/case-number.js";
import { AppError } from "./errors.js";
import type { CaseEnv } from "./env.js";
import { digits, jsonBody, zv } from "./validate.js";

const key = z.object({
  origin: z.string().regex(ORIGIN_CODE_PATTERN, "来源编码格式不正确"),
  seq: digits("序号", 1, Number.MAX_SAFE_INTEGER),
});

/** `GET /api/conflicts[?open=1]` and `POST /api/conflicts/:origin/:seq/resolve` behind `guard`. */
export function conflictRoutes(guard: MiddlewareHandler<any>) {
  return new Hono<CaseEnv>()
    .get("/api/conflicts", guard, zv("query", z.object({ open: z.enum(["0", "1"]).optional() })), async (c) => {
      const onlyOpen = c.req.valid("query").open === "1";
      const rows = await c.var.db.select().from(conflicts).where(onlyOpen ? isNull(conflicts.resolvedAt) : undefined).orderBy(asc(conflicts.detectedAt));
      return c.json({ conflicts: rows });
    })
    .post("/api/conflicts/:origin/:seq/resolve", guard, zv("param", key), jsonBody(z.object({ resolution: z.string().trim().min(1, "请写明处理结果").max(500) })), async (c) => {
      const { origin, seq } = c.req.valid("param");
      const [row] = await c.var.db.select().from(conflicts).where(and(eq(conflicts.origin, origin), eq(conflicts.seq, seq))).limit(1);
      if (!row) throw new AppError("not_found", `冲突 ${origin}:${seq} 不存在`, { origin, seq });
      if (row.resolvedAt) return c.json(row);
      const resolved = { resolvedAt: c.var.now().toISOString(), resolution: c.req.valid("json").resolution };
      await c.var.db.update(conflicts).set(resolved).where(and(eq(conflicts.origin, origin), eq(conflicts.seq, seq)));
      return c.json({ ...row, ...resolved });
    });
}
