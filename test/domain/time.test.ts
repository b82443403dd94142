/**
 * Working-day calendar, deadlines and lights (DESIGN.md "Time").
 *
 * Every instant is written as an explicit UTC ISO string; the Beijing wall-clock time is in the
 * comment next to it (Beijing = UTC+8, no DST). Every expected value was worked out by hand from
 * the official 2025/2026 arrangements in schema/seed/calendar.ts:
 *
 *   2026: 元旦 01-01..01-03 (workday Sun 01-04); 春节 02-15..02-23 (workdays Sat 02-14, Sat 02-28);
 *         清明 04-04..04-06; 劳动节 05-01..05-05 (workday Sat 05-09); 端午 06-19..06-21;
 *         中秋 09-25..09-27; 国庆 10-01..10-07 (workdays Sun 09-20, Sat 10-10).
 *   March 2026: Mon 02, Mon 09, Tue 10, Wed 11, Thu 12, Fri 13, Sat 14, Sun 15, Mon 16 …
 */
import { describe, it, expect } from "vitest";
import {
  DEFAULT_OFFICE_HOURS,
  addDays,
  computeDeadline,
  formatDateZh,
  formatLocal,
  immediateDeadline,
  instantAt,
  isWorkingDay,
  lightAt,
  localDate,
  localMinutes,
  makeCalendar,
  nextWorkingDay,
  officeMinutesPerDay,
  type Limit,
} from "../../domain/time.js";
import { seedCalendarRows } from "../../store/seed.js";
import { officialCalendar, officialRows, weekday } from "./fixtures.js";

const cal = officialCalendar();
const days = (value: number): Limit => ({ value, unit: "day" });
const hours = (value: number): Limit => ({ value, unit: "hour" });
const iso = (d: Date) => d.toISOString();

describe("fixture sanity: the weekdays used below (checked with plain Date, not the domain)", () => {
  it("has the weekdays the hand computations assume", () => {
    const expected: [string, number][] = [
      ["2026-01-04", 0],
      ["2026-02-13", 5],
      ["2026-02-14", 6],
      ["2026-02-24", 2],
      ["2026-02-28", 6],
      ["2026-03-09", 1],
      ["2026-03-13", 5],
      ["2026-03-14", 6],
      ["2026-03-15", 0],
      ["2026-09-18", 5],
      ["2026-09-20", 0],
      ["2026-09-29", 2],
      ["2026-09-30", 3],
      ["2026-10-05", 1],
      ["2026-10-08", 4],
      ["2026-10-10", 6],
      ["2026-10-12", 1],
      ["2026-12-28", 1],
      ["2027-01-01", 5],
      ["2027-01-04", 1],
      ["2024-12-30", 1],
      ["2025-01-03", 5],
    ];
    for (const [date, dow] of expected) expect(weekday(date), date).toBe(dow);
  });

  it("store/seed.ts seedCalendarRows yields the same override rows as the fixture", () => {
    const { days: rows, years } = seedCalendarRows("2026-01-01T00:00:00.000Z");
    const fromSeed = rows.map((r) => `${r.date}:${r.kind}`).sort();
    const fromFixture = officialRows()
      .map((r) => `${r.date}:${r.kind}`)
      .sort();
    expect(fromSeed).toEqual(fromFixture);
    // 2025: 1 + 8 + 3 + 5 + 3 + 8 = 28 holidays, 5 workdays; 2026: 3 + 9 + 3 + 5 + 3 + 3 + 7 = 33 holidays, 6 workdays.
    expect(rows.filter((r) => r.kind === "holiday")).toHaveLength(61);
    expect(rows.filter((r) => r.kind === "workday")).toHaveLength(11);
    expect(years.map((y) => y.year).sort()).toEqual([2025, 2026]);
  });
});

