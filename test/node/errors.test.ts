import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
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
    const res = await node.post("/api/cases", { itemCode: "123", applicant: { name: "", idNumber: ID.li, phone: "12" } });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: any) => e.field).sort()).toEqual(["applicant.name", "applicant.phone", "itemCode", "materials"]);
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
    for (const path of ["", "/receipt", "/notice"]) {
      const res = await node.json(`/api/cases/TEST01-20261123-0099${path}`);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: "case_not_found", caseNo: "TEST01-20261123-0099" });
    }
    const act = await node.post("/api/cases/TEST01-20261123-0099/actions", { action: "deliver" });
    expect(act.status).toBe(404);
    const bad = await node.json("/api/cases/nonsense");
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: "validation_failed", field: "caseNo" });
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
    expect(res.body).toMatchObject({ code: "forbidden_role", role: "clerk", action: "decide", allowedRoles: ["approver"] });
    expect(await counts()).toEqual(before);
  });

  it("400 for an unknown action and for a refusal without a reason", async () => {
    const created = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: [] });
    const unknown = await node.post(`/api/cases/${created.body.caseNo}/actions`, { action: "approve" });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ code: "validation_failed", field: "action" });
    const noReason = await node.post(`/api/cases/${created.body.caseNo}/actions`, { action: "refuse", reason: "  " });
    expect(noReason.status).toBe(400);
    expect(noReason.body).toMatchObject({ code: "validation_failed", field: "reason" });
  });

  it("409 for a notice when nothing is missing", async () => {
    const all = promised.materials.map((m) => m.id);
    const created = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: all });
    const res = await node.json(`/api/cases/${created.body.caseNo}/notice`);
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "invalid_state", state: "accepted" });
  });

  it("400 for bad list filters, 404 in problem form for unknown routes", async () => {
    const res = await node.json("/api/cases?light=blue");
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: "validation_failed", field: "light" });
    const missing = await node.json("/api/nothing");
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: "not_found", status: 404 });
  });
});
