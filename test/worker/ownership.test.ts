/** Phase ownership at the city, the applicant's tracking page, and deadline input bounds. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PushResponse } from "../../domain/sync-protocol.js";
import { Chain, enrolNode, problem, problemBody, promisedItem, pushEvents, staffJson, validationProblem } from "./helpers.js";

const get = (path: string) => exports.default.fetch(new Request(`http://city.test${path}`));
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** The Beijing calendar date of an instant. */
const beijingDate = (t: number) => new Date(t + 8 * 3600_000).toISOString().slice(0, 10);

async function townshipCase() {
  const node = await enrolNode();
  const chain = new Chain(node.code);
  const opened = await chain.open();
  expect((await pushEvents(node, chain.events)).status).toBe(200);
  const caseNo = opened.caseNo;
  const row = (await (await staffJson("GET", `/api/cases/${caseNo}`, "supervisor")).json()) as { queryCode: string; state: string };
  return { node, chain, caseNo, queryCode: row.queryCode, opened };
}

describe("who may act on a township case at the city", () => {
  it("a city clerk may neither see nor act on a case a township accepted (403), nothing changes", async () => {
    const { caseNo } = await townshipCase();
    const refused = problemBody("forbidden", "无权查看或办理此办件（不属于本窗口、本部门或本人）", `/api/cases/${caseNo}/actions`, { caseNo });
    expect(await problem(await staffJson("POST", `/api/cases/${caseNo}/actions`, "clerk", { action: "refuse", reason: "越权" }), 403)).toEqual(refused);
    expect(await problem(await staffJson("GET", `/api/cases/${caseNo}`, "clerk"), 403)).toEqual({ ...refused, instance: `/api/cases/${caseNo}` });
    const view = (await (await staffJson("GET", `/api/cases/${caseNo}`, "supervisor")).json()) as { state: string; events: unknown[] };
    expect(view.state).toBe("accepted");
    expect(view.events).toHaveLength(1);
  });

  it("the window forwards it and its department decides it; another department may not", async () => {
    const { node, caseNo, chain } = await townshipCase();
    expect((await pushEvents(node, [await chain.act(caseNo, { action: "forward" })])).status).toBe(200);
    const other = await staffJson("POST", `/api/cases/${caseNo}/actions`, "approver", { action: "decide", decision: "grant" }, { department: "XXJ" });
    expect(await problem(other, 403)).toEqual(problemBody("forbidden", "无权查看或办理此办件（不属于本窗口、本部门或本人）", `/api/cases/${caseNo}/actions`, { caseNo }));
    const dec = await staffJson("POST", `/api/cases/${caseNo}/actions`, "approver", { action: "decide", decision: "deny", reason: "不符合条件" });
    expect(dec.status).toBe(200);
    expect(((await dec.json()) as { state: string }).state).toBe("decided");
  });
});

