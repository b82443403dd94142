/** The node's in-memory item and calendar cache: kept until invalidated, never remembers an unknown code. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { calendarDays, serviceItems } from "../../schema/tables.js";
import { openNodeDatabase, type NodeDatabase } from "../../edge-node/database.js";
import { CachedReference } from "../../store/reference.js";
import { isWorkingDay } from "../../domain/time.js";

let dir: string;
let store: NodeDatabase;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tongban-reference-"));
  store = await openNodeDatabase(dir);
});

afterAll(() => {
  store.client.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("CachedReference", () => {
  it("serves the item and calendar it read until invalidated", async () => {
    const ref = new CachedReference(store.db);
    const item = seedItems[0]!;
    expect((await ref.item(item.code))!.name).toBe(item.name);
    expect(isWorkingDay(await ref.calendar(), "2026-12-01")).toBe(true);

    await store.db.update(serviceItems).set({ name: "改名后的事项" }).where(eq(serviceItems.code, item.code));
    await store.db.insert(calendarDays).values({ date: "2026-12-01", kind: "holiday", name: "测试", updatedAt: new Date().toISOString() });
    expect((await ref.item(item.code))!.name).toBe(item.name);
    expect(isWorkingDay(await ref.calendar(), "2026-12-01")).toBe(true);

    ref.invalidate();
    expect((await ref.item(item.code))!.name).toBe("改名后的事项");
    expect(isWorkingDay(await ref.calendar(), "2026-12-01")).toBe(false);
  });

  it("does not remember an unknown code: the item is found once it exists", async () => {
    const ref = new CachedReference(store.db);
    expect(await ref.item("NOPE")).toBeNull();
    const [row] = await store.db.select().from(serviceItems).limit(1);
    await store.db.insert(serviceItems).values({ ...row!, code: "NOPE", name: "后来登记的事项" });
    expect((await ref.item("NOPE"))!.name).toBe("后来登记的事项");
  });
});
