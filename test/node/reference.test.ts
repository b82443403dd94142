/**
 * The node's in-memory item and calendar cache (kept until invalidated, never remembers an
 * unknown code), and the node's one libSQL connection carrying its per-connection settings.
 */
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

  it("does not keep a row read before an invalidation that landed while it was being read", async () => {
    const ref = new CachedReference(store.db);
    const [row] = await store.db.select().from(serviceItems).limit(1);
    const inFlight = ref.item(row!.code);
    ref.invalidate();
    expect((await inFlight)!.name).toBe(row!.name);
    await store.db.update(serviceItems).set({ name: "拉取后的新名称" }).where(eq(serviceItems.code, row!.code));
    expect((await ref.item(row!.code))!.name).toBe("拉取后的新名称");
  });

  it("does not remember an unknown code: the item is found once it exists", async () => {
    const ref = new CachedReference(store.db);
    expect(await ref.item("NOPE")).toBeNull();
    const [row] = await store.db.select().from(serviceItems).limit(1);
    await store.db.insert(serviceItems).values({ ...row!, code: "NOPE", name: "后来登记的事项" });
    expect((await ref.item("NOPE"))!.name).toBe("后来登记的事项");
  });
});

describe("the node's database connection", () => {
  it("applies its settings to every call, however many run at once", async () => {
    const read = async (pragma: string) => Number(Object.values((await store.client.execute(`PRAGMA ${pragma}`)).rows[0]!)[0]);
    const all = await Promise.all(Array.from({ length: 6 }, (_, i) => read(["wal_autocheckpoint", "busy_timeout", "synchronous"][i % 3]!)));
    // 10,000 pages, 5,000 ms, NORMAL (1): on every connection the client uses.
    expect(all).toEqual([10_000, 5_000, 1, 10_000, 5_000, 1]);
  });
});
