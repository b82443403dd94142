import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { verifyChain } from "../../domain/events.js";
import { getCaseEvents } from "../../store/cases.js";
import { AsyncLocalStorage } from "node:async_hooks";
import { createNodeApp } from "../../edge-node/app.js";
import { loadOrCreateIdentity } from "../../edge-node/identity.js";
import { PushThread } from "../../edge-node/push-thread.js";
import { SyncAgent } from "../../edge-node/sync.js";
import { CachedReference } from "../../store/reference.js";
import { eventually } from "./harness.js";
import { ID, refusedPort, startTestNode, type RunningNode } from "./helpers.js";

/** The push thread's script as `npm run edge` builds it (test/node/global-setup.ts builds it first). */
const PUSH_WORKER = new URL("../../dist/push-worker.mjs", import.meta.url);

const immediate = seedItems.find((i) => i.kind === "immediate" && i.places.includes("township") && i.materials.some((m) => m.deferrable))!;
const promised = seedItems.find((i) => i.kind === "promised" && i.places.includes("township") && i.promisedLimit.unit === "day")!;
const required = (item: typeof immediate) => item.materials.filter((m) => m.required).map((m) => m.id);
const applicant = { name: "张三", idNumber: ID.zhang, phone: "13800138000" };

let node: RunningNode;
beforeEach(async () => {
  // Monday 2026-11-23 10:00 Beijing.
  node = await startTestNode({ at: "2026-11-23T02:00:00.000Z" });
});
afterEach(async () => {
  vi.unstubAllGlobals();
  await node.close();
});

