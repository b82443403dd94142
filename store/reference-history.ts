/**
 * The city's catalog and calendar as they stood at an earlier point of its change feed. Every
 * administrator's change keeps the state it replaced (`service_item_versions`,
 * `calendar_day_versions`), keyed by the `changes.seq` that replaced it. A node works with the
 * reference of the cursor it last pulled to, so the city re-checks its offline work against that
 * reference too, instead of calling honest work on an edited item or a changed holiday a conflict.
 * The writes here are the only way the catalog and calendar change, so no change can forget its version.
 */
import { and, asc, count, eq, getTableColumns, gt, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { calendarDays, calendarDayVersions, calendarYears, changes, serviceItems, serviceItemVersions } from "../schema/tables.js";
import { makeCalendar, type WorkCalendar } from "../domain/time.js";
import type { ItemForCase } from "../domain/lifecycle.js";
import { rawStatement } from "./bulk.js";
import { itemForCase, type ItemRow } from "./catalog.js";
import type { Db } from "./db.js";

type Stmt = BatchItem<"sqlite">;

/** Each field of an item row and the SQL that reads it; JSON columns (stored as text) go in as JSON values. */
const ITEM_FIELDS: [string, string][] = Object.entries(getTableColumns(serviceItems)).map(([field, col]) => [field, col.dataType === "json" ? `json("${col.name}")` : `"${col.name}"`]);

/**
 * The feed row of a change, then the state it replaces kept under that row's seq (the batch is one
 * transaction, so the newest seq is this change's).
 */
function changeKeeping(db: Db, kind: "item" | "calendar_day", key: string, at: string, keep: string, params: unknown[], then: Stmt): Promise<unknown> {
  const stmts: Stmt[] = [db.insert(changes).values({ kind, key, node: null, at }), rawStatement(db, keep, params), then];
  return db.batch(stmts as [Stmt, ...Stmt[]]);
}

/** Replaces (or adds) a catalog item, keeping the version it replaces; reaches every node by pull. */
export async function putItem(db: Db, row: typeof serviceItems.$inferInsert, at: string): Promise<void> {
  await changeKeeping(
    db,
    "item",
    row.code,
    at,
    `INSERT OR IGNORE INTO "service_item_versions" ("code", "superseded_seq", "row")
     SELECT "code", (SELECT max("seq") FROM "changes"), json_object(${ITEM_FIELDS.map(([field, column]) => `'${field}', ${column}`).join(", ")}) FROM "service_items" WHERE "code" = ?`,
    [row.code],
    db.insert(serviceItems).values(row).onConflictDoUpdate({ target: serviceItems.code, set: row }),
  );
}

/** Keeps a calendar date's current override (or its absence) under the newest change. */
const KEEP_DAY = `INSERT OR IGNORE INTO "calendar_day_versions" ("date", "superseded_seq", "kind", "name")
  SELECT ?, (SELECT max("seq") FROM "changes"), d."kind", d."name" FROM (SELECT 1) LEFT JOIN "calendar_days" d ON d."date" = ?`;

/** Sets a calendar override, keeping the state it replaces; reaches every node by pull. */
export async function putCalendarDay(db: Db, row: typeof calendarDays.$inferInsert): Promise<void> {
  await changeKeeping(db, "calendar_day", row.date, row.updatedAt, KEEP_DAY, [row.date, row.date], db.insert(calendarDays).values(row).onConflictDoUpdate({ target: calendarDays.date, set: row }));
}

/** Removes a calendar override, keeping the state it replaces; reaches every node by pull. */
export async function deleteCalendarDay(db: Db, date: string, at: string): Promise<void> {
  await changeKeeping(db, "calendar_day", date, at, KEEP_DAY, [date, date], db.delete(calendarDays).where(eq(calendarDays.date, date)));
}

/** Whether the calendar, or any of these items, changed after the change feed's `cursor`. */
export async function referenceChangedSince(db: Db, codes: readonly string[], cursor: number): Promise<boolean> {
  const [days] = await db.select({ n: count() }).from(calendarDayVersions).where(gt(calendarDayVersions.supersededSeq, cursor));
  if ((days?.n ?? 0) > 0) return true;
  if (codes.length === 0) return false;
  const [items] = await db
    .select({ n: count() })
    .from(serviceItemVersions)
    .where(and(sql`${serviceItemVersions.code} IN (SELECT value FROM json_each(${JSON.stringify([...new Set(codes)])}))`, gt(serviceItemVersions.supersededSeq, cursor)));
  return (items?.n ?? 0) > 0;
}

/**
 * The items with these codes and the calendar as they stood at `cursor`, built from today's (given)
 * by undoing every change after it: for each item or date, the first state kept after the cursor
 * is the one it had then.
 */
export async function referenceAsOf(db: Db, cursor: number, today: { items: ReadonlyMap<string, ItemForCase>; days: ReadonlyMap<string, "holiday" | "workday"> }, codes: readonly string[]) {
  const list = JSON.stringify([...new Set(codes)]);
  const [itemVersions, dayVersions, years] = await Promise.all([
    db
      .select()
      .from(serviceItemVersions)
      .where(and(sql`${serviceItemVersions.code} IN (SELECT value FROM json_each(${list}))`, gt(serviceItemVersions.supersededSeq, cursor)))
      .orderBy(asc(serviceItemVersions.supersededSeq)),
    db.select().from(calendarDayVersions).where(gt(calendarDayVersions.supersededSeq, cursor)).orderBy(asc(calendarDayVersions.supersededSeq)),
    db.select({ year: calendarYears.year }).from(calendarYears),
  ]);
  const items = new Map(today.items);
  const seenItems = new Set<string>();
  for (const v of itemVersions) {
    if (seenItems.has(v.code)) continue;
    seenItems.add(v.code);
    items.set(v.code, itemForCase(v.row as unknown as ItemRow));
  }
  // An item first added after the cursor has no version kept: the node could not have had it.
  const added = await db
    .select({ key: changes.key })
    .from(changes)
    .where(and(eq(changes.kind, "item"), gt(changes.seq, cursor), sql`${changes.key} IN (SELECT value FROM json_each(${list}))`));
  for (const { key } of added) if (!seenItems.has(key)) items.delete(key);
  const days = new Map(today.days);
  const seenDays = new Set<string>();
  for (const v of dayVersions) {
    if (seenDays.has(v.date)) continue;
    seenDays.add(v.date);
    if (v.kind) days.set(v.date, v.kind);
    else days.delete(v.date);
  }
  const calendar: WorkCalendar = makeCalendar([...days].map(([date, kind]) => ({ date, kind })), years.map((y) => y.year));
  return { items, calendar };
}

/** Every kind an item has had: today's and those of the versions kept. */
export async function itemKindsEver(db: Db, code: string, today: ItemRow["kind"]): Promise<ItemRow["kind"][]> {
  const earlier = await db.select({ row: serviceItemVersions.row }).from(serviceItemVersions).where(eq(serviceItemVersions.code, code));
  return [...new Set([today, ...earlier.map((v) => (v.row as { kind: ItemRow["kind"] }).kind)])];
}
