/** Which delegation a node signs under: the newest the city gave it, and none once that one is revoked. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openNodeDatabase, type NodeDatabase } from "../../edge-node/database.js";
import { latestDelegation } from "../../store/approvals.js";
import { delegations, approvalRevocations } from "../../schema/tables.js";

let dir: string;
let store: NodeDatabase;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "tongban-delegations-"));
  store = await openNodeDatabase(dir);
});
afterEach(() => {
  store.client.close();
  rmSync(dir, { recursive: true, force: true });
});

const delegation = (id: string, items: string[], issuedAt: string) => ({ id, node: "HQ01", token: `token-${id}`, items, validFrom: issuedAt, validUntil: "2027-12-31T00:00:00.000Z", issuedAt });

describe("latestDelegation", () => {
  it("is the newest one; revoking it does not bring back an older, wider one", async () => {
    await store.db.insert(delegations).values([delegation("d-1", ["A", "B"], "2026-11-01T00:00:00.000Z"), delegation("d-2", ["A"], "2026-11-10T00:00:00.000Z")]);
    expect((await latestDelegation(store.db, "HQ01"))?.id).toBe("d-2");
    await store.db.insert(approvalRevocations).values({ approvalId: "d-2", reason: "收回授权", revokedAt: "2026-11-20T00:00:00.000Z", revokedBy: "CITY" });
    expect(await latestDelegation(store.db, "HQ01")).toBeNull();
  });
});
