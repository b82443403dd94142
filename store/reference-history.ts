/**
 * The city's catalog and calendar as they stood at an earlier time. Every administrator's change
 * keeps the state it replaced (`service_item_versions`, `calendar_day_versions`), so the city can
 * re-check a node's offline work against the reference the node had — the one of its last pull —
 * instead of calling honest work on an edited item or a changed holiday a conflict.
 */
import { and, asc, getTableColumns, gt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { calendarDays, calendarDayVersions, calendarYears, serviceItems, serviceItemVersions } from "../schema/tables.js";
import { makeCalendar, type WorkCalendar } from "../domain/time.js";
import type { ItemForCase } from "../domain/lifecycle.js";
import { rawStatement } from "./bulk.js";
import { itemForCase, type ItemRow } from "./catalog.js";
import type { Db } from "./db.js";

/** A statement keeping an item's current row as a version before it is replaced at `at` (nothing if it is new). */
export function keepItemVersion(db: Db, code: string, at: string): BatchItem<"sqlite"> {
  // The row goes in as the JSON drizzle would read back: column names as the table's field names.
  return rawStatement(
    db,
    `INSERT OR IGNORE INTO "service_item_versions" ("code", "superseded_at", "row")
     SELECT "code", ?, json_object(${ITEM_FIELDS.map(([field, column]) => `'${field}', ${column}`).join(", ")}) FROM "service_items" WHERE "code" = ?`,
    [at, code],
  );
}

/** Each field of an item row and the SQL that reads it; JSON columns (stored as text) go in as JSON values. */
const ITEM_FIELDS: [string, string][] = Object.entries(getTableColumns(serviceItems)).map(([field, col]) => [field, col.dataType === "json" ? `json("${col.name}")` : `"${col.name}"`]);

/** A statement keeping a calendar date's current override (or its absence) before it changes at `at`. */
export function keepCalendarDayVersion(db: Db, date: string, at: string): BatchItem<"sqlite"> {
  return rawStatement(
    db,
    `INSERT OR IGNORE INTO "calendar_day_versions" ("date", "superseded_at", "kind", "name")
     SELECT ?, ?, d."kind", d."name" FROM (SELECT 1) LEFT JOIN "calendar_days" d ON d."date" = ?`,
    [date, at, date],
  );
}

/** The item rows with these codes as they stood at `at` (a code absent then is absent here). */
export async function itemsAsOf(db: Db, codes: readonly string[], at: string): Promise<Map<string, ItemForCase>> {
  const out = new Map<string, ItemForCase>();
  if (codes.length === 0) return out;
  const list = JSON.stringify([...new Set(codes)]);
  const [current, versions] = await Promise.all([
    db.select().from(serviceItems).where(sql`${serviceItems.code} IN (SELECT value FROM json_each(${list}))`),
    db
      .select()
      .from(serviceItemVersions)
      .where(and(sql`${serviceItemVersions.code} IN (SELECT value FROM json_each(${list}))`, gt(serviceItemVersions.supersededAt, at)))
      .orderBy(asc(serviceItemVersions.supersededAt)),
  ]);
  for (const row of current) if (row.updatedAt <= at) out.set(row.code, itemForCase(row));
  // The first version replaced after `at` is the one in effect at `at`, if it had taken effect by then.
  const seen = new Set<string>();
  for (const v of versions) {
    if (seen.has(v.code)) continue;
    seen.add(v.code);
    const row = v.row as unknown as ItemRow;
    if (row.updatedAt <= at) out.set(v.code, itemForCase(row));
    else out.delete(v.code);
  }
  return out;
}

/** The working calendar as it stood at `at`, and whether it differs from today's. */
export async function calendarAsOf(db: Db, at: string): Promise<{ calendar: WorkCalendar; changed: boolean }> {
  const [days, years, versions] = await Promise.all([
    db.select({ date: calendarDays.date, kind: calendarDays.kind }).from(calendarDays),
    db.select({ year: calendarYears.year }).from(calendarYears),
    db.select().from(calendarDayVersions).where(gt(calendarDayVersions.supersededAt, at)).orderBy(asc(calendarDayVersions.supersededAt)),
  ]);
  const state = new Map(days.map((d) => [d.date, d.kind]));
  const seen = new Set<string>();
  for (const v of versions) {
    if (seen.has(v.date)) continue;
    seen.add(v.date);
    if (v.kind) state.set(v.date, v.kind);
    else state.delete(v.date);
  }
  return {
    calendar: makeCalendar([...state].map(([date, kind]) => ({ date, kind })), years.map((y) => y.year)),
    changed: versions.length > 0,
  };
}

/** Whether any catalog item among `codes` changed after `at`. */
export async function itemsChangedSince(db: Db, codes: readonly string[], at: string): Promise<boolean> {
  if (codes.length === 0) return false;
  const rows = await db
    .select({ code: serviceItemVersions.code })
    .from(serviceItemVersions)
    .where(and(sql`${serviceItemVersions.code} IN (SELECT value FROM json_each(${JSON.stringify([...new Set(codes)])}))`, gt(serviceItemVersions.supersededAt, at)))
    .limit(1);
  return rows.length > 0;
}