describe("local time in Asia/Shanghai", () => {
  it("maps 16:30Z to 00:30 of the next Beijing day", () => {
    expect(localDate("2026-03-09T16:30:00Z")).toBe("2026-03-10");
    expect(localMinutes("2026-03-09T16:30:00Z")).toBe(30);
    expect(instantAt("2026-03-10", 30).toISOString()).toBe("2026-03-09T16:30:00.000Z");
  });

  it("puts the Beijing midnight at 16:00Z", () => {
    expect(localDate("2026-03-09T15:59:59.999Z")).toBe("2026-03-09");
    expect(localMinutes("2026-03-09T15:59:59.999Z")).toBe(23 * 60 + 59);
    expect(localDate(new Date("2026-03-09T16:00:00Z"))).toBe("2026-03-10");
    expect(localMinutes(new Date("2026-03-09T16:00:00Z"))).toBe(0);
    expect(localDate("2026-12-31T16:00:00Z")).toBe("2027-01-01");
    expect(instantAt("2027-01-01", 0).toISOString()).toBe("2026-12-31T16:00:00.000Z");
  });

  it("round-trips instants on the minute through localDate/localMinutes/instantAt", () => {
    const instants = [
      "2026-03-09T16:30:00.000Z",
      "2026-03-10T00:30:00.000Z",
      "2026-03-10T09:30:00.000Z",
      "2026-02-28T23:59:00.000Z",
      "2026-12-31T15:59:00.000Z",
      "2026-12-31T16:00:00.000Z",
      "2024-02-28T17:00:00.000Z",
      "1999-12-31T20:15:00.000Z",
    ];
    for (const t of instants) {
      expect(instantAt(localDate(t), localMinutes(t)).toISOString(), t).toBe(t);
    }
  });

  it("office hours close at 17:30 Beijing = 09:30Z", () => {
    expect(instantAt("2026-10-12", 17 * 60 + 30).toISOString()).toBe("2026-10-12T09:30:00.000Z");
    expect(DEFAULT_OFFICE_HOURS).toEqual([
      [510, 720],
      [810, 1050],
    ]);
    expect(officeMinutesPerDay(cal)).toBe(450);
  });

  it("formats for people in Beijing time", () => {
    expect(formatLocal("2026-03-09T16:30:00Z")).toBe("2026-03-10 00:30");
    expect(formatLocal("2026-10-12T09:30:00.000Z")).toBe("2026-10-12 17:30");
    expect(formatDateZh("2026-10-09")).toBe("2026年10月9日");
    expect(formatDateZh("2026-12-31")).toBe("2026年12月31日");
  });

  it("addDays crosses month, year and leap-day boundaries", () => {
    expect(addDays("2026-02-28", 1)).toBe("2026-03-01");
    expect(addDays("2024-02-28", 1)).toBe("2024-02-29");
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
    expect(addDays("2026-03-01", -1)).toBe("2026-02-28");
  });

  it("1-working-day limit accepted at 00:30 Beijing counts from the Beijing date", () => {
    // Tue 2026-03-10 00:30 Beijing = Mon 2026-03-09 16:30Z. Day 1 after Tue is Wed 03-11.
    // (Counting from the UTC date would give Tue 03-10.)
    const dl = computeDeadline(cal, "2026-03-09T16:30:00Z", days(1));
    expect(dl.date).toBe("2026-03-11");
    expect(iso(dl.instant)).toBe("2026-03-11T09:30:00.000Z");
    expect(dl.warnings).toEqual([]);

    // Mon 2026-03-09 00:30 Beijing = Sun 2026-03-08 16:30Z. Day 1 is Tue 03-10 (UTC date would give Mon 03-09).
    const dl2 = computeDeadline(cal, "2026-03-08T16:30:00Z", days(1));
    expect(dl2.date).toBe("2026-03-10");
    expect(iso(dl2.instant)).toBe("2026-03-10T09:30:00.000Z");
  });
});

