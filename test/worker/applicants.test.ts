/** Applicants at the city: registration, sign-in with the mobile number, their own cases and linking one. */
import { describe, expect, it } from "vitest";
import { call, Chain, countRows, enrolNode, problemBody, pushEvents, staffJson, TEST_ID_NUMBER } from "./helpers.js";
import { asSession, auditOf, cityWindowCase, expectProblem, GOOD_PASSWORD, labelledProblem, registerApplicant, signIn } from "./people.js";

const ID = { zhang: "11010519491231002X", li: "35050219900101123X", wang: "350521198512150041", chen: "350582197006305512" };
const register = (body: unknown, address = "192.0.2.1") =>
  call("/api/applicants", { method: "POST", headers: { "content-type": "application/json", "cf-connecting-ip": address }, body: JSON.stringify(body) });
const NOT_LINKABLE = problemBody("case_not_found", "没有找到可以关联的办件：请核对办件编号和查询码，并确认申请人是您本人（以注册时的公民身份号码为准）", "/api/my/cases", { field: "caseNo" });

describe("an applicant registers and signs in with the mobile number", () => {
  it("201 with the account (ID number masked), then a session as role applicant at CITY", async () => {
    const res = await register({ phone: " 13612345678 ", name: "张三", idNumber: "11010519491231002x", password: GOOD_PASSWORD });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { id: string };
    expect(body).toEqual({ id: expect.stringMatching(/^A[0-9A-F]{16}$/), login: "13612345678", name: "张三", role: "applicant", hall: "CITY", phone: "13612345678", idNumber: "1101**********002X" });
    const cookie = await signIn("13612345678", GOOD_PASSWORD);
    expect(await (await asSession(cookie, "GET", "/api/session")).json()).toEqual({ principal: { id: body.id, role: "applicant", hall: "CITY", name: "张三" }, mustChangePassword: false });
    expect(await auditOf(body.id)).toEqual([{ actor: `applicant:${body.id}@CITY`, action: "applicant_registered", subject: body.id, detail: "" }]);
  });

  it("a number already registered is 409 and says no more; nothing changes", async () => {
    await registerApplicant({ phone: "13612340001", name: "李四", idNumber: ID.li });
    const again = await register({ phone: "13612340001", name: "王五", idNumber: ID.wang, password: "Another-pass-1" });
    await expectProblem(again, "conflict", problemBody("conflict", "该手机号码已注册，请直接登录", "/api/applicants", { field: "phone" }));
    expect((await call("/api/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login: "13612340001", password: "Another-pass-1" }) })).status).toBe(401);
    expect(await auditOf("136****0001")).toEqual([{ actor: "anonymous", action: "applicant_register_refused", subject: "136****0001", detail: "phone_taken" }]);
  });

  const bad: [string, Record<string, unknown>, string, { field: string; message: string }[]][] = [
    ["a landline", { phone: "0595-22345678" }, "手机号码", [{ field: "phone", message: "应为11位中国大陆手机号码（1 开头，第二位 3–9）" }]],
    ["a mobile number of 10 digits", { phone: "1361234567" }, "手机号码", [{ field: "phone", message: "应为11位中国大陆手机号码（1 开头，第二位 3–9）" }]],
    ["an ID number with a wrong check digit", { idNumber: "110105194912310021" }, "公民身份号码", [{ field: "idNumber", message: "不正确（校验位不符或出生日期无效）" }]],
    ["an ID number with an impossible birth date", { idNumber: "110105194902301234" }, "公民身份号码", [{ field: "idNumber", message: "不正确（校验位不符或出生日期无效）" }]],
    ["a weak password", { password: "12345678901" }, "密码", [{ field: "password", message: "密码须同时包含字母和数字" }]],
    ["no name", { name: "  " }, "姓名", [{ field: "name", message: "不能为空" }]],
    ["an extra field", { role: "admin" }, "请求内容", [{ field: "json", message: "不认识的字段：role" }]],
  ];
  for (const [what, over, label, errors] of bad) {
    it(`refuses ${what} (400), and makes no account`, async () => {
      const body = { phone: "13612349999", name: "赵六", idNumber: ID.chen, password: GOOD_PASSWORD, ...over };
      await expectProblem(await register(body), "validation_failed", labelledProblem("/api/applicants", label, ...(errors as [{ field: string; message: string }])));
      expect(await countRows("select count(*) as n from accounts where role = 'applicant' and name = '赵六'")).toBe(0);
    });
  }

  it("registrations from one address stop after 10 an hour (429 with Retry-After); another address still registers", async () => {
    const address = "198.51.100.77";
    for (let i = 0; i < 10; i++) {
      const res = await register({ phone: `1581234${String(i).padStart(4, "0")}`, name: "钱七", idNumber: ID.chen, password: GOOD_PASSWORD }, address);
      expect(res.status).toBe(201);
    }
    const blocked = await register({ phone: "15812349999", name: "钱七", idNumber: ID.chen, password: GOOD_PASSWORD }, address);
    expect(blocked.headers.get("retry-after")).toBe("3600");
    await expectProblem(blocked, "too_many_attempts", problemBody("too_many_attempts", "注册尝试次数过多，请 60 分钟后再试", "/api/applicants", { retryAfter: 3600 }));
    expect((await register({ phone: "15812349999", name: "钱七", idNumber: ID.chen, password: GOOD_PASSWORD }, "198.51.100.78")).status).toBe(201);
  });
});

describe("an applicant's own cases", () => {
  it("links a case filed at a window with its code and the registered ID number; then sees it, and only it, everywhere", async () => {
    const me = await registerApplicant({ phone: "13712345670", name: "周一", idNumber: ID.wang });
    const mine = await cityWindowCase({ name: "周一", idNumber: ID.wang });
    const other = await cityWindowCase({ name: "吴二", idNumber: ID.li });
    expect(await (await asSession(me.cookie, "GET", "/api/my/cases")).json()).toEqual({ cases: [], total: 0 });
    const linked = await asSession(me.cookie, "POST", "/api/my/cases", { caseNo: mine.caseNo, queryCode: mine.queryCode.toLowerCase() });
    expect(linked.status).toBe(200);
    const view = (await linked.json()) as { caseNo: string; applicant: { idNumber: string } };
    expect(view).toMatchObject({ caseNo: mine.caseNo, applicant: { name: "周一", idNumber: "3505**********0041", phone: "139****0000" } });
    // Linking again is the same answer and no new audit entry.
    expect((await asSession(me.cookie, "POST", "/api/my/cases", { caseNo: mine.caseNo, queryCode: mine.queryCode })).status).toBe(200);
    expect((await auditOf(mine.caseNo)).filter((e) => e.action === "case_linked")).toEqual([{ actor: `applicant:${me.id}@CITY`, action: "case_linked", subject: mine.caseNo, detail: "" }]);
    const list = (await (await asSession(me.cookie, "GET", "/api/my/cases")).json()) as { cases: { caseNo: string }[]; total: number };
    expect([list.cases.map((c) => c.caseNo), list.total]).toEqual([[mine.caseNo], 1]);
    const staffList = (await (await asSession(me.cookie, "GET", "/api/cases")).json()) as { cases: { caseNo: string }[]; total: number };
    expect([staffList.cases.map((c) => c.caseNo), staffList.total]).toEqual([[mine.caseNo], 1]);
    const full = await asSession(me.cookie, "GET", `/api/cases/${mine.caseNo}`);
    expect(((await full.json()) as { applicant: { idNumber: string } }).applicant.idNumber).toBe(ID.wang);
    expect((await asSession(me.cookie, "GET", `/api/cases/${mine.caseNo}/receipt`)).status).toBe(200);

    // Someone else's case: 403 to read, act on or print (as for staff outside their scope), nothing changes.
    for (const [method, path, body] of [
      ["GET", `/api/cases/${other.caseNo}`, undefined],
      ["POST", `/api/cases/${other.caseNo}/actions`, { action: "supplement", materials: ["x"] }],
      ["GET", `/api/cases/${other.caseNo}/receipt`, undefined],
    ] as const) {
      await expectProblem(await asSession(me.cookie, method, path, body), "forbidden", problemBody("forbidden", "无权查看或办理此办件（不属于本窗口、本部门或本人）", path, { caseNo: other.caseNo }));
    }
    expect(((await (await staffJson("GET", `/api/cases/${other.caseNo}`, "supervisor")).json()) as { events: unknown[] }).events).toHaveLength(1);
  });

  it("a wrong code, someone else's case and an unknown case number get one 404, byte for byte, and nothing is linked", async () => {
    const me = await registerApplicant({ phone: "13712345671", name: "郑三", idNumber: ID.chen });
    const mine = await cityWindowCase({ name: "郑三", idNumber: ID.chen });
    const other = await cityWindowCase({ name: "王四", idNumber: ID.zhang });
    const wrong = mine.queryCode === "ABCDEFGH" ? "HGFEDCBA" : "ABCDEFGH";
    const answers = [
      await asSession(me.cookie, "POST", "/api/my/cases", { caseNo: mine.caseNo, queryCode: wrong }),
      await asSession(me.cookie, "POST", "/api/my/cases", { caseNo: other.caseNo, queryCode: other.queryCode }),
      await asSession(me.cookie, "POST", "/api/my/cases", { caseNo: "ZZ9-20260101-0001", queryCode: mine.queryCode }),
    ];
    const texts = await Promise.all(answers.map((a) => a.clone().text()));
    expect(new Set(texts).size).toBe(1);
    for (const a of answers) await expectProblem(a, "case_not_found", NOT_LINKABLE);
    expect(await (await asSession(me.cookie, "GET", "/api/my/cases")).json()).toEqual({ cases: [], total: 0 });
    expect((await auditOf(other.caseNo)).map((e) => [e.action, e.detail])).toEqual([["lookup_failed", "link"]]);
  });

  it("a township case links the same way, and the link survives what the node pushes and the city decides later", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const opened = await chain.open();
    expect((await pushEvents(node, chain.events)).status).toBe(200);
    const me = await registerApplicant({ phone: "13712345675", name: "申请人1", idNumber: TEST_ID_NUMBER });
    const queryCode = (opened.payload as { queryCode: string }).queryCode;
    expect((await asSession(me.cookie, "POST", "/api/my/cases", { caseNo: opened.caseNo, queryCode })).status).toBe(200);
    expect((await pushEvents(node, [await chain.act(opened.caseNo, { action: "forward" })])).status).toBe(200);
    expect((await staffJson("POST", `/api/cases/${opened.caseNo}/actions`, "approver", { action: "decide", decision: "deny", reason: "材料不符" })).status).toBe(200);
    const list = (await (await asSession(me.cookie, "GET", "/api/my/cases")).json()) as { cases: { caseNo: string; state: string }[] };
    expect(list.cases.map((c) => [c.caseNo, c.state])).toEqual([[opened.caseNo, "decided"]]);
  });

  it("a case another account linked first stays theirs, even for the same ID number", async () => {
    const first = await registerApplicant({ phone: "13712345672", name: "冯五", idNumber: ID.zhang });
    const second = await registerApplicant({ phone: "13712345673", name: "冯五", idNumber: ID.zhang });
    const kase = await cityWindowCase({ name: "冯五", idNumber: ID.zhang });
    expect((await asSession(first.cookie, "POST", "/api/my/cases", kase)).status).toBe(200);
    await expectProblem(await asSession(second.cookie, "POST", "/api/my/cases", kase), "case_not_found", NOT_LINKABLE);
    expect((await asSession(second.cookie, "GET", `/api/cases/${kase.caseNo}`)).status).toBe(403);
  });

  it("linking shares the lookup limit: after 10 failures for a case number, even the right code is 429 for an hour", async () => {
    const me = await registerApplicant({ phone: "13712345674", name: "陈六", idNumber: ID.li });
    const mine = await cityWindowCase({ name: "陈六", idNumber: ID.li });
    const wrong = mine.queryCode === "ABCDEFGH" ? "HGFEDCBA" : "ABCDEFGH";
    for (let i = 0; i < 10; i++) expect((await asSession(me.cookie, "POST", "/api/my/cases", { caseNo: mine.caseNo, queryCode: wrong })).status).toBe(404);
    const blocked = await asSession(me.cookie, "POST", "/api/my/cases", { caseNo: mine.caseNo, queryCode: mine.queryCode });
    expect(blocked.headers.get("retry-after")).toBe("3600");
    expect(blocked.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
    expect(await blocked.json()).toEqual({
      type: "https://tongban.example.cn/problems/too-many-attempts",
      title: "尝试次数过多",
      status: 429,
      detail: "查询码错误次数过多，请 60 分钟后再试；也可携带受理回执到办事窗口查询",
      code: "too_many_attempts",
      retryAfter: 3600,
    });
    const track = await call(`/api/track?caseNo=${mine.caseNo}&queryCode=${mine.queryCode}`);
    expect(track.status).toBe(429);
  });

  it("only an applicant has 我的办件: 401 anonymous, 403 for staff", async () => {
    await expectProblem(await call("/api/my/cases"), "unauthorized", problemBody("unauthorized", "请先登录，再查看和关联本人的办件", "/api/my/cases"));
    const labels = { clerk: "窗口人员", approver: "部门审批人员", supervisor: "电子监察人员", admin: "系统管理员" } as const;
    for (const role of ["clerk", "approver", "supervisor", "admin"] as const) {
      await expectProblem(await staffJson("POST", "/api/my/cases", role, { caseNo: "ZZ9-20260101-0001", queryCode: "ABCDEFGH" }), "forbidden", problemBody("forbidden", `${labels[role]}无权查看和关联本人的办件`, "/api/my/cases", { role, requiredRoles: ["applicant"] }));
    }
  });
});
