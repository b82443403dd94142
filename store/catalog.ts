/** Catalog reads: service items with their guides, and departments. */
import { and, asc, count, eq, like, or, sql, type SQL } from "drizzle-orm";
import { departments, serviceItems } from "../schema/tables.js";
import type { LimitUnit, Place, ServiceItemKind } from "../schema/types.js";
import type { ItemForCase } from "../domain/lifecycle.js";
import type { Db } from "./db.js";

export type ItemRow = typeof serviceItems.$inferSelect;
export type DepartmentRow = typeof departments.$inferSelect;

export interface CatalogQuery {
  q?: string;
  department?: string;
  place?: Place;
  page: number;
  pageSize: number;
}

/** The list view of an item. */
export interface ItemSummary {
  code: string;
  basicCode: string;
  name: string;
  department: { code: string; name: string };
  kind: ServiceItemKind;
  category: string;
  places: Place[];
  onlineDepth: number;
  statutoryLimit: { value: number; unit: LimitUnit };
  promisedLimit: { value: number; unit: LimitUnit };
  free: boolean;
}

function summary(row: ItemRow, dept: { code: string; name: string }): ItemSummary {
  return {
    code: row.code,
    basicCode: row.basicCode,
    name: row.name,
    department: dept,
    kind: row.kind,
    category: row.category,
    places: row.places,
    onlineDepth: row.onlineDepth,
    statutoryLimit: { value: row.statutoryLimitValue, unit: row.statutoryLimitUnit },
    promisedLimit: { value: row.promisedLimitValue, unit: row.promisedLimitUnit },
    free: row.fees.length === 0 || row.fees.every((f) => Number(f.amount) === 0),
  };
}

/** The full 办事指南 of an item. */
export type ItemGuide = ItemSummary &
  Pick<ItemRow, "level" | "content" | "legalBasis" | "conditions" | "materials" | "procedure" | "fees" | "resultType" | "resultName" | "complaintChannel" | "address" | "consultPhone" | "updatedAt"> & {
    jointDepartments: { code: string; name: string }[];
  };

/** Searches the catalog; `q` matches name, codes and content. */
export async function listItems(db: Db, query: CatalogQuery): Promise<{ items: ItemSummary[]; total: number }> {
  const where: SQL[] = [];
  if (query.q) {
    // instr, not LIKE: D1 refuses LIKE patterns over 50 bytes, and an item's full name is longer.
    // upper() on both sides keeps LIKE's ASCII case-insensitivity (item codes typed in lower case).
    const needle = query.q.replace(/[a-z]/g, (ch) => ch.toUpperCase());
    where.push(
      or(
        sql`instr(upper(${serviceItems.name}), ${needle}) > 0`,
        sql`instr(upper(${serviceItems.code}), ${needle}) > 0`,
        sql`instr(upper(${serviceItems.basicCode}), ${needle}) > 0`,
        sql`instr(upper(${serviceItems.content}), ${needle}) > 0`,
      )!,
    );
  }
  if (query.department) where.push(eq(serviceItems.departmentCode, query.department));
  if (query.place) where.push(like(serviceItems.places, `%"${query.place}"%`));
  const cond = where.length ? and(...where) : undefined;
  const [rows, totals] = await Promise.all([
    db
      .select({ item: serviceItems, deptName: departments.name })
      .from(serviceItems)
      .innerJoin(departments, eq(departments.code, serviceItems.departmentCode))
      .where(cond)
      .orderBy(asc(departments.sortOrder), asc(serviceItems.code))
      .limit(query.pageSize)
      .offset((query.page - 1) * query.pageSize),
    db.select({ n: count() }).from(serviceItems).where(cond),
  ]);
  return {
    items: rows.map((r) => summary(r.item, { code: r.item.departmentCode, name: r.deptName })),
    total: totals[0]?.n ?? 0,
  };
}

/** One item's stored row, or null. */
export async function getItemRow(db: Db, code: string): Promise<ItemRow | null> {
  const rows = await db.select().from(serviceItems).where(eq(serviceItems.code, code)).limit(1);
  return rows[0] ?? null;
}

/** The full guide of an item, or null when the code is unknown. */
export async function getItemGuide(db: Db, code: string): Promise<ItemGuide | null> {
  const row = await getItemRow(db, code);
  if (!row) return null;
  const depts = await listDepartments(db);
  const name = (c: string) => depts.find((d) => d.code === c)?.name ?? c;
  return {
    ...summary(row, { code: row.departmentCode, name: name(row.departmentCode) }),
    level: row.level,
    content: row.content,
    legalBasis: row.legalBasis,
    conditions: row.conditions,
    materials: row.materials,
    procedure: row.procedure,
    fees: row.fees,
    resultType: row.resultType,
    resultName: row.resultName,
    complaintChannel: row.complaintChannel,
    address: row.address,
    consultPhone: row.consultPhone,
    updatedAt: row.updatedAt,
    jointDepartments: row.jointDepartments.map((c) => ({ code: c, name: name(c) })),
  };
}

/** All departments in display order. */
export async function listDepartments(db: Db): Promise<DepartmentRow[]> {
  return db.select().from(departments).orderBy(asc(departments.sortOrder), asc(departments.code));
}

/** What the case lifecycle needs of an item row. */
export function itemForCase(row: ItemRow): ItemForCase {
  return {
    code: row.code,
    name: row.name,
    departmentCode: row.departmentCode,
    kind: row.kind,
    materials: row.materials,
    promisedLimit: { value: row.promisedLimitValue, unit: row.promisedLimitUnit },
    jointDepartments: row.jointDepartments,
    places: row.places,
  };
}
