import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { intake, runCommand } from "../../store/cases.js";
import { ID, startTestNode, type RunningNode } from "./helpers.js";

const promised = seedItems.find((i) => i.kind === "promised" && i.places.includes("township"))!;
const required = promised.materials.filter((m) => m.required).map((m) => m.id);
const applicant = { name: "李四", idNumber: ID.li, phone: "0595-22345678" };
const PROBLEM = "application/problem+json; charset=utf-8";

let node: RunningNode;
beforeEach(async () => {
  node = await startTestNode();
});
afterEach(async () => {
  await node.close();
});

/** A whole problem+json body as the node answers it. */
function problemBody(code: string, title: string, status: number, detail: string, instance: string, extra: Record<string, unknown> = {}) {
  return { type: `https://tongban.example.cn/problems/${code.replaceAll("_", "-")}`, title, status, detail, code, instance, ...extra };
}

async function counts() {
  const r = await node.store.client.execute("select (select count(*) from cases) as cases, (select count(*) from case_events) as events");
  return { cases: Number(r.rows[0]!.cases), events: Number(r.rows[0]!.events) };
}

describe("bad input changes nothing and is answered with problem+json", () => {
  it("400 for a body that is not JSON", async () => {
    const before = await counts();
    const res = await node.json("/api/cases", { method: "POST", headers: { "content-type": "application/json" }, body: "{not json" });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe(PROBLEM);
    expect(res.body).toEqual({
      type: "https://tongban.example.cn/problems/bad-request",
      title: "请求格式错误",
      status: 400,
      detail: "请求体不是合法的 JSON",
      code: "bad_request",
      instance: "/api/cases",
      field: "body",
    });
    expect(await counts()).toEqual(before);
  });

  it("415 without a JSON content type (the node's write guard answers before the route)", async () => {
    const before = await counts();
    const res = await node.json("/api/cases", { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect(res.status).toBe(415);
    expect(res.headers.get("content-type")).toBe(PROBLEM);
    expect(res.body).toEqual({
      type: "https://tongban.example.cn/problems/unsupported-media-type",
      title: "不支持的请求内容类型",
      status: 415,
      detail: "写操作的请求必须是 application/json（Content-Type），收到 text/plain",
      code: "unsupported_media_type",
      instance: "/api/cases",
      field: "content-type",
      accepted: ["application/json"],
    });
    expect(await counts()).toEqual(before);
  });

  it("400 naming the field for an ID number with a wrong check digit", async () => {
    const before = await counts();
    const res = await node.post("/api/cases", { itemCode: promised.code, applicant: { ...applicant, idNumber: "110105194912310021" }, materials: required });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe(PROBLEM);
    expect(res.body).toEqual({
      type: "https://tongban.example.cn/problems/validation-failed",
      title: "请求参数不合法",
      status: 400,
      detail: "字段 applicant.idNumber 不合法：公民身份号码不正确（校验位不符或出生日期无效）",
      code: "validation_failed",
      instance: "/api/cases",
      field: "applicant.idNumber",
      errors: [{ field: "applicant.idNumber", message: "公民身份号码不正确（校验位不符或出生日期无效）" }],
    });
    expect(await counts()).toEqual(before);
  });

  it("400 listing every invalid field", async () => {
    const before = await counts();
    const res = await node.post("/api/cases", { itemCode: "123", applicant: { name: "", idNumber: ID.li, phone: "12" } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      problemBody("validation_failed", "请求参数不合法", 400, "字段 itemCode 不合法：事项编码应为31位数字或大写字母", "/api/cases", {
        field: "itemCode",
        errors: [
          { field: "itemCode", message: "事项编码应为31位数字或大写字母" },
          { field: "applicant.name", message: "请填写申请人姓名" },
          { field: "applicant.phone", message: "联系电话应为11位手机号或带区号的固定电话" },
          { field: "materials", message: "缺少此项" },
        ],
      }),
    );
    expect(await counts()).toEqual(before);
  });

  it("400 for a material id the item does not have", async () => {
    const before = await counts();
    const res = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: [...required, "no-such"] });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      type: "https://tongban.example.cn/problems/unknown-materials",
      title: "材料编号不属于该事项",
      status: 400,
      detail: "以下材料编号不属于该事项：no-such",
      code: "unknown_materials",
      instance: "/api/cases",
      field: "materials",
      ids: ["no-such"],
    });
    expect(await counts()).toEqual(before);
  });

  it("404 for an unknown item", async () => {
    const code = "11350500003621153B3079999900000";
    const res = await node.post("/api/cases", { itemCode: code, applicant, materials: [] });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      type: "https://tongban.example.cn/problems/item-not-found",
      title: "事项不存在",
      status: 404,
      detail: `事项 ${code} 不存在`,
      code: "item_not_found",
      instance: "/api/cases",
      itemCode: code,
    });
  });

  it("404 for an unknown case on every case route, 400 for a malformed case number", async () => {
    const notFound = (instance: string) =>
      problemBody("case_not_found", "办件不存在", 404, "办件 TEST01-20261123-0099 不存在", instance, { caseNo: "TEST01-20261123-0099" });
    for (const path of ["", "/receipt", "/notice"]) {
      const res = await node.json(`/api/cases/TEST01-20261123-0099${path}`);
      expect(res.status).toBe(404);
      expect(res.body).toEqual(notFound(`/api/cases/TEST01-20261123-0099${path}`));
    }
    const act = await node.post("/api/cases/TEST01-20261123-0099/actions", { action: "deliver" });
    expect(act.status).toBe(404);
    expect(act.body).toEqual(notFound("/api/cases/TEST01-20261123-0099/actions"));
    const bad = await node.json("/api/cases/nonsense");
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual(
      problemBody("validation_failed", "请求参数不合法", 400, "字段 caseNo 不合法：办件编号格式应为 节点编码-yyyymmdd-序号", "/api/cases/nonsense", {
        field: "caseNo",
        errors: [{ field: "caseNo", message: "办件编号格式应为 节点编码-yyyymmdd-序号" }],
      }),
    );
    expect(await counts()).toEqual({ cases: 0, events: 0 });
  });

  it("409 naming the state for an action that is invalid now, and nothing changes", async () => {
    const created = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: required });
    const before = await counts();
    const res = await node.post(`/api/cases/${created.body.caseNo}/actions`, { action: "deliver" });
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toBe(PROBLEM);
    expect(res.body).toEqual({
      type: "https://tongban.example.cn/problems/invalid-state",
      title: "当前状态下不能执行该操作",
      status: 409,
      detail: "办件当前状态为“已受理”（accepted，承诺件），不能执行“送达结果”（deliver）",
      code: "invalid_state",
      instance: `/api/cases/${created.body.caseNo}/actions`,
      state: "accepted",
      kind: "promised",
      action: "deliver",
      allowedIn: ["decided"],
    });
    expect(await counts()).toEqual(before);
    const view = await node.json(`/api/cases/${created.body.caseNo}`);
    expect(view.body.state).toBe("accepted");
  });

  it("403 when the window tries a department's decision", async () => {
    const created = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: required });
    await node.post(`/api/cases/${created.body.caseNo}/actions`, { action: "forward" });
    const before = await counts();
    const res = await node.post(`/api/cases/${created.body.caseNo}/actions`, { action: "decide", decision: "grant" });
    expect(res.status).toBe(403);
    expect(res.body).toEqual(
      problemBody("forbidden_role", "当前角色无权执行该操作", 403, "窗口人员不能执行“办结决定”", `/api/cases/${created.body.caseNo}/actions`, {
        role: "clerk",
        action: "decide",
        allowedRoles: ["approver"],
      }),
    );
    expect(await counts()).toEqual(before);
  });

  it("400 for an unknown action and for a refusal without a reason", async () => {
    const created = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: [] });
    const instance = `/api/cases/${created.body.caseNo}/actions`;
    const before = await counts();
    const unknown = await node.post(instance, { action: "approve" });
    expect(unknown.status).toBe(400);
    const actions = "action 应为 accept、refuse、request-supplement、supplement、forward、opinion、escalate、suspend、resume、decide 或 deliver";
    expect(unknown.body).toEqual(
      problemBody("validation_failed", "请求参数不合法", 400, `字段 action 不合法：${actions}`, instance, { field: "action", errors: [{ field: "action", message: actions }] }),
    );
    const noReason = await node.post(instance, { action: "refuse", reason: "  " });
    expect(noReason.status).toBe(400);
    expect(noReason.body).toEqual(
      problemBody("validation_failed", "请求参数不合法", 400, "字段 reason 不合法：请填写不予受理的理由", instance, {
        field: "reason",
        errors: [{ field: "reason", message: "请填写不予受理的理由" }],
      }),
    );
    expect(await counts()).toEqual(before);
    expect((await node.json(`/api/cases/${created.body.caseNo}`)).body.state).toBe("supplement");
  });

  it("400 invalid_command for a one-time notice before acceptance that leaves out a missing material, and nothing changes", async () => {
    // An online filing waits for the clerk's check (window intake lists every missing material by
    // itself). Two required materials are missing; the clerk's notice names only one.
    const opened = await intake(node.store.db, {
      origin: node.code,
      actor: "online",
      channel: "online",
      itemCode: promised.code,
      applicant,
      materials: ["id-card", "hukou"],
      at: node.clock.now,
    });
    if (!opened.ok) throw new Error(`online filing failed: ${JSON.stringify(opened.error)}`);
    const caseNo = opened.case.caseNo;
    const view = await node.json(`/api/cases/${caseNo}`);
    expect(view.body).toMatchObject({ state: "submitted", missing: [{ id: "relation" }, { id: "form" }] });
    const before = await counts();

    const res = await node.post(`/api/cases/${caseNo}/actions`, { action: "request-supplement", missing: ["relation"] });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toBe(PROBLEM);
    expect(res.body).toEqual({
      type: "https://tongban.example.cn/problems/invalid-command",
      title: "操作参数不合法",
      status: 400,
      detail: "一次性告知须列明全部缺少的材料，还缺：form",
      code: "invalid_command",
      instance: `/api/cases/${caseNo}/actions`,
      field: "missing",
    });
    expect(await counts()).toEqual(before);
    expect((await node.json(`/api/cases/${caseNo}`)).body).toEqual(view.body);
  });

  it("409 for a notice when nothing is missing", async () => {
    const all = promised.materials.map((m) => m.id);
    const created = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: all });
    const res = await node.json(`/api/cases/${created.body.caseNo}/notice`);
    expect(res.status).toBe(409);
    expect(res.body).toEqual(
      problemBody("invalid_state", "当前状态下不能执行该操作", 409, "本件材料齐全，没有需要一次性告知的材料", `/api/cases/${created.body.caseNo}/notice`, {
        state: "accepted",
        caseNo: created.body.caseNo,
      }),
    );
  });

  it("400 for bad list filters, 404 in problem form for unknown routes", async () => {
    const res = await node.json("/api/cases?light=blue");
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      problemBody("validation_failed", "请求参数不合法", 400, "字段 light 不合法：light 应为 green、yellow 或 red", "/api/cases", {
        field: "light",
        errors: [{ field: "light", message: "light 应为 green、yellow 或 red" }],
      }),
    );
    const missing = await node.json("/api/nothing");
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toBe(PROBLEM);
    expect(missing.body).toEqual(problemBody("not_found", "资源不存在", 404, "没有这个地址：GET /api/nothing", "/api/nothing"));
  });
});

