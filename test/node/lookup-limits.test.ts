/**
 * Query-code guessing at a township node: the same guard as the city, with the client address
 * taken from the socket (a hall's PCs on the LAN). Requests come from two loopback addresses,
 * 127.0.0.1 and 127.0.0.2, so one can be locked out while the other is not.
 */
import { request } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { ID, startTestNode, type RunningNode } from "./helpers.js";

const item = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township"))!;

let node: RunningNode;
beforeEach(async () => {
  node = await startTestNode({ at: "2026-11-23T02:00:00.000Z" });
});
afterEach(async () => {
  await node.close();
});

/** A GET from a given local address (the node sees it as the client's), with the node's own Host. */
function from(address: string, path: string, accept = "application/json"): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const { hostname, port } = new URL(node.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, localAddress: address, agent: false, headers: { accept, host: `${hostname}:${port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function intake(idNumber: string): Promise<{ caseNo: string; queryCode: string }> {
  const res = await node.post("/api/cases", { itemCode: item.code, applicant: { name: "张三", idNumber, phone: "13800138000" }, materials: item.materials.filter((m) => m.required).map((m) => m.id) });
  expect(res.status).toBe(201);
  return { caseNo: res.body.caseNo, queryCode: res.body.queryCode };
}

const wrongFor = (code: string) => (code === "ABCDEFGH" ? "HGFEDCBA" : "ABCDEFGH");
const REFUSED = { type: "https://tongban.example.cn/problems/forbidden", title: "无权执行该操作", status: 403, detail: "办件编号或查询码不正确，或办件尚未上传到此处", code: "forbidden", field: "queryCode" };
const blocked = (retryAfter: number, wait: string) => ({
  type: "https://tongban.example.cn/problems/too-many-attempts",
  title: "尝试次数过多",
  status: 429,
  detail: `查询码错误次数过多，请 ${wait}后再试；也可携带受理回执到办事窗口查询`,
  code: "too_many_attempts",
  retryAfter,
});

describe("query-code guessing at a node", () => {
  it("per case number: after 10 wrong codes even the right one is 429 with Retry-After, for an hour", async () => {
    const kase = await intake(ID.zhang);
    for (let i = 0; i < 10; i++) {
      const res = await from("127.0.0.1", `/api/track?caseNo=${kase.caseNo}&queryCode=${wrongFor(kase.queryCode)}`);
      expect([res.status, JSON.parse(res.text)]).toEqual([403, REFUSED]);
    }
    for (const address of ["127.0.0.1", "127.0.0.2"]) {
      const res = await from(address, `/api/cases/${kase.caseNo}/result?queryCode=${kase.queryCode}`);
      expect([res.status, res.headers["retry-after"], res.headers["content-type"], JSON.parse(res.text)]).toEqual([429, "3600", "application/problem+json; charset=utf-8", blocked(3600, "60 分钟")]);
    }
    const page = await from("127.0.0.2", `/track?caseNo=${kase.caseNo}&queryCode=${kase.queryCode}`, "text/html");
    expect([page.status, page.headers["retry-after"]]).toEqual([429, "3600"]);
    expect(page.text).toContain("查询码错误次数过多，请 60 分钟后再试；也可携带受理回执到办事窗口查询");
    node.clock.set("2026-11-23T03:00:01.000Z");
    expect((await from("127.0.0.2", `/api/track?caseNo=${kase.caseNo}&queryCode=${kase.queryCode}`)).status).toBe(200);
  });

  it("per address: 30 failures from one PC lock it out; the right code from another PC still works", async () => {
    const kase = await intake(ID.li);
    const wrong = wrongFor(kase.queryCode);
    const answers = new Set<string>();
    for (let i = 0; i < 30; i++) {
      // Wrong codes for the real case (9, under its own limit) and unknown case numbers: one answer, byte for byte.
      const caseNo = i < 9 ? kase.caseNo : `ZZ01-20261123-${String(i).padStart(4, "0")}`;
      const res = await from("127.0.0.1", `/api/track?caseNo=${caseNo}&queryCode=${i < 9 ? wrong : kase.queryCode}`);
      expect(res.status).toBe(403);
      answers.add(res.text);
    }
    expect([...answers].map((t) => JSON.parse(t))).toEqual([REFUSED]);
    const locked = await from("127.0.0.1", `/api/track?caseNo=${kase.caseNo}&queryCode=${kase.queryCode}`);
    expect([locked.status, locked.headers["retry-after"], JSON.parse(locked.text)]).toEqual([429, "3600", blocked(3600, "60 分钟")]);
    const other = await from("127.0.0.2", `/api/track?caseNo=${kase.caseNo}&queryCode=${kase.queryCode}`);
    expect([other.status, JSON.parse(other.text).caseNo]).toEqual([200, kase.caseNo]);
  });
});
