/**
 * `GET /api/admin/access-log` (permission `access-log.read`): the audit log of this shell's
 * database, newest first, paged by `before` (a seq), filtered by action and by case number or
 * other subject. Each entry says who (actor, role, hall, name), when, what and about which case
 * or account. Full ID numbers are never written to the log; should one ever be, it is masked here.
 */
import { Hono } from "hono";
import { z } from "zod";
import { AUDIT_ACTION_PATTERN, auditActionLabel } from "../domain/audit.js";
import { CASE_NO_PATTERN } from "../domain/case-number.js";
import { maskIdNumber } from "../domain/codes.js";
import { ROLE_LABELS } from "../domain/lifecycle.js";
import { parseActor } from "../domain/principal.js";
import { accountNames } from "../store/account-admin.js";
import { readAudit } from "../store/sessions.js";
import { requires } from "./auth.js";
import { caseNoSchema } from "./cases.js";
import type { SharedEnv } from "./env.js";
import { digits, line, zv } from "./validate.js";

const LABELS = { action: "记录类型", caseNo: "办件编号", subject: "对象", before: "起始序号", limit: "条数" } as const;

const query = z
  .object({
    action: z.string().regex(AUDIT_ACTION_PATTERN, "应为记录类型的英文名，如 id_number_view").optional(),
    caseNo: caseNoSchema.optional(),
    subject: z.string().trim().min(1, "不能为空").max(100, "不超过100个字符").pipe(line()).optional(),
    before: digits("起始序号", 1, 1e15).optional(),
    limit: digits("条数", 1, 200).default(50),
  })
  .refine((q) => !(q.caseNo && q.subject), { message: "caseNo 与 subject 只能给一个", path: ["subject"] });

/** Masks anything shaped like an 18-character ID number (defence in depth: none is ever logged). */
const masked = (s: string) => s.replace(/\d{17}[\dX]/g, maskIdNumber);

/** The access-log route (mounted where administrators sign in: the city). */
export function accessLogRoutes() {
  return new Hono<SharedEnv>().get("/api/admin/access-log", requires("access-log.read"), zv("query", query, LABELS), async (c) => {
    const q = c.req.valid("query");
    const rows = await readAudit(c.var.db, { action: q.action, subject: q.caseNo ?? q.subject, before: q.before, limit: q.limit });
    const actors = rows.map((r) => parseActor(r.actor));
    const names = await accountNames(c.var.db, actors.flatMap((a) => (a && a.role !== "system" ? [a.id] : [])));
    const entries = rows.map((r, i) => {
      const a = actors[i];
      return {
        seq: r.seq,
        at: r.at,
        actor: r.actor,
        who: a ? { role: a.role, roleLabel: a.role === "system" ? "系统任务" : ROLE_LABELS[a.role], id: a.id, hall: a.hall, name: names.get(a.id) ?? null } : null,
        action: r.action,
        actionLabel: auditActionLabel(r.action),
        subject: masked(r.subject),
        caseNo: CASE_NO_PATTERN.test(r.subject) ? r.subject : null,
        detail: masked(r.detail),
        address: r.address,
      };
    });
    return c.json({ entries, nextBefore: rows.length === q.limit ? rows.at(-1)!.seq : null });
  });
}
