/** Phase ownership at the city, the applicant's tracking page, and deadline input bounds. */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Chain, enrolNode, pushEvents, staffJson } from "./helpers.js";

const get = (path: string) => exports.default.fetch(new Request(`http://city.test${path}`));

async function townshipCase() {
  const node = await enrolNode();
  const chain = new Chain(node.code);
  const opened = await chain.open();
  expect((await pushEvents(node, chain.events)).status).toBe(200);
  const caseNo = opened.caseNo;
  const row = (await (await staffJson("GET", `/api/cases/${caseNo}`, "supervisor")).json()) as { queryCode: string; state: string };
  return { node, caseNo, queryCode: row.queryCode };
}

describe("who may act on a township case at the city", () => {
  it("a city clerk may not refuse or deliver a case a township accepted (403 not_owner), nothing changes", async () => {
    const { node, caseNo } = await townshipCase();
    const res = await staffJson("POST", `/api/cases/${caseNo}/actions`, "clerk", { action: "refuse", reason: "越权" });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({
      type: "https://tongban.example.cn/problems/not-owner",
      title: "该环节不归本窗口办理",
      status: 403,
      detail: `办件由 ${node.code} 受理，CITY 不能执行“不予受理”（受理和送达归受理窗口，审查归部门）`,
      code: "not_owner",
      instance: `/api/cases/${caseNo}/actions`,
      caseOrigin: node.code,
      origin: "CITY",
      action: "refuse",
    });
    const view = (await (await staffJson("GET", `/api/cases/${caseNo}`, "supervisor")).json()) as { state: string; events: unknown[] };
    expect(view.state).toBe("accepted");
    expect(view.events).toHaveLength(1);
  });

  it("the city may forward it and a department may decide it", async () => {
    const { caseNo } = await townshipCase();
    expect((await staffJson("POST", `/api/cases/${caseNo}/actions`, "clerk", { action: "forward" })).status).toBe(200);
    const dec = await staffJson("POST", `/api/cases/${caseNo}/actions`, "approver", { action: "decide", decision: "deny", reason: "不符合条件" });
    expect(dec.status).toBe(200);
    expect(((await dec.json()) as { state: string }).state).toBe("decided");
  });
});

describe("tracking a case with the receipt's query code", () => {
  it("shows the state and steps, never the full ID number", async () => {
    const { caseNo, queryCode } = await townshipCase();
    const res = await get(`/api/track?caseNo=${caseNo}&queryCode=${queryCode.toLowerCase()}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, any>;
    expect(body).toMatchObject({ caseNo, state: "accepted", stateLabel: "已受理", steps: [{ step: "收件" }], resultUrl: null });
    expect(JSON.stringify(body)).not.toMatch(/\d{17}[\dX]/);
    const page = await get(`/track?caseNo=${caseNo}&queryCode=${queryCode}`);
    expect(await page.text()).toContain("已受理");
  });

  it("answers a wrong code and an unknown case alike (403), and a malformed one with 400", async () => {
    const { caseNo } = await townshipCase();
    const wrong = await get(`/api/track?caseNo=${caseNo}&queryCode=ZZZZZZZZ`);
    const unknown = await get(`/api/track?caseNo=ZZ99-20260101-0001&queryCode=ZZZZZZZZ`);
    expect(wrong.status).toBe(403);
    expect(unknown.status).toBe(403);
    const a = (await wrong.json()) as Record<string, unknown>;
    const b = (await unknown.json()) as Record<string, unknown>;
    expect({ ...a, instance: null }).toEqual({ ...b, instance: null });
    expect((await get(`/api/track?caseNo=${caseNo}&queryCode=1`)).status).toBe(400);
  });
});

describe("deadline input bounds", () => {
  it("refuses a start outside 2000–2100 instead of failing, and a zero-day limit ends the same working day", async () => {
    const far = await get("/api/calendar/deadline?start=9999-12-31T00:00:00Z&hours=10");
    expect(far.status).toBe(400);
    expect(await far.json()).toMatchObject({ code: "validation_failed", field: "start" });
    // Friday 2026-11-20 19:00 Beijing, after closing: "same day" is Monday's close.
    const zero = (await (await get(`/api/calendar/deadline?start=${encodeURIComponent("2026-11-20T19:00:00+08:00")}&days=0`)).json()) as { deadline: string; date: string };
    expect(zero).toMatchObject({ deadline: "2026-11-23T09:30:00.000Z", date: "2026-11-23" });
  });
});

describe("a person resolves a conflict", () => {
  it("lists open conflicts for supervisors, marks one resolved, and reconciliation stops counting it", async () => {
    const node = await enrolNode();
    const chain = new Chain(node.code);
    const { caseNo } = await chain.open();
    expect((await pushEvents(node, chain.events)).status).toBe(200);
    expect((await staffJson("POST", `/api/cases/${caseNo}/actions`, "clerk", { action: "forward" })).status).toBe(200);
    // The node, not yet knowing, forwards too: its event is kept and flagged.
    await chain.act(caseNo, { action: "forward" });
    const pushed = (await (await pushEvents(node, chain.events)).json()) as { conflicts: unknown[] };
    expect(pushed.conflicts).toHaveLength(1);

    expect((await staffJson("GET", "/api/conflicts", "clerk")).status).toBe(403);
    expect((await exports.default.fetch(new Request("http://city.test/api/conflicts"))).status).toBe(401);
    const open = (await (await staffJson("GET", "/api/conflicts?open=1", "supervisor")).json()) as { conflicts: Record<string, unknown>[] };
    expect(open.conflicts.filter((c) => c.origin === node.code)).toEqual([
      expect.objectContaining({ origin: node.code, seq: 2, caseNo, type: "forwarded", resolvedAt: null, resolution: null }),
    ]);
    const reconcileBefore = (await (await staffJson("GET", "/api/reconcile", "supervisor")).json()) as { nodes: { code: string; conflicts: number }[] };
    expect(reconcileBefore.nodes.find((n) => n.code === node.code)!.conflicts).toBe(1);

    expect((await staffJson("POST", `/api/conflicts/${node.code}/2/resolve`, "supervisor", { resolution: "" })).status).toBe(400);
    expect((await staffJson("POST", `/api/conflicts/${node.code}/99/resolve`, "supervisor", { resolution: "无" })).status).toBe(404);
    const done = await staffJson("POST", `/api/conflicts/${node.code}/2/resolve`, "supervisor", { resolution: "市级已转送，节点的重复转送作废" });
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ origin: node.code, seq: 2, resolvedAt: expect.any(String), resolution: "市级已转送，节点的重复转送作废" });
    const reconcileAfter = (await (await staffJson("GET", "/api/reconcile", "supervisor")).json()) as { nodes: { code: string; conflicts: number }[] };
    expect(reconcileAfter.nodes.find((n) => n.code === node.code)!.conflicts).toBe(0);
  });
});
