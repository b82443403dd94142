import { describe, it, expect } from "vitest";
import { seedDepartments, seedItems } from "../../schema/seed/catalog.js";
import { ITEM_CATEGORIES, ITEM_LEVELS, isValidBasicCode, isValidCreditCode, parseItemCode } from "../../domain/codes.js";

const HOURS_PER_DAY = 8;
const inHours = (l: { value: number; unit: "day" | "hour" }) => (l.unit === "day" ? l.value * HOURS_PER_DAY : l.value);
const deptByCode = new Map(seedDepartments.map((d) => [d.code, d]));

describe("seed catalog: departments", () => {
  it("has at least 8 departments with unique codes and credit codes", () => {
    expect(seedDepartments.length).toBeGreaterThanOrEqual(8);
    expect(new Set(seedDepartments.map((d) => d.code)).size).toBe(seedDepartments.length);
    expect(new Set(seedDepartments.map((d) => d.creditCode)).size).toBe(seedDepartments.length);
  });

  it("uses short uppercase codes and valid 统一社会信用代码 in 泉州 (350500)", () => {
    for (const d of seedDepartments) {
      expect(d.code, d.name).toMatch(/^[A-Z][A-Z-]{1,9}$/);
      expect(isValidCreditCode(d.creditCode), `${d.name} ${d.creditCode}`).toBe(true);
      expect(d.creditCode.slice(2, 8), d.name).toBe("350500");
      expect(d.name.length).toBeGreaterThan(0);
    }
  });
});

describe("seed catalog: items", () => {
  it("has at least 40 items with unique codes", () => {
    expect(seedItems.length).toBeGreaterThanOrEqual(40);
    expect(new Set(seedItems.map((i) => i.code)).size).toBe(seedItems.length);
  });

  it("builds every 实施编码 from the department credit code, level and basic code", () => {
    for (const item of seedItems) {
      const parsed = parseItemCode(item.code);
      expect(parsed, `${item.name} ${item.code}`).not.toBeNull();
      const dept = deptByCode.get(item.departmentCode);
      expect(dept, `${item.name}: unknown department ${item.departmentCode}`).toBeDefined();
      expect(parsed!.creditCode, item.name).toBe(dept!.creditCode);
      expect(parsed!.level, item.name).toBe(item.level);
      expect(String(item.level) in ITEM_LEVELS, item.name).toBe(true);
      expect(parsed!.basicCode, item.name).toBe(item.basicCode);
      expect(isValidBasicCode(item.basicCode), item.name).toBe(true);
      expect(item.category, item.name).toBe(ITEM_CATEGORIES[item.basicCode.slice(0, 2)]);
      expect(parsed!.category, item.name).toBe(item.category);
    }
  });

  it("has well-formed guides: materials, procedure, legal basis, conditions, fees", () => {
    for (const item of seedItems) {
      expect(item.materials.length, item.name).toBeGreaterThanOrEqual(2);
      expect(item.materials.length, item.name).toBeLessThanOrEqual(7);
      const ids = item.materials.map((m) => m.id);
      expect(new Set(ids).size, `${item.name}: duplicate material id`).toBe(ids.length);
      for (const m of item.materials) {
        expect(m.id, item.name).toMatch(/^[a-z0-9-]+$/);
        expect(Number.isInteger(m.copies) && m.copies >= 1, `${item.name}/${m.id}`).toBe(true);
        if (m.deferrable) expect(m.required, `${item.name}/${m.id}: deferrable must be required`).toBe(true);
        if (m.deferrable) expect(m.name, `${item.name}/${m.id}: identity document is never deferrable`).not.toMatch(/身份证/);
      }
      expect(item.procedure.length, item.name).toBeGreaterThanOrEqual(3);
      expect(item.procedure.length, item.name).toBeLessThanOrEqual(6);
      expect(item.legalBasis.length, item.name).toBeGreaterThanOrEqual(1);
      expect(item.legalBasis.length, item.name).toBeLessThanOrEqual(3);
      expect(item.conditions.length, item.name).toBeGreaterThanOrEqual(1);
      expect(item.conditions.length, item.name).toBeLessThanOrEqual(4);
      for (const f of item.fees) expect(f.amount, `${item.name}/${f.name}`).toMatch(/^\d+\.\d{2}$/);
      expect(item.onlineDepth, item.name).toBeGreaterThanOrEqual(1);
      expect(item.onlineDepth, item.name).toBeLessThanOrEqual(4);
      expect(item.consultPhone, item.name).toMatch(/^0595-2\d{7}$/);
      expect(item.places.length, item.name).toBeGreaterThanOrEqual(1);
    }
  });

  it("promises a limit strictly shorter than the statutory one", () => {
    for (const item of seedItems) {
      expect(item.statutoryLimit.value, item.name).toBeGreaterThan(0);
      expect(item.promisedLimit.value, item.name).toBeGreaterThan(0);
      expect(inHours(item.promisedLimit), item.name).toBeLessThan(inHours(item.statutoryLimit));
    }
  });

  it("lists other, existing departments for joint items and none for the rest", () => {
    for (const item of seedItems) {
      if (item.kind === "joint") {
        expect(item.jointDepartments.length, item.name).toBeGreaterThanOrEqual(1);
        expect(new Set(item.jointDepartments).size, item.name).toBe(item.jointDepartments.length);
        for (const code of item.jointDepartments) {
          expect(deptByCode.has(code), `${item.name}: unknown joint department ${code}`).toBe(true);
          expect(code, item.name).not.toBe(item.departmentCode);
        }
      } else {
        expect(item.jointDepartments, item.name).toEqual([]);
      }
    }
  });

  it("covers every item kind", () => {
    const kinds = new Set(seedItems.map((i) => i.kind));
    for (const k of ["immediate", "promised", "joint", "escalated", "special"] as const) expect(kinds.has(k), k).toBe(true);
  });

  it("offers at least 15 items at township nodes, township-level items only there", () => {
    const township = seedItems.filter((i) => i.places.includes("township"));
    expect(township.length).toBeGreaterThanOrEqual(15);
    expect(township.filter((i) => i.kind === "immediate").length).toBeGreaterThanOrEqual(8);
    for (const item of seedItems.filter((i) => i.level === 5)) expect(item.places, item.name).toEqual(["township"]);
  });
});
