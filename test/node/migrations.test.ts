/** Data migrations do to a database already in service what the code now expects of it. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_DIR, openNodeDatabase } from "../../edge-node/database.js";

describe("0007_revocation_feed", () => {
  it("puts revocations made before the feed existed into it, so nodes past their first pull hear of them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tongban-migration-"));
    const store = await openNodeDatabase(dir);
    try {
      // A database in service: two revocations recorded before the feed carried them.
      await store.client.execute("delete from changes");
      await store.client.execute(
        "insert into approval_revocations (approval_id, reason, revoked_at, revoked_by) values ('a-1', '虚假材料', '2026-11-20T01:00:00.000Z', 'admin'), ('d-2', '授权误发', '2026-11-21T01:00:00.000Z', 'admin')",
      );
      await store.client.executeMultiple(readFileSync(join(MIGRATIONS_DIR, "0007_revocation_feed.sql"), "utf8"));
      const rows = await store.client.execute("select kind, key, node, at from changes order by seq");
      expect(rows.rows.map((r) => ({ ...r }))).toEqual([
        { kind: "revocation", key: "a-1", node: null, at: "2026-11-20T01:00:00.000Z" },
        { kind: "revocation", key: "d-2", node: null, at: "2026-11-21T01:00:00.000Z" },
      ]);
    } finally {
      store.client.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
