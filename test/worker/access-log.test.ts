/** The access log at the city: who saw which full ID number, and every other audited act, for administrators only. */
import { describe, expect, it } from "vitest";
import { bearer, call, problemBody, staffJson, type StaffRole } from "./helpers.js";
import { asSession, cityWindowCase, createStaff, expectProblem, firstSignIn, GOOD_PASSWORD, labelledProblem, registerApplicant } from "./people.js";

const LOG = "/api/admin/access-log";
const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
const readLog = async (query: string) => (await (await staffJson("GET", `${LOG}${query}`, "admin")).json()) as { entries: { seq: number; action: string; subject: string }[]; nextBefore: number | null };

describe("reading the access log", () => {
  it("shows who opened a case with its full ID number, when and which case — never the number itself", async () => {
    const idNumber = "350582197006305512";
    const { caseNo } = await cityWindowCase({ name: "林一", idNumber });
    await createStaff({ login: "lin.clerk", name: "林窗口", role: "clerk", hall: "CITY", password: GOOD_PASSWORD });
    const clerk = await firstSignIn("lin.clerk", GOOD_PASSWORD, "Linchuang-2026");
    expect((await asSession(clerk, "GET", `/api/cases/${caseNo}`)).status).toBe(200);
    expect((await staffJson("GET", `/api/cases/${caseNo}`, "supervisor")).status).toBe(200);
    const res = await staffJson("GET", `${LOG}?action=id_number_view&caseNo=${caseNo}`, "admin");
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(idNumber);
    expect(JSON.parse(text)).toEqual({
      entries: [
        {
          seq: expect.any(Number),
          at: ISO,
          actor: "supervisor:supervisor-tester@CITY",
          who: { role: "supervisor", roleLabel: "电子监察人员", id: "supervisor-tester", hall: "CITY", name: null },
          action: "id_number_view",
          actionLabel: "查看完整身份证号码",
          subject: caseNo,
          caseNo,
          detail: "",
          address: null,
        },
        {
          seq: expect.any(Number),
          at: ISO,
          actor: "clerk:lin.clerk@CITY",
          who: { role: "clerk", roleLabel: "窗口人员", id: "lin.clerk", hall: "CITY", name: "林窗口" },
          action: "id_number_view",
          actionLabel: "查看完整身份证号码",
          subject: caseNo,
          caseNo,
          detail: "",
          address: null,
        },
      ],
      nextBefore: null,
    });
  });

  it("pages newest first with before/limit, and filters by action and by subject", async () => {
    const { caseNo } = await cityWindowCase({ idNumber: "11010519491231002X" });
    for (let i = 0; i < 3; i++) await staffJson("GET", `/api/cases/${caseNo}`, "supervisor");
    const first = await readLog(`?caseNo=${caseNo}&limit=2`);
    expect(first.entries).toHaveLength(2);
    expect(first.entries[0]!.seq).toBeGreaterThan(first.entries[1]!.seq);
    expect(first.nextBefore).toBe(first.entries[1]!.seq);
    const second = await readLog(`?caseNo=${caseNo}&limit=2&before=${first.nextBefore}`);
    expect(second.entries.map((e) => e.action)).toEqual(["id_number_view"]);
    expect(second.nextBefore).toBeNull();
    expect(new Set([...first.entries, ...second.entries].map((e) => e.subject))).toEqual(new Set([caseNo]));
    await staffJson("POST", "/api/admin/accounts", "admin", { login: "x", name: "甲", role: "clerk", hall: "NOPE9", password: GOOD_PASSWORD });
    const refused = await readLog("?action=account_change_refused&subject=x");
    expect(refused.entries.map((e) => [e.action, e.subject])).toEqual([["account_change_refused", "x"]]);
  });

  it("refuses malformed filters (400) with the field named", async () => {
    await expectProblem(await staffJson("GET", `${LOG}?action=ID-VIEW`, "admin"), "validation_failed", labelledProblem(LOG, "记录类型", { field: "action", message: "应为记录类型的英文名，如 id_number_view" }));
    await expectProblem(await staffJson("GET", `${LOG}?limit=500`, "admin"), "validation_failed", labelledProblem(LOG, "条数", { field: "limit", message: "条数不能大于 200" }));
    await expectProblem(await staffJson("GET", `${LOG}?before=0x10`, "admin"), "validation_failed", labelledProblem(LOG, "起始序号", { field: "before", message: "起始序号应为不带符号的十进制整数" }));
    await expectProblem(await staffJson("GET", `${LOG}?caseNo=ZZ9-20260101-0001&subject=x`, "admin"), "validation_failed", labelledProblem(LOG, "对象", { field: "subject", message: "caseNo 与 subject 只能给一个" }));
  });

  it("is for administrators only: 401 anonymous, 403 every other role and applicants", async () => {
    await expectProblem(await call(LOG), "unauthorized", problemBody("unauthorized", "请先登录，再查看访问记录", LOG));
    const labels: Record<string, string> = { clerk: "窗口人员", approver: "部门审批人员", supervisor: "电子监察人员" };
    for (const role of ["clerk", "approver", "supervisor"] as StaffRole[]) {
      await expectProblem(await call(LOG, { headers: await bearer(role) }), "forbidden", problemBody("forbidden", `${labels[role]}无权查看访问记录`, LOG, { role, requiredRoles: ["admin"] }));
    }
    const applicant = await registerApplicant({ phone: "13512340001", idNumber: "11010519491231002X" });
    await expectProblem(await asSession(applicant.cookie, "GET", LOG), "forbidden", problemBody("forbidden", "申请人无权查看访问记录", LOG, { role: "applicant", requiredRoles: ["admin"] }));
  });
});