describe("isWorkingDay and nextWorkingDay", () => {
  it("knows ordinary weekdays and weekends", () => {
    expect(isWorkingDay(cal, "2026-03-10")).toBe(true); // Tue
    expect(isWorkingDay(cal, "2026-03-13")).toBe(true); // Fri
    expect(isWorkingDay(cal, "2026-03-14")).toBe(false); // Sat
    expect(isWorkingDay(cal, "2026-03-15")).toBe(false); // Sun
  });

  it("knows public holidays that fall on weekdays", () => {
    expect(isWorkingDay(cal, "2026-10-05")).toBe(false); // Mon, 国庆
    expect(isWorkingDay(cal, "2026-10-01")).toBe(false); // Thu, 国庆
    expect(isWorkingDay(cal, "2026-02-16")).toBe(false); // Mon, 春节
    expect(isWorkingDay(cal, "2026-01-02")).toBe(false); // Fri, 元旦
    expect(isWorkingDay(cal, "2025-10-08")).toBe(false); // Wed, 2025 国庆中秋
  });

  it("knows 调休 weekend working days", () => {
    expect(isWorkingDay(cal, "2026-10-10")).toBe(true); // Sat
    expect(isWorkingDay(cal, "2026-02-28")).toBe(true); // Sat
    expect(isWorkingDay(cal, "2026-02-14")).toBe(true); // Sat
    expect(isWorkingDay(cal, "2026-01-04")).toBe(true); // Sun
    expect(isWorkingDay(cal, "2026-09-20")).toBe(true); // Sun
    expect(isWorkingDay(cal, "2025-09-28")).toBe(true); // Sun 2025
    // The weekend days next to them stay rest days.
    expect(isWorkingDay(cal, "2026-10-11")).toBe(false); // Sun
    expect(isWorkingDay(cal, "2026-09-19")).toBe(false); // Sat
  });

  it("honours an administrator's own override", () => {
    const edited = makeCalendar([{ date: "2026-03-10", kind: "holiday" }, { date: "2026-03-14", kind: "workday" }], [2026]);
    expect(isWorkingDay(edited, "2026-03-10")).toBe(false);
    expect(isWorkingDay(edited, "2026-03-14")).toBe(true);
    expect(isWorkingDay(edited, "2026-03-11")).toBe(true);
  });

  it("finds the next working day across holidays and 调休", () => {
    expect(nextWorkingDay(cal, "2026-09-30")).toBe("2026-10-08");
    expect(nextWorkingDay(cal, "2026-10-09")).toBe("2026-10-10");
    expect(nextWorkingDay(cal, "2026-10-10")).toBe("2026-10-12");
    expect(nextWorkingDay(cal, "2026-02-13")).toBe("2026-02-14");
    expect(nextWorkingDay(cal, "2026-02-14")).toBe("2026-02-24");
    expect(nextWorkingDay(cal, "2026-03-13")).toBe("2026-03-16");
  });
});

