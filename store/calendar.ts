/** Loads the working-day calendar from its tables. */
import { calendarDays, calendarYears } from "../schema/tables.js";
import { makeCalendar, type WorkCalendar } from "../domain/time.js";
import type { Db } from "./db.js";

/** The whole calendar (a few dozen rows a year). */
export async function loadCalendar(db: Db): Promise<WorkCalendar> {
  const [days, years] = await Promise.all([
    db.select({ date: calendarDays.date, kind: calendarDays.kind }).from(calendarDays),
    db.select({ year: calendarYears.year }).from(calendarYears),
  ]);
  return makeCalendar(days, years.map((y) => y.year));
}
