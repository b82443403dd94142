/** Staff accounts at the city: an administrator creates, lists, changes, disables and resets them. */
import { describe, expect, it } from "vitest";
import { bearer, call, enrolNode, problemBody, revokeNode, staffJson, type StaffRole } from "./helpers.js";
import { asSession, auditOf, cookieOf, createStaff, expectProblem, firstSignIn, GOOD_PASSWORD, labelledProblem, registerApplicant, signIn } from "./people.js";

const ISO = expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
const ADMIN = "admin:admin-tester@CITY";
const ACCOUNTS = "/api/admin/accounts";

/** The account as the API answers it right after creation. */
function created(over: Record<string, unknown>) {
  const labels: Record<string, string> = { clerk: "窗口人员", approver: "部门审批人员", supervisor: "电子监察人员", admin: "系统管理员" };
  return {
    id: over.login,
    login: over.login,
    name: over.name,
    role: over.role,
    roleLabel: labels[over.role as string],
    hall: over.hall,
    department: over.department ?? null,
    mustChangePassword: true,
    disabled: false,
    disabledAt: null,
    source: "city",
    createdAt: ISO,
    updatedAt: ISO,
  };
}

const post = (body: unknown) => staffJson("POST", ACCOUNTS, "admin", body);
const patch = (login: string, body: unknown) => staffJson("PATCH", `${ACCOUNTS}/${login}`, "admin", body);

describe("an administrator creates staff accounts", () => {
  it("a node's clerk, a city clerk, an approver of a department and a supervisor: 201 with the account, never a hash", async () => {
    const node = await enrolNode();
    const bodies = [
      { login: "zhang.wei", name: "张伟", role: "clerk", hall: node.code, password: GOOD_PASSWORD },
      { login: "city-clerk1", name: "王芳", role: "clerk", hall: "CITY", password: GOOD_PASSWORD },
      { login: "li_na", name: "李娜", role: "approver", hall: "CITY", department: "GA", password: GOOD_PASSWORD },
      { login: "Supervisor9", name: "刘洋", role: "supervisor", hall: "CITY", department: null, password: GOOD_PASSWORD },
    ];
    for (const body of bodies) {
      const res = await post(body);
      expect(res.status).toBe(201);
      expect(res.headers.get("location")).toBe(`${ACCOUNTS}/${body.login}`);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual(created(body));
      expect(text).not.toContain("pbkdf2");
      expect(text).not.toContain(GOOD_PASSWORD);
      expect(await auditOf(body.login)).toEqual([
        { actor: ADMIN, action: "account_created", subject: body.login, detail: `role: ${body.role}; hall: ${body.hall}; department: ${body.department ?? "–"}` },
      ]);
    }
    // Listed, filtered by hall and role, with no hash and no applicant.
    await registerApplicant({ phone: "13712340001", idNumber: "11010519491231002X" });
    const all = (await (await staffJson("GET", ACCOUNTS, "admin")).json()) as { accounts: { login: string; role: string }[] };
    expect(all.accounts.map((a) => a.login)).toEqual(expect.arrayContaining(bodies.map((b) => b.login)));
    expect(all.accounts.every((a) => a.role !== "applicant")).toBe(true);
    expect(JSON.stringify(all)).not.toContain("pbkdf2");
    const ofNode = (await (await staffJson("GET", `${ACCOUNTS}?hall=${node.code}`, "admin")).json()) as { accounts: unknown[] };
    expect(ofNode).toEqual({ accounts: [created(bodies[0]!)] });
    const approvers = (await (await staffJson("GET", `${ACCOUNTS}?hall=CITY&role=approver`, "admin")).json()) as { accounts: { login: string }[] };
    expect(approvers.accounts.map((a) => a.login)).toEqual(["li_na"]);
    expect(await (await staffJson("GET", `${ACCOUNTS}/li_na`, "admin")).json()).toEqual(created(bodies[2]!));
  });

  it("the initial password must be changed first: until then the session may only read itself, change it or sign out", async () => {
    await createStaff({ login: "newcomer", name: "新同事", role: "supervisor", hall: "CITY", password: GOOD_PASSWORD });
    const cookie = await signIn("newcomer", GOOD_PASSWORD);
    const session = await asSession(cookie, "GET", "/api/session");
    expect(await session.json()).toEqual({ principal: { id: "newcomer", role: "supervisor", hall: "CITY", name: "新同事" }, mustChangePassword: true });
    for (const path of ["/api/cases", "/api/reconcile"]) {
      await expectProblem(await asSession(cookie, "GET", path), "password_change_required", problemBody("password_change_required", "首次登录或密码已重置，请先修改密码", path, { role: "supervisor" }));
    }
    const changed = await asSession(cookie, "POST", "/api/session/password", { current: GOOD_PASSWORD, password: "Wode-mima-2026" });
    expect(changed.status).toBe(200);
    const renewed = cookieOf(changed);
    expect((await asSession(renewed, "GET", "/api/cases")).status).toBe(200);
    // Signing out is a write: like every write on a session, a JSON request of this origin.
    expect((await asSession(renewed, "DELETE", "/api/session", {})).status).toBe(204);
  });
});