describe("window intake, happy path", () => {
  it("accepts a complete immediate case, decides it at the window and delivers it", async () => {
    const res = await node.post("/api/cases", { itemCode: immediate.code, applicant, materials: required(immediate) });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`/api/cases/${res.body.caseNo}`);
    expect(res.body).toMatchObject({
      caseNo: "TEST01-20261123-0001",
      queryCode: expect.stringMatching(/^[2-9A-HJKMNP-Z]{8}$/),
      kind: "immediate",
      state: "accepted",
      deadline: { instant: "2026-11-23T09:30:00.000Z", date: "2026-11-23" },
      light: "yellow",
      applicant: { name: "张三", idNumber: "1101**********002X", phone: "138****8000" },
      missing: [],
      availableActions: ["decide"],
    });
    const caseNo = res.body.caseNo;

    await node.setClock("2026-11-23T02:20:00.000Z");
    const decided = await node.post(`/api/cases/${caseNo}/actions`, { action: "decide", decision: "grant" });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ state: "decided", decision: "grant", decidedAt: "2026-11-23T02:20:00.000Z", event: { seq: 2, type: "decided" } });

    const delivered = await node.post(`/api/cases/${caseNo}/actions`, { action: "deliver" });
    expect(delivered.body).toMatchObject({ state: "delivered", deliveredAt: "2026-11-23T02:20:00.000Z" });

    const view = await node.json(`/api/cases/${caseNo}`);
    expect(view.status).toBe(200);
    expect(view.body.applicant.idNumber).toBe(ID.zhang);
    expect(view.body.events.map((e: any) => [e.seq, e.type, e.actor])).toEqual([
      [1, "opened", "clerk:clerk1@TEST01"],
      [2, "decided", "clerk:clerk1@TEST01"],
      [3, "delivered", "clerk:clerk1@TEST01"],
    ]);
    const stored = await getCaseEvents(node.store.db, caseNo);
    expect(await verifyChain(stored)).toEqual([]);
  });

  it("turns an incomplete application into a 补办件 listing every missing material at once, then accepts it when supplied", async () => {
    const needed = immediate.materials.filter((m) => m.required && !m.deferrable);
    const res = await node.post("/api/cases", { itemCode: immediate.code, applicant, materials: [] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ state: "supplement", kind: "supplement", deadline: null, light: null, acceptedAt: null });
    expect(res.body.missing).toEqual(needed.map((m) => ({ id: m.id, name: m.name })));
    expect(res.body.deferred.map((m: any) => m.id)).toEqual(immediate.materials.filter((m) => m.required && m.deferrable).map((m) => m.id));
    expect(res.body.noticeUrl).toBe(`/api/cases/${res.body.caseNo}/notice`);

    const notice = await fetch(node.url + res.body.noticeUrl, { headers: { cookie: node.cookie } });
    expect(notice.status).toBe(200);
    expect(notice.headers.get("content-type")).toMatch(/text\/html/);
    const html = await notice.text();
    expect(html).toContain("一次性告知书");
    // The A4 page setup lives in the stylesheet the notice links (the CSP allows no inline <style>).
    const css = /<link rel="stylesheet" href="(\/assets\/a4\.css\?v=\w+)">/.exec(html);
    expect(css).not.toBeNull();
    expect(await (await fetch(node.url + css![1])).text()).toContain("size:A4");
    for (const m of needed) expect(html).toContain(m.name);
    expect(html).toContain("1101**********002X");
    expect(html).not.toContain(ID.zhang);

    // Half the materials: still waiting for the rest, nothing new demanded.
    const [first, ...rest] = needed.map((m) => m.id);
    await node.setClock("2026-11-24T01:00:00.000Z");
    const partial = await node.post(`/api/cases/${res.body.caseNo}/actions`, { action: "supplement", materials: [first] });
    expect(partial.status).toBe(200);
    expect(partial.body.state).toBe("supplement");
    expect(partial.body.missing.map((m: any) => m.id)).toEqual(rest);

    const done = await node.post(`/api/cases/${res.body.caseNo}/actions`, { action: "supplement", materials: rest });
    expect(done.body).toMatchObject({
      state: "accepted",
      kind: "immediate",
      acceptedAt: "2026-11-24T01:00:00.000Z",
      deadline: { date: "2026-11-24" },
      missing: [],
    });
  });

  it("starts a promised case's deadline from its promised limit in working days", async () => {
    const res = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: required(promised) });
    expect(res.status).toBe(201);
    expect(res.body.kind).toBe("promised");
    expect(res.body.state).toBe("accepted");
    expect(promised.promisedLimit).toEqual({ value: 5, unit: "day" });
    // Accepted Mon 2026-11-23 (the day of acceptance never counts), no holiday or 调休 in late
    // November: Tue 24, Wed 25, Thu 26, Fri 27, Mon 30 → 17:30 Beijing on Mon 30.
    expect(res.body.deadline).toEqual({ instant: "2026-11-30T09:30:00.000Z", date: "2026-11-30" });
    expect(res.body.availableActions).toEqual(["forward"]);
    const fwd = await node.post(`/api/cases/${res.body.caseNo}/actions`, { action: "forward" });
    expect(fwd.body).toMatchObject({ state: "in_review", reviewDepartments: [promised.departmentCode] });
  });

  it("prints a receipt with case number, query code, masked ID and promised date", async () => {
    const res = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: required(promised) });
    expect(res.status).toBe(201);
    expect(promised.promisedLimit).toEqual({ value: 5, unit: "day" });
    const page = await fetch(`${node.url}/api/cases/${res.body.caseNo}/receipt`, { headers: { cookie: node.cookie } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("受理回执");
    expect(html).toContain(res.body.caseNo);
    expect(html).toContain(res.body.queryCode);
    expect(html).toContain("1101**********002X");
    expect(html).not.toContain(ID.zhang);
    // The clock is pinned at Mon 2026-11-23 10:00 Beijing; 5 working days after it are Tue 24,
    // Wed 25, Thu 26, Fri 27 and Mon 30 (no holiday or 调休 in late November 2026).
    expect(html).toContain("2026年11月30日");
    expect(html).toContain("测试镇便民服务中心");
  });

  it("round-trips Chinese text, including characters outside the BMP", async () => {
    const name = "欧阳𠀾娜·买买提";
    const res = await node.post("/api/cases", { itemCode: promised.code, applicant: { ...applicant, name }, materials: required(promised) });
    expect(res.status).toBe(201);
    const view = await node.json(`/api/cases/${res.body.caseNo}`);
    expect(view.body.applicant.name).toBe(name);
    expect(view.body.itemName).toBe(promised.name);
  });

  it("numbers concurrent intakes uniquely and keeps the chain gap-free", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, () => node.post("/api/cases", { itemCode: promised.code, applicant, materials: required(promised) })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const numbers = results.map((r) => r.body.caseNo).sort();
    expect(new Set(numbers).size).toBe(20);
    expect(numbers[0]).toBe("TEST01-20261123-0001");
    expect(numbers[19]).toBe("TEST01-20261123-0020");
    const rows = await node.store.client.execute("select origin, seq, case_no as caseNo, type, payload, actor, occurred_at as occurredAt, prev_hash as prevHash, hash from case_events order by seq");
    const events = rows.rows.map((r) => ({ ...r, payload: JSON.parse(String(r.payload)) })) as any[];
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await verifyChain(events)).toEqual([]);
  });

  it("accepts cases while its sync agent runs against an unreachable city, and makes no network call on the intake path", async () => {
    // Wired as edge-node/main.ts wires a node: identity, reference cache, a real SyncAgent with its
    // push thread, the city at a port that refuses connections. Only the clock is the test's.
    const identity = await loadOrCreateIdentity(node.dir);
    const cityUrl = `http://127.0.0.1:${await refusedPort()}`;
    const reference = new CachedReference(node.store.db);
    const sync = new SyncAgent({
      db: node.store.db,
      code: node.code,
      cityUrl,
      privateJwk: identity.privateJwk,
      dbPath: node.store.path,
      pushWorker: PUSH_WORKER,
      intervalMs: 10_000,
      onReferenceChanged: () => reference.invalidate(),
    });
    const app = createNodeApp({
      db: node.store.db,
      code: node.code,
      name: "测试镇便民服务中心",
      cityUrl,
      publicJwk: identity.publicJwk,
      privateKey: identity.privateKey,
      sync,
      reference,
      now: () => node.clock.now,
    });

    // The network as the intake request sees it: every fetch fails, and a call (or a push handed
    // to the push thread) made on behalf of the request is counted. The agent's own loop runs in
    // its own async context and is not the request's.
    const request = new AsyncLocalStorage<string>();
    const madeByRequest: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (input: string | URL | Request) => {
        if (request.getStore()) madeByRequest.push(`fetch ${input instanceof Request ? input.url : String(input)}`);
        throw new TypeError("fetch failed (the test's network is down)");
      }),
    );
    const send = PushThread.prototype.send;
    const pushSpy = vi.spyOn(PushThread.prototype, "send").mockImplementation(function (this: PushThread, req) {
      if (request.getStore()) madeByRequest.push("push");
      return send.call(this, req);
    });

    sync.start();
    try {
      // The agent has tried the city and gone offline before the applicant arrives.
      await eventually(async () => (await sync.status()).lastError !== null, "the sync agent's first round failed");
      expect(pushSpy).toHaveBeenCalled();
      expect(await sync.status()).toMatchObject({ online: false, ackedSeq: 0, headSeq: 0 });

      const res = await request.run("intake", () =>
        app.request("/api/cases", {
          method: "POST",
          // The clerk's session (opened at the same node's database) travels as a browser sends it.
          headers: { "content-type": "application/json", cookie: node.cookie },
          body: JSON.stringify({ itemCode: immediate.code, applicant, materials: required(immediate) }),
        }),
      );
      expect(res.status).toBe(201);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({
        caseNo: "TEST01-20261123-0001",
        kind: "immediate",
        state: "accepted",
        deadline: { instant: "2026-11-23T09:30:00.000Z", date: "2026-11-23" },
        atCity: false,
      });
      const receipt = await request.run("receipt", () => app.request(`/api/cases/${body.caseNo}/receipt`, { headers: { cookie: node.cookie } }));
      expect(receipt.status).toBe(200);
      expect(madeByRequest).toEqual([]);
      expect(await sync.status()).toMatchObject({ online: false, pendingEvents: 1, headSeq: 1, ackedSeq: 0 });
    } finally {
      await sync.stop();
      pushSpy.mockRestore();
    }
  });

  it("keeps its cases across a restart and does not seed twice", async () => {
    const res = await node.post("/api/cases", { itemCode: promised.code, applicant, materials: required(promised) });
    const dir = node.dir;
    await node.close({ keepData: true });
    node = await startTestNode({ dir });
    expect(node.store.seeded).toBe(false);
    const view = await node.json(`/api/cases/${res.body.caseNo}`);
    expect(view.status).toBe(200);
    const items = await node.json("/api/catalog/items?pageSize=1");
    expect(items.body.total).toBe(seedItems.length);
  });
});

