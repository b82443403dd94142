/**
 * Working-day calendar, deadlines and supervision lights (DESIGN.md "Time").
 *
 * China has used UTC+8 without daylight saving since 1991, so Asia/Shanghai is a fixed
 * offset here: no Intl, no machine TZ, the same answer on a UTC server and a Beijing PC.
 */
import type { LimitUnit } from "../schema/types.js";

const OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;

/** A `YYYY-MM-DD` date in Asia/Shanghai. */
export type LocalDate = string;

/** Office hours as minute ranges after local midnight, e.g. 08:30–12:00 and 13:30–17:30. */
export type OfficeHours = readonly (readonly [number, number])[];

/** The centre's default office hours: 08:30–12:00, 13:30–17:30 (7.5 hours a day). */
export const DEFAULT_OFFICE_HOURS: OfficeHours = [
  [8 * 60 + 30, 12 * 60],
  [13 * 60 + 30, 17 * 60 + 30],
];

/** The working-day calendar: exceptions to Mon–Fri, and which years have been published. */
export interface WorkCalendar {
  overrides: ReadonlyMap<LocalDate, "holiday" | "workday">;
  publishedYears: ReadonlySet<number>;
  officeHours: OfficeHours;
}

/** A limit such as 承诺时限 5 working days or 2 working hours. */
export interface Limit {
  value: number;
  unit: LimitUnit;
}

/** A clock suspension (暂停计时); `to` null while it lasts. */
export interface Suspension {
  from: string;
  to: string | null;
  reason?: string;
}

/** A problem the computation found but could work around, shown to people (Chinese). */
export interface TimeWarning {
  code: "calendar_unpublished";
  years: number[];
  message: string;
}

export interface Deadline {
  /** The instant the limit runs out (UTC). */
  instant: Date;
  /** Its date in Asia/Shanghai. */
  date: LocalDate;
  warnings: TimeWarning[];
}

/** Builds a calendar from stored override rows. */
export function makeCalendar(
  rows: readonly { date: string; kind: "holiday" | "workday" }[],
  years: readonly number[],
  officeHours: OfficeHours = DEFAULT_OFFICE_HOURS,
): WorkCalendar {
  return {
    overrides: new Map(rows.map((r) => [r.date, r.kind])),
    publishedYears: new Set(years),
    officeHours,
  };
}

function toDate(at: Date | string): Date {
  return typeof at === "string" ? new Date(at) : at;
}

/** The Asia/Shanghai date of an instant. */
export function localDate(at: Date | string): LocalDate {
  return new Date(toDate(at).getTime() + OFFSET_MS).toISOString().slice(0, 10);
}

/** Minutes after Asia/Shanghai midnight of an instant. */
export function localMinutes(at: Date | string): number {
  const ms = (toDate(at).getTime() + OFFSET_MS) % DAY_MS;
  return Math.floor((ms < 0 ? ms + DAY_MS : ms) / 60_000);
}

/** The UTC instant of a local date and minute of day in Asia/Shanghai. */
export function instantAt(date: LocalDate, minutes: number): Date {
  return new Date(Date.parse(`${date}T00:00:00Z`) - OFFSET_MS + minutes * 60_000);
}