describe("an administrator changes accounts", () => {
  it("disabling ends the person's session at once and refuses their sign-in; enabling lets them in again", async () => {
    await createStaff({ login: "to.disable", name: "赵敏", role: "supervisor", hall: "CITY", password: GOOD_PASSWORD });
    const cookie = await firstSignIn("to.disable", GOOD_PASSWORD, "Ziji-mima-2026");
    expect((await asSession(cookie, "GET", "/api/cases")).status).toBe(200);
    const res = await patch("to.disable", { disabled: true });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ...created({ login: "to.disable", name: "赵敏", role: "supervisor", hall: "CITY" }), mustChangePassword: false, disabled: true, disabledAt: ISO });
    await expectProblem(await asSession(cookie, "GET", "/api/cases"), "unauthorized", problemBody("unauthorized", "请先登录，再查看办件列表", "/api/cases"));
    const again = await call("/api/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login: "to.disable", password: "Ziji-mima-2026" }) });
    await expectProblem(again, "unauthorized", problemBody("unauthorized", "账号已停用，请联系管理员", "/api/session"));
    const enabled = await patch("to.disable", { disabled: false });
    expect(((await enabled.json()) as { disabled: boolean }).disabled).toBe(false);
    expect((await asSession(await signIn("to.disable", "Ziji-mima-2026"), "GET", "/api/cases")).status).toBe(200);
    expect((await auditOf("to.disable")).filter((e) => e.actor === ADMIN).map((e) => e.action)).toEqual(["account_created", "account_disabled", "account_enabled"]);
  });

  it("a reset password ends the sessions, the old one stops working and the new one must be changed again", async () => {
    await createStaff({ login: "forgetful", name: "钱多", role: "supervisor", hall: "CITY", password: GOOD_PASSWORD });
    const cookie = await firstSignIn("forgetful", GOOD_PASSWORD, "Jide-mima-2026");
    const res = await patch("forgetful", { password: "Chongzhi-2026x" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { mustChangePassword: boolean }).mustChangePassword).toBe(true);
    expect((await asSession(cookie, "GET", "/api/session")).status).toBe(401);
    const old = await call("/api/session", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ login: "forgetful", password: "Jide-mima-2026" }) });
    expect(old.status).toBe(401);
    const fresh = await signIn("forgetful", "Chongzhi-2026x");
    expect(await (await asSession(fresh, "GET", "/api/session")).json()).toMatchObject({ mustChangePassword: true });
    expect((await asSession(fresh, "GET", "/api/cases")).status).toBe(403);
    expect((await auditOf("forgetful")).filter((e) => e.actor === ADMIN).map((e) => e.action)).toEqual(["account_created", "password_reset"]);
  });

  it("name, role, hall and department change together; leaving the approver role drops the department", async () => {
    const node = await enrolNode();
    await createStaff({ login: "mover", name: "孙立", role: "approver", hall: "CITY", department: "MZ", password: GOOD_PASSWORD });
    const res = await patch("mover", { name: "孙立新", role: "clerk", hall: node.code });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ login: "mover", name: "孙立新", role: "clerk", roleLabel: "窗口人员", hall: node.code, department: null, mustChangePassword: true });
    expect((await auditOf("mover")).at(-1)).toEqual({ actor: ADMIN, action: "account_updated", subject: "mover", detail: `role: approver→clerk; hall: CITY→${node.code}; department: MZ→–; name` });
    const back = await patch("mover", { role: "approver", hall: "CITY", department: "GA" });
    expect(await back.json()).toMatchObject({ role: "approver", hall: "CITY", department: "GA" });
  });
});