describe("computeDeadline in working days", () => {
  it("runs across 国庆 2026 and the Saturday 调休 day", () => {
    // Accepted Tue 2026-09-29 10:00 Beijing. Day 1 Wed 09-30; 10-01..10-07 holiday; day 2 Thu 10-08;
    // day 3 Fri 10-09; day 4 Sat 10-10 (调休); Sun 10-11 rest; day 5 Mon 10-12 → 17:30 Beijing.
    const start = "2026-09-29T02:00:00Z";
    const dl = computeDeadline(cal, start, days(5));
    expect(dl.date).toBe("2026-10-12");
    expect(iso(dl.instant)).toBe("2026-10-12T09:30:00.000Z");
    expect(dl.warnings).toEqual([]);
    const byN = [1, 2, 3, 4, 5].map((n) => computeDeadline(cal, start, days(n)).date);
    expect(byN).toEqual(["2026-09-30", "2026-10-08", "2026-10-09", "2026-10-10", "2026-10-12"]);
  });

  it("counts Sunday 2026-09-20 (调休) as a working day", () => {
    // Accepted Fri 09-18 10:00 Beijing; Sat 09-19 rest; Sun 09-20 workday → day 1.
    const dl = computeDeadline(cal, "2026-09-18T02:00:00Z", days(1));
    expect(dl.date).toBe("2026-09-20");
    expect(iso(dl.instant)).toBe("2026-09-20T09:30:00.000Z");
    expect(computeDeadline(cal, "2026-09-18T02:00:00Z", days(2)).date).toBe("2026-09-21");
  });

  it("skips 中秋 2026 (Fri 09-25 .. Sun 09-27)", () => {
    // Accepted Thu 09-24: day 1 is Mon 09-28.
    expect(computeDeadline(cal, "2026-09-24T02:00:00Z", days(1)).date).toBe("2026-09-28");
  });

  it("runs across 春节 2026 with the Saturday 02-14 调休 day", () => {
    // Accepted Fri 02-13: day 1 Sat 02-14 (调休); 02-15..02-23 holiday; day 2 Tue 02-24; day 3 Wed 02-25.
    const dl = computeDeadline(cal, "2026-02-13T02:00:00Z", days(3));
    expect(dl.date).toBe("2026-02-25");
    expect(iso(dl.instant)).toBe("2026-02-25T09:30:00.000Z");
  });

  it("does not count the day of acceptance, whatever the hour", () => {
    // Mon 2026-03-09, 3 working days → Thu 03-12 17:30 Beijing, for 10:00, 19:00 (after hours) and 07:00 (before opening).
    for (const start of ["2026-03-09T02:00:00Z", "2026-03-09T11:00:00Z", "2026-03-08T23:00:00Z"]) {
      const dl = computeDeadline(cal, start, days(3));
      expect(dl.date, start).toBe("2026-03-12");
      expect(iso(dl.instant), start).toBe("2026-03-12T09:30:00.000Z");
    }
  });

  it("starts counting on the first working day after a rest-day acceptance", () => {
    // Sat 03-14 10:00 Beijing: day 1 Mon 03-16, day 2 Tue 03-17.
    expect(computeDeadline(cal, "2026-03-14T02:00:00Z", days(1)).date).toBe("2026-03-16");
    expect(computeDeadline(cal, "2026-03-14T02:00:00Z", days(2)).date).toBe("2026-03-17");
    // Sun 03-15 → Mon 03-16.
    expect(computeDeadline(cal, "2026-03-15T02:00:00Z", days(1)).date).toBe("2026-03-16");
    // Holiday Mon 10-05 → day 1 Thu 10-08.
    expect(computeDeadline(cal, "2026-10-05T02:00:00Z", days(1)).date).toBe("2026-10-08");
  });

  it("runs across 清明 2026 for a 20-day limit", () => {
    // From Mon 03-09: Mar 10-13 (4), 16-20 (9), 23-27 (14), 30-31 (16), Apr 1-3 (19), 04-04..04-06 holiday, Tue 04-07 (20).
    const dl = computeDeadline(cal, "2026-03-09T02:00:00Z", days(20));
    expect(dl.date).toBe("2026-04-07");
    expect(iso(dl.instant)).toBe("2026-04-07T09:30:00.000Z");
  });
});