describe("tracking a case with the receipt's query code", () => {
  it("shows the state and steps, never the full ID number", async () => {
    const { caseNo, queryCode, opened } = await townshipCase();
    const { deadlineAt, deadlineDate } = opened.payload as { deadlineAt: string; deadlineDate: string };
    // The light at the time of asking (not decided yet): red once the deadline has passed, yellow on its day.
    const now = Date.now();
    const light = now > Date.parse(deadlineAt) ? "red" : beijingDate(now) === beijingDate(Date.parse(deadlineAt)) ? "yellow" : "green";
    const res = await get(`/api/track?caseNo=${caseNo}&queryCode=${queryCode.toLowerCase()}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toEqual({
      caseNo,
      itemName: promisedItem.name,
      applicant: { name: "申请人1", idNumber: "1101**********002X" },
      state: "accepted",
      stateLabel: "已受理",
      deadline: { instant: deadlineAt, date: deadlineDate },
      light,
      lightLabel: { green: "绿灯", yellow: "黄灯", red: "红灯" }[light],
      decision: null,
      steps: [{ step: "收件", at: opened.occurredAt }],
      resultUrl: null,
    });
    expect(JSON.stringify(body)).not.toMatch(/\d{17}[\dX]/);
    const page = await get(`/track?caseNo=${caseNo}&queryCode=${queryCode}`);
    expect(await page.text()).toContain("已受理");
  });

  it("answers a wrong code and an unknown case alike (403), and a malformed one with 400", async () => {
    const { caseNo } = await townshipCase();
    const wrong = await get(`/api/track?caseNo=${caseNo}&queryCode=ZZZZZZZZ`);
    const unknown = await get(`/api/track?caseNo=ZZ99-20260101-0001&queryCode=ZZZZZZZZ`);
    // One answer for both, byte for byte: a code never confirms that a case exists.
    const refused = problemBody("forbidden", "办件编号或查询码不正确，或办件尚未上传到此处", "/api/track", { field: "queryCode" });
    delete refused.instance;
    expect(await wrong.clone().text()).toBe(await unknown.clone().text());
    expect(await problem(wrong, 403)).toEqual(refused);
    expect(await problem(unknown, 403)).toEqual(refused);
    expect(await problem(await get(`/api/track?caseNo=${caseNo}&queryCode=1`), 400)).toEqual(
      validationProblem("/api/track", { field: "queryCode", message: "查询码应为回执上的8位字符（不含 0、1、I、L、O）" }),
    );
  });
});

describe("deadline input bounds", () => {
  it("refuses a start outside 2000–2100 instead of failing, and a zero-day limit ends the same working day", async () => {
    const far = await get("/api/calendar/deadline?start=9999-12-31T00:00:00Z&hours=10");
    expect(await problem(far, 400)).toEqual(validationProblem("/api/calendar/deadline", { field: "start", message: "start 应在 2000–2100 年之间" }));
    // Friday 2026-11-20 19:00 Beijing, after closing: "same day" is Monday's close.
    const zero = await get(`/api/calendar/deadline?start=${encodeURIComponent("2026-11-20T19:00:00+08:00")}&days=0`);
    expect(zero.status).toBe(200);
    expect(await zero.json()).toEqual({ deadline: "2026-11-23T09:30:00.000Z", date: "2026-11-23", warnings: [] });
  });
});

describe("a person resolves a conflict", () => {
  it("lists open conflicts for supervisors, marks one resolved, and reconciliation stops counting it", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    // The window forwards the case; a second forward (a node running modified code) is kept and flagged.
    const forwarded = await chain.act(caseNo, { action: "forward" });
    expect((await pushEvents(node, chain.events)).status).toBe(200);
    const again = new Date(Date.parse(forwarded.occurredAt) + 60_000);
    await chain.forge({ caseNo, type: "forwarded", payload: { ...(forwarded.payload as object), at: again.toISOString() } }, { at: again });
    const reason = "办件到达市级时已处于“部门审查中”状态，“转送部门”不再有效";
    const pushed = (await (await pushEvents(node, chain.events)).json()) as PushResponse;
    expect(pushed.conflicts).toEqual([{ origin: node.code, seq: 3, caseNo, reason }]);
    // The conflict as the city keeps it: detected when the push was taken.
    const flagged = { origin: node.code, seq: 3, caseNo, type: "forwarded", node: node.code, reason, detectedAt: pushed.serverTime, resolvedAt: null, resolution: null };

    expect(await problem(await staffJson("GET", "/api/conflicts", "admin"), 403)).toEqual(
      problemBody("forbidden", "系统管理员无权查看同步冲突", "/api/conflicts", { requiredRoles: ["clerk", "supervisor"], role: "admin" }),
    );
    // A city clerk sees the city hall's conflicts only, not this township's.
    const cityClerk = (await (await staffJson("GET", "/api/conflicts", "clerk")).json()) as { conflicts: { origin: string }[] };
    expect(cityClerk.conflicts.filter((c) => c.origin === node.code)).toEqual([]);
    expect(await problem(await exports.default.fetch(new Request("http://city.test/api/conflicts")), 401)).toEqual(
      problemBody("unauthorized", "请先登录，再查看同步冲突", "/api/conflicts"),
    );
    const open = (await (await staffJson("GET", "/api/conflicts?open=1", "supervisor")).json()) as { conflicts: Record<string, unknown>[] };
    expect(open.conflicts.filter((c) => c.origin === node.code)).toEqual([flagged]);
    const reconcileBefore = (await (await staffJson("GET", "/api/reconcile", "supervisor")).json()) as { nodes: { code: string; conflicts: number }[] };
    expect(reconcileBefore.nodes.find((n) => n.code === node.code)!.conflicts).toBe(1);

    const resolve = (seq: number) => `/api/conflicts/${node.code}/${seq}/resolve`;
    expect(await problem(await staffJson("POST", resolve(3), "supervisor", { resolution: "" }), 400)).toEqual(
      validationProblem(resolve(3), { field: "resolution", message: "请写明处理结果" }),
    );
    expect(await problem(await staffJson("POST", resolve(99), "supervisor", { resolution: "无" }), 404)).toEqual(
      problemBody("not_found", `冲突 ${node.code}:99 不存在`, resolve(99), { origin: node.code, seq: 99 }),
    );
    // Neither changed the conflict.
    expect(((await (await staffJson("GET", "/api/conflicts?open=1", "supervisor")).json()) as { conflicts: Record<string, unknown>[] }).conflicts.filter((c) => c.origin === node.code)).toEqual([flagged]);

    const t0 = Date.now();
    const done = await staffJson("POST", resolve(3), "supervisor", { resolution: "窗口已转送，重复的转送作废" });
    const t1 = Date.now();
    expect(done.status).toBe(200);
    const resolved = (await done.json()) as Record<string, any>;
    expect(resolved).toEqual({ ...flagged, resolvedAt: expect.stringMatching(ISO), resolution: "窗口已转送，重复的转送作废" });
    expect(Date.parse(resolved.resolvedAt)).toBeGreaterThanOrEqual(t0 - 1000);
    expect(Date.parse(resolved.resolvedAt)).toBeLessThanOrEqual(t1 + 1000);
    // It leaves the open list and stays, resolved, in the full one.
    const openAfter = (await (await staffJson("GET", "/api/conflicts?open=1", "supervisor")).json()) as { conflicts: Record<string, unknown>[] };
    expect(openAfter.conflicts.filter((c) => c.origin === node.code)).toEqual([]);
    const all = (await (await staffJson("GET", "/api/conflicts", "supervisor")).json()) as { conflicts: Record<string, unknown>[] };
    expect(all.conflicts.filter((c) => c.origin === node.code)).toEqual([resolved]);
    const reconcileAfter = (await (await staffJson("GET", "/api/reconcile", "supervisor")).json()) as { nodes: { code: string; conflicts: number }[] };
    expect(reconcileAfter.nodes.find((n) => n.code === node.code)!.conflicts).toBe(0);
  });
});