describe("account input is checked field by field, and nothing is made or changed", () => {
  const I = ACCOUNTS;
  const cases: [string, Record<string, unknown>, string, [{ field: string; message: string }, ...{ field: string; message: string }[]]][] = [
    ["nothing at all", {}, "登录名", [
      { field: "login", message: "缺少此项" },
      { field: "name", message: "缺少此项" },
      { field: "role", message: "缺少此项" },
      { field: "hall", message: "缺少此项" },
      { field: "password", message: "缺少此项" },
    ]],
    ["a login that does not begin with a letter", { login: "13800001111", name: "甲", role: "clerk", hall: "CITY", password: GOOD_PASSWORD }, "登录名", [{ field: "login", message: "应以字母开头，由字母、数字或 ._- 组成，至多64个字符" }]],
    ["a login with a space", { login: "zhang san", name: "甲", role: "clerk", hall: "CITY", password: GOOD_PASSWORD }, "登录名", [{ field: "login", message: "应以字母开头，由字母、数字或 ._- 组成，至多64个字符" }]],
    ["a name with a line break", { login: "abc", name: "张\n三", role: "clerk", hall: "CITY", password: GOOD_PASSWORD }, "姓名", [{ field: "name", message: "不能包含换行或控制字符" }]],
    ["an unknown role", { login: "abc", name: "甲", role: "applicant", hall: "CITY", password: GOOD_PASSWORD }, "角色", [{ field: "role", message: "应为 clerk（窗口人员）、approver（部门审批人员）、supervisor（电子监察人员）或 admin（系统管理员）" }]],
    ["a malformed hall", { login: "abc", name: "甲", role: "clerk", hall: "city", password: GOOD_PASSWORD }, "所属大厅", [{ field: "hall", message: "应为 CITY 或节点编码（2–12 位大写字母或数字）" }]],
    ["a short password", { login: "abc", name: "甲", role: "clerk", hall: "CITY", password: "abc123" }, "密码", [{ field: "password", message: "密码至少10个字符" }]],
    ["a password of letters only", { login: "abc", name: "甲", role: "clerk", hall: "CITY", password: "abcdefghijkl" }, "密码", [{ field: "password", message: "密码须同时包含字母和数字" }]],
    ["an unknown field", { login: "abc", name: "甲", role: "clerk", hall: "CITY", password: GOOD_PASSWORD, dept: "GA" }, "请求内容", [{ field: "json", message: "不认识的字段：dept" }]],
    ["a node that is not enrolled", { login: "abc", name: "甲", role: "clerk", hall: "NOPE01", password: GOOD_PASSWORD }, "所属大厅", [{ field: "hall", message: "NOPE01 既不是 CITY，也不是已登记节点的编码" }]],
    ["a supervisor at a node", { login: "abc", name: "甲", role: "supervisor", hall: "NOPE01", password: GOOD_PASSWORD }, "所属大厅", [{ field: "hall", message: "NOPE01 既不是 CITY，也不是已登记节点的编码" }]],
    ["an approver without a department", { login: "abc", name: "甲", role: "approver", hall: "CITY", password: GOOD_PASSWORD }, "所属部门", [{ field: "department", message: "部门审批人员须指定所属部门" }]],
    ["an approver of a department not in the catalog", { login: "abc", name: "甲", role: "approver", hall: "CITY", department: "GAJ", password: GOOD_PASSWORD }, "所属部门", [{ field: "department", message: "部门 GAJ 不在事项目录的部门中" }]],
    ["a clerk with a department", { login: "abc", name: "甲", role: "clerk", hall: "CITY", department: "GA", password: GOOD_PASSWORD }, "所属部门", [{ field: "department", message: "只有部门审批人员属于部门，窗口人员不能设置部门" }]],
  ];
  for (const [what, body, label, errors] of cases) {
    it(`refuses ${what} (400)`, async () => {
      await expectProblem(await post(body), "validation_failed", labelledProblem(I, label, ...errors));
      expect((await staffJson("GET", `${ACCOUNTS}/abc`, "admin")).status).toBe(404);
    });
  }

  it("refuses an approver and an admin at an enrolled node, and any account at a revoked one", async () => {
    const node = await enrolNode();
    await expectProblem(
      await post({ login: "abc", name: "甲", role: "approver", hall: node.code, department: "GA", password: GOOD_PASSWORD }),
      "validation_failed",
      labelledProblem(I, "所属大厅", { field: "hall", message: "部门审批人员只能属于市级（CITY），只有窗口人员可以属于乡镇节点" }),
    );
    await expectProblem(
      await post({ login: "abc", name: "甲", role: "admin", hall: node.code, department: "GA", password: GOOD_PASSWORD }),
      "validation_failed",
      labelledProblem(I, "所属大厅", { field: "hall", message: "系统管理员只能属于市级（CITY），只有窗口人员可以属于乡镇节点" }, { field: "department", message: "只有部门审批人员属于部门，系统管理员不能设置部门" }),
    );
    expect((await revokeNode(node.code)).status).toBe(200);
    await expectProblem(
      await post({ login: "abc", name: "甲", role: "clerk", hall: node.code, password: GOOD_PASSWORD }),
      "validation_failed",
      labelledProblem(I, "所属大厅", { field: "hall", message: `节点 ${node.code} 已被撤销，不能再把人员分配到该节点` }),
    );
  });

  it("a login already taken is 409; the refusal is in the audit log", async () => {
    await createStaff({ login: "dup.login", name: "甲", role: "supervisor", hall: "CITY", password: GOOD_PASSWORD });
    const res = await post({ login: "dup.login", name: "乙", role: "clerk", hall: "CITY", password: GOOD_PASSWORD });
    await expectProblem(res, "conflict", problemBody("conflict", "登录名 dup.login 已被使用", I, { field: "login" }));
    expect(await auditOf("dup.login")).toEqual([
      { actor: ADMIN, action: "account_created", subject: "dup.login", detail: "role: supervisor; hall: CITY; department: –" },
      { actor: ADMIN, action: "account_change_refused", subject: "dup.login", detail: "conflict login：登录名 dup.login 已被使用" },
    ]);
    expect(((await (await staffJson("GET", `${ACCOUNTS}/dup.login`, "admin")).json()) as { name: string }).name).toBe("甲");
  });

  it("a change: something to change, a known staff login, fitting role and department", async () => {
    await createStaff({ login: "steady", name: "周正", role: "supervisor", hall: "CITY", password: GOOD_PASSWORD });
    await expectProblem(await patch("steady", {}), "validation_failed", labelledProblem(`${I}/steady`, "请求内容", { field: "json", message: "请至少修改一项：name、role、hall、department、password 或 disabled" }));
    await expectProblem(await patch("steady", { disabled: "yes" }), "validation_failed", labelledProblem(`${I}/steady`, "停用", { field: "disabled", message: "应为 true（停用）或 false（启用）" }));
    await expectProblem(await patch("steady", { role: "approver" }), "validation_failed", labelledProblem(`${I}/steady`, "所属部门", { field: "department", message: "部门审批人员须指定所属部门" }));
    await expectProblem(await patch("nobody", { disabled: true }), "not_found", problemBody("not_found", "没有登录名为 nobody 的工作人员账号", `${I}/nobody`, { login: "nobody" }));
    const applicant = await registerApplicant({ phone: "13712340002", idNumber: "35050219900101123X" });
    // An applicant's login (a mobile number) is no staff login: nothing an administrator changes here.
    await expectProblem(await patch("13712340002", { disabled: true }), "validation_failed", labelledProblem(`${I}/13712340002`, "登录名", { field: "login", message: "应以字母开头，由字母、数字或 ._- 组成，至多64个字符" }));
    expect((await asSession(applicant.cookie, "GET", "/api/session")).status).toBe(200);
    expect(await (await staffJson("GET", `${ACCOUNTS}/steady`, "admin")).json()).toEqual(created({ login: "steady", name: "周正", role: "supervisor", hall: "CITY" }));
  });
});