describe("computeDeadline in working hours (08:30–12:00, 13:30–17:30 Beijing)", () => {
  it("skips the lunch break", () => {
    // Tue 03-10 11:00 Beijing + 2h: 11:00–12:00 (1h) + 13:30–14:30 (1h) → 14:30 Beijing = 06:30Z.
    const dl = computeDeadline(cal, "2026-03-10T03:00:00Z", hours(2));
    expect(iso(dl.instant)).toBe("2026-03-10T06:30:00.000Z");
    expect(dl.date).toBe("2026-03-10");
    expect(dl.warnings).toEqual([]);
  });

  it("carries over the weekend to the next working day from 08:30", () => {
    // Fri 03-13 17:00 Beijing + 2h: 30 min Friday, 1.5h Monday 08:30–10:00 → Mon 03-16 10:00 Beijing = 02:00Z.
    const dl = computeDeadline(cal, "2026-03-13T09:00:00Z", hours(2));
    expect(iso(dl.instant)).toBe("2026-03-16T02:00:00.000Z");
    expect(dl.date).toBe("2026-03-16");
  });

  it("starts counting at the opening when accepted early", () => {
    // Tue 03-10 07:00 Beijing (= Mon 23:00Z) + 1h → 09:30 Beijing = 01:30Z.
    expect(iso(computeDeadline(cal, "2026-03-09T23:00:00Z", hours(1)).instant)).toBe("2026-03-10T01:30:00.000Z");
    // Accepted during lunch 12:30 Beijing + 1h → 14:30 Beijing.
    expect(iso(computeDeadline(cal, "2026-03-10T04:30:00Z", hours(1)).instant)).toBe("2026-03-10T06:30:00.000Z");
    // Accepted after closing 18:00 Tue + 1h → Wed 09:30 Beijing.
    expect(iso(computeDeadline(cal, "2026-03-10T10:00:00Z", hours(1)).instant)).toBe("2026-03-11T01:30:00.000Z");
  });

  it("spans more than one day", () => {
    // Tue 08:30 + 8h: 7.5h on Tue, 0.5h Wed → Wed 09:00 Beijing = 01:00Z.
    expect(iso(computeDeadline(cal, "2026-03-10T00:30:00Z", hours(8)).instant)).toBe("2026-03-11T01:00:00.000Z");
  });

  it("skips a holiday", () => {
    // Wed 09-30 16:30 Beijing + 4h: 1h on 09-30, 10-01..10-07 holiday, 3h on Thu 10-08 08:30–11:30 → 03:30Z.
    const dl = computeDeadline(cal, "2026-09-30T08:30:00Z", hours(4));
    expect(iso(dl.instant)).toBe("2026-10-08T03:30:00.000Z");
    expect(dl.date).toBe("2026-10-08");
    // Accepted during the holiday (Sat 10-03 10:00) + 2h → Thu 10-08 10:30 Beijing.
    expect(iso(computeDeadline(cal, "2026-10-03T02:00:00Z", hours(2)).instant)).toBe("2026-10-08T02:30:00.000Z");
  });

  it("works on a Saturday 调休 day", () => {
    // Fri 10-09 17:00 + 1h: 30 min Friday, 30 min Sat 10-10 from 08:30 → 09:00 Beijing = 01:00Z.
    expect(iso(computeDeadline(cal, "2026-10-09T09:00:00Z", hours(1)).instant)).toBe("2026-10-10T01:00:00.000Z");
  });
});

