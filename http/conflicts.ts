/** Conflicts flagged by the city: listed for a person, and marked resolved with what they decided. */
import { Hono } from "hono";
import { and, asc, eq, isNull, or } from "drizzle-orm";
import { audit } from "../store/sessions.js";
import { callerOf, principal, requires } from "./auth.js";
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

/** The conflicts a principal may see: a supervisor all of them, a clerk those of their hall (a node holds only its own). */
function scope(c: { var: CaseEnv["Variables"] }) {
  const p = principal(c);
  return p.role === "supervisor" ? undefined : or(eq(conflicts.node, p.hall), eq(conflicts.node, ""));
}

/** `GET /api/conflicts[?open=1]` and `POST /api/conflicts/:origin/:seq/resolve`. */
export function conflictRoutes() {
  return new Hono<CaseEnv>()
    .get("/api/conflicts", requires("conflict.read"), zv("query", z.object({ open: z.enum(["0", "1"]).optional() })), async (c) => {
      const onlyOpen = c.req.valid("query").open === "1";
      const rows = await c.var.db
        .select()
        .from(conflicts)
        .where(and(onlyOpen ? isNull(conflicts.resolvedAt) : undefined, scope(c)))
        .orderBy(asc(conflicts.detectedAt));
      return c.json({ conflicts: rows });
    })
    .post("/api/conflicts/:origin/:seq/resolve", requires("conflict.resolve"), zv("param", key), jsonBody(z.object({ resolution: z.string().trim().min(1, "请写明处理结果").max(500) })), async (c) => {
      const { origin, seq } = c.req.valid("param");
      const [row] = await c.var.db.select().from(conflicts).where(and(eq(conflicts.origin, origin), eq(conflicts.seq, seq), scope(c))).limit(1);
      if (!row) throw new AppError("not_found", `冲突 ${origin}:${seq} 不存在`, { origin, seq });
      if (row.resolvedAt) return c.json(row);
      const now = c.var.now();
      const resolved = { resolvedAt: now.toISOString(), resolution: c.req.valid("json").resolution };
      await c.var.db.update(conflicts).set(resolved).where(and(eq(conflicts.origin, origin), eq(conflicts.seq, seq)));
      await audit(c.var.db, { actor: callerOf(c), action: "conflict_resolved", subject: `${origin}:${seq}`, detail: resolved.resolution, address: c.var.clientAddress ?? null }, now);
      return c.json({ ...row, ...resolved });
    });
}
