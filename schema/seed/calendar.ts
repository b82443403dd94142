/**
 * Official mainland arrangements of public holidays and adjusted working days (调休),
 * as published by the General Office of the State Council for 2025
 * and 2026. Only the exceptions to "Mon–Fri work, Sat–Sun rest" are listed.
 */
export interface SeedCalendarYear {
  year: number;
  source: string;
  holidays: { name: string; from: string; to: string }[];
  workdays: { name: string; date: string }[];
}

export const seedCalendar: SeedCalendarYear[] = [
  {
    year: 2025,
    source: "国务院办公厅关于2025年部分节假日安排的通知",
    holidays: [
      { name: "元旦", from: "2025-01-01", to: "2025-01-01" },
      { name: "春节", from: "2025-01-28", to: "2025-02-04" },
      { name: "清明节", from: "2025-04-04", to: "2025-04-06" },
      { name: "劳动节", from: "2025-05-01", to: "2025-05-05" },
      { name: "端午节", from: "2025-05-31", to: "2025-06-02" },
      { name: "国庆节、中秋节", from: "2025-10-01", to: "2025-10-08" },
    ],
    workdays: [
      { name: "春节调休", date: "2025-01-26" },
      { name: "春节调休", date: "2025-02-08" },
      { name: "劳动节调休", date: "2025-04-27" },
      { name: "国庆节、中秋节调休", date: "2025-09-28" },
      { name: "国庆节、中秋节调休", date: "2025-10-11" },
    ],
  },
  {
    year: 2026,
    source: "国务院办公厅关于2026年部分节假日安排的通知",
    holidays: [
      { name: "元旦", from: "2026-01-01", to: "2026-01-03" },
      { name: "春节", from: "2026-02-15", to: "2026-02-23" },
      { name: "清明节", from: "2026-04-04", to: "2026-04-06" },
      { name: "劳动节", from: "2026-05-01", to: "2026-05-05" },
      { name: "端午节", from: "2026-06-19", to: "2026-06-21" },
      { name: "中秋节", from: "2026-09-25", to: "2026-09-27" },
      { name: "国庆节", from: "2026-10-01", to: "2026-10-07" },
    ],
    workdays: [
      { name: "元旦调休", date: "2026-01-04" },
      { name: "春节调休", date: "2026-02-14" },
      { name: "春节调休", date: "2026-02-28" },
      { name: "劳动节调休", date: "2026-05-09" },
      { name: "国庆节调休", date: "2026-09-20" },
      { name: "国庆节调休", date: "2026-10-10" },
    ],
  },
];