describe("text that could not read the same in the node's row, its log and the city is refused", () => {
  it.each([
    ["a NUL", "张\u0000三", "包含空字符（NUL）"],
    ["a lone surrogate", "张\ud800三", "包含无效的 Unicode 字符（不成对的代理项）"],
    ["a line break in a name", "张\n三", "姓名不能包含换行或控制字符"],
  ])("an applicant name holding %s is a 400 naming the field; nothing is stored", async (_what, name, message) => {
    const before = await counts();
    const res = await node.post("/api/cases", { itemCode: promised.code, applicant: { ...applicant, name }, materials: required });
    expect(res.status).toBe(400);
    expect(res.body).toEqual(
      problemBody("validation_failed", "请求参数不合法", 400, `字段 applicant.name 不合法：${message}`, "/api/cases", {
        field: "applicant.name",
        errors: [{ field: "applicant.name", message }],
      }),
    );
    expect(await counts()).toEqual(before);
  });
});

describe("an event that would break the limits never enters the node's chain", () => {
  it("a command whose event would exceed the size limit is refused at the store, nothing written", async () => {
    const created = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: required.slice(1) });
    expect(created.status).toBe(201);
    const before = await counts();
    // Past the route's own limits (as a script calling the store, or a future route, might be).
    const res = await runCommand(node.store.db, created.body.caseNo, {
      origin: node.code,
      actor: `window@${node.code}`,
      role: "clerk",
      at: node.clock.now,
      command: { action: "refuse", reason: "理".repeat(6_000) },
    });
    expect(res).toEqual({ ok: false, error: { code: "invalid_command", field: "payload", message: "超出事件限制：事件超过 16384 字节（规范化 JSON 的 UTF-8 长度）" } });
    expect(await counts()).toEqual(before);
  });
});
