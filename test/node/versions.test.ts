/** Two writers that read the same case row: only one may commit (no silent lost update, on D1 or libSQL). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { applyEvent } from "../../domain/lifecycle.js";
import { openNodeDatabase, type NodeDatabase } from "../../edge-node/database.js";
import { isWriteConflict } from "../../store/db.js";
import { getCase, intake, runCommand } from "../../store/cases.js";
import { writeCaseStatements } from "../../store/sync.js";
import { ID } from "./helpers.js";

const item = seedItems.find((i) => i.kind === "promised")!;
let dir: string;
let store: NodeDatabase;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tongban-versions-"));
  store = await openNodeDatabase(dir);
});
afterEach(() => {
  store.client.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("case row versions", () => {
  it("bumps the version with every write", async () => {
    const at = new Date("2026-11-23T02:00:00Z");
    const opened = await intake(store.db, { origin: "V1", actor: "t", channel: "window", itemCode: item.code, applicant: { name: "甲", idNumber: ID.zhang, phone: "13800138000" }, materials: item.materials.map((m) => m.id), at });
    expect(opened.ok).toBe(true);
    const caseNo = opened.ok ? opened.case.caseNo : "";
    expect((await getCase(store.db, caseNo))!.version).toBe(1);
    await runCommand(store.db, caseNo, { origin: "V1", actor: "t", role: "clerk", at, command: { action: "forward" } });
    expect((await getCase(store.db, caseNo))!.version).toBe(2);
  });

  it("refuses a write based on a row another writer has changed since, and keeps the newer row", async () => {
    const at = new Date("2026-11-23T02:00:00Z");
    const opened = await intake(store.db, { origin: "V1", actor: "t", channel: "window", itemCode: item.code, applicant: { name: "甲", idNumber: ID.zhang, phone: "13800138000" }, materials: item.materials.map((m) => m.id), at });
    const caseNo = opened.ok ? opened.case.caseNo : "";
    const stale = (await getCase(store.db, caseNo))!;
    // Writer A forwards the case.
    await runCommand(store.db, caseNo, { origin: "V1", actor: "a", role: "clerk", at, command: { action: "forward" } });
    // Writer B read the row before A wrote and now writes its own change from that stale copy.
    const b = applyEvent(stale, { caseNo, type: "refused", payload: { reason: "过时的判断", at: at.toISOString() } });
    const attempt = store.db.batch(writeCaseStatements(store.db, [{ before: stale, after: b }]) as [never, ...never[]]);
    await expect(attempt).rejects.toSatisfy(isWriteConflict);
    expect((await getCase(store.db, caseNo))!).toMatchObject({ state: "in_review", version: 2 });
  });
});

describe("lights while the clock is stopped", () => {
  it("shows no light during a suspension and lists the case under no light, then resumes", async () => {
    const { caseLight, listCases } = await import("../../store/cases.js");
    const at = new Date("2026-11-23T02:00:00Z");
    const opened = await intake(store.db, { origin: "V1", actor: "t", channel: "window", itemCode: item.code, applicant: { name: "甲", idNumber: ID.zhang, phone: "13800138000" }, materials: item.materials.map((m) => m.id), at });
    const caseNo = opened.ok ? opened.case.caseNo : "";
    await runCommand(store.db, caseNo, { origin: "V1", actor: "t", role: "clerk", at, command: { action: "forward" } });
    await runCommand(store.db, caseNo, { origin: "V1", actor: "d", role: "approver", at, command: { action: "suspend", reason: "专家评审" } });
    // Far past the original deadline, but the clock has been stopped all along.
    const later = new Date("2027-03-01T02:00:00Z");
    const suspended = (await getCase(store.db, caseNo))!;
    expect(caseLight(suspended, later)).toBeNull();
    for (const light of ["green", "yellow", "red"] as const) {
      expect((await listCases(store.db, { light, page: 1, pageSize: 50, now: later })).cases.map((c) => c.caseNo)).not.toContain(caseNo);
    }
    await runCommand(store.db, caseNo, { origin: "V1", actor: "d", role: "approver", at: new Date("2026-11-25T02:00:00Z"), command: { action: "resume" } });
    const resumed = (await getCase(store.db, caseNo))!;
    expect(caseLight(resumed, later)).toBe("red");
  });
});
