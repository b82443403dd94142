/**
 * The reference data case handling reads on every write: the item's row and the working
 * calendar. The city reads them afresh (many isolates write there); a node, the only writer of
 * its own file, keeps them in memory and drops them when a pull changes them.
 */
import type { WorkCalendar } from "../domain/time.js";
import { loadCalendar } from "./calendar.js";
import { getItemRow, type ItemRow } from "./catalog.js";
import type { Db } from "./db.js";

export interface ReferenceData {
  calendar(): Promise<WorkCalendar>;
  /** The item's row, or null for an unknown code. Callers must not change it. */
  item(code: string): Promise<ItemRow | null>;
}

/** Reads from the database every time. */
export function readReference(db: Db): ReferenceData {
  return { calendar: () => loadCalendar(db), item: (code) => getItemRow(db, code) };
}

/** Keeps what it read until `invalidate()`; for a database only this process writes. */
export class CachedReference implements ReferenceData {
  private cal: Promise<WorkCalendar> | null = null;
  private readonly items = new Map<string, ItemRow>();
  /** Bumped by invalidate(): a read that began before it must not fill the cache after it. */
  private generation = 0;

  constructor(private readonly db: Db) {}

  calendar(): Promise<WorkCalendar> {
    this.cal ??= loadCalendar(this.db).catch((err: unknown) => {
      this.cal = null;
      throw err;
    });
    return this.cal;
  }

  async item(code: string): Promise<ItemRow | null> {
    const hit = this.items.get(code);
    if (hit) return hit;
    // Unknown codes are not remembered: a stream of bad requests must not grow the cache.
    const generation = this.generation;
    const row = await getItemRow(this.db, code);
    if (row && generation === this.generation) this.items.set(code, row);
    return row;
  }

  /** Forgets everything: the catalog or the calendar changed underneath. */
  invalidate(): void {
    this.generation++;
    this.cal = null;
    this.items.clear();
  }
}