describe("suspensions (暂停计时)", () => {
  const monday = "2026-03-09T02:00:00Z"; // Mon 10:00 Beijing

  it("day limits exclude the working days in [suspension start date, resume date)", () => {
    // 5 days from Mon 03-09 without suspension: Tue..Fri (4), Mon 03-16 (5).
    expect(computeDeadline(cal, monday, days(5)).date).toBe("2026-03-16");
    // Suspended Tue 03-10 10:00, resumed Thu 03-12 10:00 → Tue and Wed excluded:
    // Thu 12 (1), Fri 13 (2), Mon 16 (3), Tue 17 (4), Wed 18 (5) — two working days later.
    const dl = computeDeadline(cal, monday, days(5), [{ from: "2026-03-10T02:00:00Z", to: "2026-03-12T02:00:00Z" }]);
    expect(dl.date).toBe("2026-03-18");
    expect(iso(dl.instant)).toBe("2026-03-18T09:30:00.000Z");
  });

  it("uses Beijing dates for suspension boundaries", () => {
    // Suspended Tue 03-10 00:30 Beijing (= Mon 16:30Z) until Wed 03-11 00:30 Beijing (= Tue 16:30Z): only Tue excluded.
    // Wed 11 (1), Thu 12 (2), Fri 13 (3), Mon 16 (4), Tue 17 (5).
    const dl = computeDeadline(cal, monday, days(5), [{ from: "2026-03-09T16:30:00Z", to: "2026-03-10T16:30:00Z" }]);
    expect(dl.date).toBe("2026-03-17");
  });

  it("only working days inside the suspension move the deadline", () => {
    // Suspended Fri 03-13 10:00 to Mon 03-16 10:00 → Fri excluded (Sat/Sun were rest days anyway):
    // Tue 10, Wed 11, Thu 12 (3), Mon 16 (4), Tue 17 (5).
    const dl = computeDeadline(cal, monday, days(5), [{ from: "2026-03-13T02:00:00Z", to: "2026-03-16T02:00:00Z" }]);
    expect(dl.date).toBe("2026-03-17");
  });

  it("adds up several suspensions", () => {
    // Tue 03-10 → Wed 03-11 excludes Tue; Thu 03-12 → Fri 03-13 excludes Thu:
    // Wed 11 (1), Fri 13 (2), Mon 16 (3), Tue 17 (4), Wed 18 (5).
    const dl = computeDeadline(cal, monday, days(5), [
      { from: "2026-03-10T02:00:00Z", to: "2026-03-11T02:00:00Z", reason: "听证" },
      { from: "2026-03-12T02:00:00Z", to: "2026-03-13T02:00:00Z", reason: "专家评审" },
    ]);
    expect(dl.date).toBe("2026-03-18");
  });

  it("takes an open suspension to last until now", () => {
    // Suspended Tue 03-10 10:00, still open at Fri 03-13 09:00 Beijing → Tue, Wed, Thu excluded:
    // Fri 13 (1), Mon 16 (2), Tue 17 (3), Wed 18 (4), Thu 19 (5).
    const dl = computeDeadline(cal, monday, days(5), [{ from: "2026-03-10T02:00:00Z", to: null }], new Date("2026-03-13T01:00:00Z"));
    expect(dl.date).toBe("2026-03-19");
    expect(iso(dl.instant)).toBe("2026-03-19T09:30:00.000Z");
  });

  it("hour limits exclude suspended office minutes precisely", () => {
    // Tue 03-10 09:00 Beijing + 8h. Unsuspended: 3h (09:00–12:00) + 4h (13:30–17:30) + 1h Wed → Wed 09:30 Beijing.
    const start = "2026-03-10T01:00:00Z";
    expect(iso(computeDeadline(cal, start, hours(8)).instant)).toBe("2026-03-11T01:30:00.000Z");
    // Suspended 10:00–11:00 Beijing: one office hour lost → Wed 10:30 Beijing.
    expect(iso(computeDeadline(cal, start, hours(8), [{ from: "2026-03-10T02:00:00Z", to: "2026-03-10T03:00:00Z" }]).instant)).toBe(
      "2026-03-11T02:30:00.000Z",
    );
    // Suspended 11:30–14:00 Beijing across lunch: 30 + 30 office minutes lost → also Wed 10:30.
    expect(iso(computeDeadline(cal, start, hours(8), [{ from: "2026-03-10T03:30:00Z", to: "2026-03-10T06:00:00Z" }]).instant)).toBe(
      "2026-03-11T02:30:00.000Z",
    );
    // Suspended overnight Tue 18:00 – Wed 08:00 Beijing: no office time lost.
    expect(iso(computeDeadline(cal, start, hours(8), [{ from: "2026-03-10T10:00:00Z", to: "2026-03-11T00:00:00Z" }]).instant)).toBe(
      "2026-03-11T01:30:00.000Z",
    );
  });

  it("hour limits count an open suspension until now", () => {
    // Tue 09:00 + 4h, suspended from 10:00, now 11:00 Beijing → 1h lost: 09:00–10:00, 11:00–12:00, 13:30–15:30.
    const dl = computeDeadline(cal, "2026-03-10T01:00:00Z", hours(4), [{ from: "2026-03-10T02:00:00Z", to: null }], new Date("2026-03-10T03:00:00Z"));
    expect(iso(dl.instant)).toBe("2026-03-10T07:30:00.000Z");
  });
});

