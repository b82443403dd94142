/**
 * The bundled seed (catalog and calendar) as plain SQL statements, so that one text seeds the
 * city's D1 (`wrangler d1 execute --file`), a node's libSQL file and the workerd tests alike.
 * Every statement is `ON CONFLICT DO NOTHING`: re-seeding never overwrites an administrator's edits.
 */
import { getTableColumns, getTableName, type Table } from "drizzle-orm";
import { calendarDays, calendarYears, departments, serviceItems } from "../schema/tables.js";
import { seedCalendar } from "../schema/seed/calendar.js";
import { seedDepartments, seedItems } from "../schema/seed/catalog.js";
import { addDays } from "../domain/time.js";

function literal(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "NULL";
  if (typeof v === "boolean") return v ? "1" : "0";
  return `'${String(v).replaceAll("'", "''")}'`;
}

/** `INSERT … ON CONFLICT DO NOTHING` for rows keyed by the table's TypeScript field names. */
export function insertSql<T extends Table>(table: T, rows: readonly T["$inferInsert"][]): string[] {
  const columns = getTableColumns(table) as Record<string, { name: string; mapToDriverValue(v: unknown): unknown }>;
  const name = getTableName(table);
  return rows.map((row) => {
    const keys = Object.keys(columns).filter((k) => (row as Record<string, unknown>)[k] !== undefined);
    const cols = keys.map((k) => `"${columns[k]!.name}"`).join(", ");
    const vals = keys.map((k) => literal(columns[k]!.mapToDriverValue((row as Record<string, unknown>)[k]))).join(", ");
    return `INSERT INTO "${name}" (${cols}) VALUES (${vals}) ON CONFLICT DO NOTHING;`;
  });
}

/** Calendar override rows of the bundled official arrangements. */
export function seedCalendarRows(updatedAt: string) {
  const days: (typeof calendarDays.$inferInsert)[] = [];
  for (const y of seedCalendar) {
    for (const h of y.holidays) {
      for (let d = h.from; d <= h.to; d = addDays(d, 1)) days.push({ date: d, kind: "holiday", name: h.name, updatedAt });
    }
    for (const w of y.workdays) days.push({ date: w.date, kind: "workday", name: w.name, updatedAt });
  }
  const years = seedCalendar.map((y) => ({ year: y.year, source: y.source, updatedAt }));
  return { days, years };
}

/** All seed statements, departments before the items that reference them. */
export function seedStatements(updatedAt = "2026-01-01T00:00:00.000Z"): string[] {
  const { days, years } = seedCalendarRows(updatedAt);
  return [
    ...insertSql(departments, seedDepartments.map((d) => ({ ...d, updatedAt }))),
    ...insertSql(
      serviceItems,
      seedItems.map(({ statutoryLimit, promisedLimit, ...i }) => ({
        ...i,
        statutoryLimitValue: statutoryLimit.value,
        statutoryLimitUnit: statutoryLimit.unit,
        promisedLimitValue: promisedLimit.value,
        promisedLimitUnit: promisedLimit.unit,
        updatedAt,
      })),
    ),
    ...insertSql(calendarDays, days),
    ...insertSql(calendarYears, years),
  ];
}