describe("case lists", () => {
  it("filters by state and by light, judged at the injected clock", async () => {
    const a = await node.post("/api/cases", { itemCode: immediate.code, applicant, materials: required(immediate) });
    const b = await node.post("/api/cases", { itemCode: promised.code, applicant: { ...applicant, idNumber: ID.li }, materials: required(promised) });
    await node.post("/api/cases", { itemCode: promised.code, applicant, materials: [] });

    const supplement = await node.json("/api/cases?state=supplement");
    expect(supplement.body.total).toBe(1);
    expect(supplement.body.cases[0].applicant.idNumber).toBe("1101**********002X");

    // Same day: the immediate case is yellow (its last day), the promised one green.
    expect((await node.json("/api/cases?light=yellow")).body.cases.map((c: any) => c.caseNo)).toEqual([a.body.caseNo]);
    expect((await node.json("/api/cases?light=green")).body.cases.map((c: any) => c.caseNo)).toEqual([b.body.caseNo]);
    expect((await node.json("/api/cases?light=red")).body.total).toBe(0);

    // Next morning the immediate case is overdue.
    await node.setClock("2026-11-24T01:00:00.000Z");
    expect((await node.json("/api/cases?light=red")).body.cases.map((c: any) => c.caseNo)).toEqual([a.body.caseNo]);
    expect((await node.json("/api/cases?state=accepted&light=green")).body.cases.map((c: any) => c.caseNo)).toEqual([b.body.caseNo]);
  });
});