describe("unpublished calendar years", () => {
  it("warns in Chinese when a deadline runs into 2027", () => {
    // Mon 2026-12-28 + 5 days: Tue 29, Wed 30, Thu 31, then 2027 unknown → Mon–Fri fallback: Fri 01-01, Mon 01-04.
    const dl = computeDeadline(cal, "2026-12-28T02:00:00Z", days(5));
    expect(dl.date).toBe("2027-01-04");
    expect(dl.warnings).toHaveLength(1);
    const w = dl.warnings[0]!;
    expect(w.code).toBe("calendar_unpublished");
    expect(w.years).toEqual([2027]);
    expect(w.message).toContain("2027");
    expect(w.message).toMatch(/[\u4e00-\u9fff]/);
  });

  it("does not warn within 2026", () => {
    const dl = computeDeadline(cal, "2026-12-28T02:00:00Z", days(2));
    expect(dl.date).toBe("2026-12-30");
    expect(dl.warnings).toEqual([]);
  });

  it("warns for a start in 2024 (not seeded) but not for 2025", () => {
    // Mon 2024-12-30 + 1 → Tue 12-31.
    const a = computeDeadline(cal, "2024-12-30T02:00:00Z", days(1));
    expect(a.date).toBe("2024-12-31");
    expect(a.warnings.map((w) => w.years)).toEqual([[2024]]);
    // + 3: Tue 12-31 (1), Wed 2025-01-01 元旦 (seeded holiday), Thu 01-02 (2), Fri 01-03 (3).
    const b = computeDeadline(cal, "2024-12-30T02:00:00Z", days(3));
    expect(b.date).toBe("2025-01-03");
    expect(b.warnings.map((w) => w.years)).toEqual([[2024]]);
    // Hour limits warn too.
    expect(computeDeadline(cal, "2024-12-30T02:00:00Z", hours(1)).warnings.map((w) => w.code)).toEqual(["calendar_unpublished"]);
  });

  it("immediate deadlines warn too", () => {
    // Thu 2026-12-31 18:00 Beijing, after closing → next working day Fri 2027-01-01 by the fallback.
    const dl = immediateDeadline(cal, "2026-12-31T10:00:00Z");
    expect(dl.date).toBe("2027-01-01");
    expect(dl.warnings.map((w) => w.years)).toEqual([[2027]]);
  });
});

describe("immediateDeadline (即办件)", () => {
  it("is the close of the same day during office hours", () => {
    const dl = immediateDeadline(cal, "2026-03-10T02:00:00Z"); // Tue 10:00
    expect(dl.date).toBe("2026-03-10");
    expect(iso(dl.instant)).toBe("2026-03-10T09:30:00.000Z");
    expect(dl.warnings).toEqual([]);
    expect(iso(immediateDeadline(cal, "2026-03-10T09:29:00Z").instant)).toBe("2026-03-10T09:30:00.000Z"); // 17:29
    expect(iso(immediateDeadline(cal, "2026-03-09T23:00:00Z").instant)).toBe("2026-03-10T09:30:00.000Z"); // 07:00 before opening
  });

  it("moves to the next working day after closing or on a rest day", () => {
    expect(iso(immediateDeadline(cal, "2026-03-10T10:00:00Z").instant)).toBe("2026-03-11T09:30:00.000Z"); // Tue 18:00
    expect(iso(immediateDeadline(cal, "2026-03-13T10:00:00Z").instant)).toBe("2026-03-16T09:30:00.000Z"); // Fri 18:00
    expect(iso(immediateDeadline(cal, "2026-03-14T02:00:00Z").instant)).toBe("2026-03-16T09:30:00.000Z"); // Sat
    const holiday = immediateDeadline(cal, "2026-10-05T02:00:00Z"); // Mon 10-05, 国庆
    expect(holiday.date).toBe("2026-10-08");
    expect(iso(holiday.instant)).toBe("2026-10-08T09:30:00.000Z");
    expect(immediateDeadline(cal, "2026-09-30T10:00:00Z").date).toBe("2026-10-08"); // Wed 09-30 18:00
  });

  it("is the same day on a Saturday 调休 working day", () => {
    expect(immediateDeadline(cal, "2026-10-10T02:00:00Z").date).toBe("2026-10-10");
  });
});

