/**
 * Shared fixtures for the domain tests: the official 2025/2026 calendar built directly from
 * schema/seed/calendar.ts (date iteration done here, not with the domain's own helpers), and
 * small independent date utilities used to double-check weekdays.
 */
import { seedCalendar } from "../../schema/seed/calendar.js";
import { makeCalendar, type WorkCalendar } from "../../domain/time.js";

const DAY = 86_400_000;

/** The ISO date after `date`, computed with plain UTC arithmetic. */
export function nextIsoDate(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
}

/** Day of week of a calendar date (0 = Sunday … 6 = Saturday), independent of any time zone. */
export function weekday(date: string): number {
  return new Date(`${date}T00:00:00Z`).getUTCDay();
}

/** Override rows (holiday / workday) of the bundled official arrangements. */
export function officialRows(): { date: string; kind: "holiday" | "workday" }[] {
  const rows: { date: string; kind: "holiday" | "workday" }[] = [];
  for (const y of seedCalendar) {
    for (const h of y.holidays) {
      for (let d = h.from; d <= h.to; d = nextIsoDate(d)) rows.push({ date: d, kind: "holiday" });
    }
    for (const w of y.workdays) rows.push({ date: w.date, kind: "workday" });
  }
  return rows;
}

/** The working-day calendar with the official 2025 and 2026 arrangements and default office hours. */
export function officialCalendar(): WorkCalendar {
  return makeCalendar(
    officialRows(),
    seedCalendar.map((y) => y.year),
  );
}