/** The date `n` days after `date` (n may be negative). */
export function addDays(date: LocalDate, n: number): LocalDate {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

/** Formats an instant as `YYYY-MM-DD HH:mm` in Asia/Shanghai for people. */
export function formatLocal(at: Date | string): string {
  const t = toDate(at).getTime();
  // Stored before instants were checked, a record may hold a time that is no time: say so, never throw.
  if (!Number.isFinite(t)) return "时间不详";
  const iso = new Date(t + OFFSET_MS).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** Formats a local date as 2026年10月9日. */
export function formatDateZh(date: LocalDate): string {
  const [y, m, d] = date.split("-");
  return `${y}年${Number(m)}月${Number(d)}日`;
}

/** Whether `date` is a working day: the overrides first, then Monday–Friday. */
export function isWorkingDay(cal: WorkCalendar, date: LocalDate): boolean {
  const o = cal.overrides.get(date);
  if (o) return o === "workday";
  const dow = new Date(`${date}T00:00:00Z`).getUTCDay();
  return dow !== 0 && dow !== 6;
}

/** The first working day strictly after `date`. */
export function nextWorkingDay(cal: WorkCalendar, date: LocalDate): LocalDate {
  let d = addDays(date, 1);
  for (let i = 0; i < 400 && !isWorkingDay(cal, d); i++) d = addDays(d, 1);
  return d;
}

function closeOfDay(cal: WorkCalendar, date: LocalDate): Date {
  return instantAt(date, cal.officeHours[cal.officeHours.length - 1]![1]);
}

function yearWarnings(cal: WorkCalendar, from: LocalDate, to: LocalDate): TimeWarning[] {
  const missing: number[] = [];
  for (let y = Number(from.slice(0, 4)); y <= Number(to.slice(0, 4)); y++) {
    if (!cal.publishedYears.has(y)) missing.push(y);
  }
  if (missing.length === 0) return [];
  return [
    {
      code: "calendar_unpublished",
      years: missing,
      message: `${missing.join("、")}年的法定节假日安排尚未录入工作日历，期限暂按周一至周五工作推算，可能不准确；请管理员尽快录入。`,
    },
  ];
}

/**
 * What the administrator must know about the calendar at `now`: the years entered, and a
 * warning when this year or the next (deadlines reach into it) has no official arrangement yet.
 */
export function calendarStatus(cal: WorkCalendar, now: Date): { publishedYears: number[]; warnings: TimeWarning[] } {
  const today = localDate(now);
  const next = `${Number(today.slice(0, 4)) + 1}-12-31`;
  return { publishedYears: [...cal.publishedYears].sort(), warnings: yearWarnings(cal, today, next) };
}

/** Dates excluded by suspensions: every date in [start date, resume date) of each interval. */
function suspendedDates(suspensions: readonly Suspension[], now: Date): Set<LocalDate> {
  const out = new Set<LocalDate>();
  for (const s of suspensions) {
    const end = localDate(s.to ?? now);
    for (let d = localDate(s.from), i = 0; d < end && i < 3660; d = addDays(d, 1), i++) out.add(d);
  }
  return out;
}

/**
 * When a limit that starts at `start` runs out.
 * Days: the day of `start` does not count; the limit ends at the close of office hours on the
 * Nth working day after it, skipping the days the clock was suspended.
 * Hours: office minutes are counted from `start` (or the next opening), minus suspended minutes.
 * An open suspension is taken to last until `now`.
 */
export function computeDeadline(
  cal: WorkCalendar,
  start: Date | string,
  limit: Limit,
  suspensions: readonly Suspension[] = [],
  now: Date = toDate(start),
): Deadline {
  const startAt = toDate(start);
  // A zero-day limit means "the same day": never a deadline before the start.
  if (limit.unit === "day" && limit.value === 0) return immediateDeadline(cal, startAt);
  const startDate = localDate(startAt);
  let instant: Date;
  if (limit.unit === "day") {
    instant = closeOfDay(cal, suspensions.length ? nthWorkingDayAfter(cal, startDate, limit.value, suspendedDates(suspensions, now)) : plainDayLimit(cal, startDate, limit.value));
  } else {
    instant = addOfficeMinutes(cal, startAt, limit.value * 60, suspensions, now);
  }
  const date = localDate(instant);
  return { instant, date, warnings: yearWarnings(cal, startDate, date) };
}

/** The Nth working day after `date`, not counting the `skip` dates. */
function nthWorkingDayAfter(cal: WorkCalendar, date: LocalDate, n: number, skip: ReadonlySet<LocalDate>): LocalDate {
  let d = date;
  for (let counted = 0, guard = 0; counted < n && guard < 36600; guard++) {
    d = addDays(d, 1);
    if (isWorkingDay(cal, d) && !skip.has(d)) counted++;
  }
  return d;
}

const NO_DATES: ReadonlySet<LocalDate> = new Set();
/** Per calendar (a calendar object never changes: a changed one is a new object), the ends of plain day limits. */
const dayLimitEnds = new WeakMap<WorkCalendar, Map<string, LocalDate>>();

/**
 * `nthWorkingDayAfter` without suspensions, remembered: every case accepted on one day with one
 * limit ends on the same day, and the city re-computes a deadline for every case a node pushes.
 */
function plainDayLimit(cal: WorkCalendar, date: LocalDate, n: number): LocalDate {
  let ends = dayLimitEnds.get(cal);
  if (!ends) dayLimitEnds.set(cal, (ends = new Map()));
  const key = `${date}|${n}`;
  let end = ends.get(key);
  if (end === undefined) ends.set(key, (end = nthWorkingDayAfter(cal, date, n, NO_DATES)));
  return end;
}

function overlapMs(aFrom: number, aTo: number, bFrom: number, bTo: number): number {
  return Math.max(0, Math.min(aTo, bTo) - Math.max(aFrom, bFrom));
}

/** Walks office segments from `start`, consuming `minutes` of unsuspended office time. */
function addOfficeMinutes(
  cal: WorkCalendar,
  start: Date,
  minutes: number,
  suspensions: readonly Suspension[],
  now: Date,
): Date {
  const susp = suspensions.map((s) => [Date.parse(s.from), toDate(s.to ?? now).getTime()] as const);
  let remaining = minutes * 60_000;
  let date = localDate(start);
  for (let guard = 0; guard < 36600; guard++, date = addDays(date, 1)) {
    if (!isWorkingDay(cal, date)) continue;
    for (const [open, close] of cal.officeHours) {
      const segFrom = Math.max(instantAt(date, open).getTime(), start.getTime());
      const segTo = instantAt(date, close).getTime();
      if (segTo <= segFrom) continue;
      // Walk this segment piecewise so that suspended stretches inside it are skipped.
      const cuts = susp
        .filter(([f, t]) => overlapMs(segFrom, segTo, f, t) > 0)
        .map(([f, t]) => [Math.max(f, segFrom), Math.min(t, segTo)] as const)
        .sort((a, b) => a[0] - b[0]);
      let cursor = segFrom;
      for (const [f, t] of [...cuts, [segTo, segTo] as const]) {
        if (f > cursor) {
          const avail = f - cursor;
          if (remaining <= avail) return new Date(cursor + remaining);
          remaining -= avail;
        }
        cursor = Math.max(cursor, t);
      }
    }
  }
  throw new RangeError("hour limit does not end within 100 years");
}

/**
 * The deadline of an immediate item (即办件): the close of the day of acceptance, or of the next
 * working day when it was accepted on a rest day or after closing time.
 */
export function immediateDeadline(cal: WorkCalendar, start: Date | string): Deadline {
  const startAt = toDate(start);
  const today = localDate(startAt);
  const close = closeOfDay(cal, today);
  const day = isWorkingDay(cal, today) && startAt.getTime() < close.getTime() ? today : nextWorkingDay(cal, today);
  const instant = closeOfDay(cal, day);
  return { instant, date: day, warnings: yearWarnings(cal, today, day) };
}

/** 红黄绿灯. */
export type Light = "green" | "yellow" | "red";

/**
 * The supervision light at `at`: red once the deadline has passed, yellow on its last working
 * day (the deadline's own date), green before.
 */
export function lightAt(deadline: Date | string, at: Date | string): Light {
  const dl = toDate(deadline);
  const t = toDate(at);
  if (t.getTime() > dl.getTime()) return "red";
  return localDate(t) === localDate(dl) ? "yellow" : "green";
}

export const LIGHT_LABELS: Readonly<Record<Light, string>> = { green: "绿灯", yellow: "黄灯", red: "红灯" };

/** Office minutes of a calendar's working day. */
export function officeMinutesPerDay(cal: WorkCalendar): number {
  return cal.officeHours.reduce((n, [a, b]) => n + (b - a), 0);
}