describe("who may administer accounts", () => {
  it("nobody anonymous (401), no other role (403), and an administrator never disables, demotes or resets themselves", async () => {
    const body = { login: "intruder", name: "甲", role: "admin", hall: "CITY", password: GOOD_PASSWORD };
    await expectProblem(await call(ACCOUNTS, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }), "unauthorized", problemBody("unauthorized", "请先登录，再管理账号", ACCOUNTS));
    const labels: Record<string, string> = { clerk: "窗口人员", approver: "部门审批人员", supervisor: "电子监察人员" };
    for (const role of ["clerk", "approver", "supervisor"] as StaffRole[]) {
      for (const [method, path] of [["POST", ACCOUNTS], ["GET", ACCOUNTS], ["PATCH", `${ACCOUNTS}/intruder`]] as const) {
        const res = await call(path, { method, headers: { ...(await bearer(role)), "content-type": "application/json" }, ...(method === "GET" ? {} : { body: JSON.stringify(method === "POST" ? body : { disabled: true }) }) });
        await expectProblem(res, "forbidden", problemBody("forbidden", `${labels[role]}无权管理账号`, path, { role, requiredRoles: ["admin"] }));
      }
    }
    const applicant = await registerApplicant({ phone: "13712340003", idNumber: "350521198512150041" });
    await expectProblem(await asSession(applicant.cookie, "POST", ACCOUNTS, body), "forbidden", problemBody("forbidden", "申请人无权管理账号", ACCOUNTS, { role: "applicant", requiredRoles: ["admin"] }));
    expect((await staffJson("GET", `${ACCOUNTS}/intruder`, "admin")).status).toBe(404);

    // An administrator signed in with their own account.
    await createStaff({ login: "chief", name: "管理员甲", role: "admin", hall: "CITY", password: GOOD_PASSWORD });
    const me = await firstSignIn("chief", GOOD_PASSWORD, "Guanli-mima-2026");
    const self = (b: unknown) => asSession(me, "PATCH", `${ACCOUNTS}/chief`, b);
    await expectProblem(await self({ disabled: true }), "forbidden", problemBody("forbidden", "不能停用自己的账号，请由另一位管理员操作", `${ACCOUNTS}/chief`, { field: "disabled" }));
    await expectProblem(await self({ role: "supervisor" }), "forbidden", problemBody("forbidden", "不能取消自己的管理员角色，请由另一位管理员操作", `${ACCOUNTS}/chief`, { field: "role" }));
    await expectProblem(await self({ password: "Xin-mima-20261" }), "forbidden", problemBody("forbidden", "不能在账号管理中重置自己的密码，请使用“修改密码”（POST /api/session/password）", `${ACCOUNTS}/chief`, { field: "password" }));
    expect((await self({ name: "管理员乙" })).status).toBe(200);
    expect((await asSession(me, "GET", "/api/session")).status).toBe(200);
    expect((await auditOf("chief")).filter((e) => e.action === "account_change_refused").map((e) => e.actor)).toEqual(["admin:chief@CITY", "admin:chief@CITY", "admin:chief@CITY"]);
  });
});