describe("lightAt (红黄绿灯)", () => {
  const deadline = "2026-03-12T09:30:00.000Z"; // Thu 17:30 Beijing

  it("is green before the deadline's Beijing date", () => {
    expect(lightAt(deadline, "2026-03-09T02:00:00Z")).toBe("green");
    expect(lightAt(deadline, "2026-03-11T15:59:00Z")).toBe("green"); // Wed 23:59 Beijing
  });

  it("is yellow on the deadline date up to the deadline", () => {
    expect(lightAt(deadline, "2026-03-11T16:00:00Z")).toBe("yellow"); // Thu 00:00 Beijing (still Wed in UTC)
    expect(lightAt(deadline, "2026-03-12T01:00:00Z")).toBe("yellow"); // Thu 09:00
    expect(lightAt(deadline, deadline)).toBe("yellow");
  });

  it("is red after the deadline", () => {
    expect(lightAt(deadline, "2026-03-12T09:31:00Z")).toBe("red");
    expect(lightAt(deadline, "2026-03-13T02:00:00Z")).toBe("red");
    expect(lightAt(new Date(deadline), new Date("2026-04-01T00:00:00Z"))).toBe("red");
  });

  it("goes green → yellow → red over 国庆", () => {
    const dl = computeDeadline(cal, "2026-09-29T02:00:00Z", days(5)).instant;
    expect(lightAt(dl, "2026-10-10T02:00:00Z")).toBe("green");
    expect(lightAt(dl, "2026-10-11T02:00:00Z")).toBe("green");
    expect(lightAt(dl, "2026-10-12T00:00:00Z")).toBe("yellow");
    expect(lightAt(dl, "2026-10-12T09:30:01Z")).toBe("red");
  });
});

describe("independence from the machine time zone", () => {
  function snapshot() {
    return {
      date: localDate("2026-03-09T16:30:00Z"),
      minutes: localMinutes("2026-03-09T16:30:00Z"),
      instant: instantAt("2026-03-10", 30).toISOString(),
      close: instantAt("2026-10-12", 1050).toISOString(),
      working: isWorkingDay(cal, "2026-03-14"),
      deadline: iso(computeDeadline(cal, "2026-09-29T02:00:00Z", days(5)).instant),
      hourDeadline: iso(computeDeadline(cal, "2026-03-13T09:00:00Z", hours(2)).instant),
      immediate: iso(immediateDeadline(cal, "2026-03-10T10:00:00Z").instant),
    };
  }
  const expected = {
    date: "2026-03-10",
    minutes: 30,
    instant: "2026-03-09T16:30:00.000Z",
    close: "2026-10-12T09:30:00.000Z",
    working: false,
    deadline: "2026-10-12T09:30:00.000Z",
    hourDeadline: "2026-03-16T02:00:00.000Z",
    immediate: "2026-03-11T09:30:00.000Z",
  };

  it("gives the same results with TZ=UTC and TZ=America/New_York", () => {
    const saved = process.env.TZ;
    try {
      process.env.TZ = "UTC";
      expect(new Date(2026, 0, 1).getTimezoneOffset()).toBe(0);
      const utc = snapshot();
      process.env.TZ = "America/New_York";
      expect(new Date(2026, 0, 1).getTimezoneOffset()).toBe(300);
      const ny = snapshot();
      expect(utc).toEqual(expected);
      expect(ny).toEqual(expected);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
});
