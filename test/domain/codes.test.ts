/**
 * Identifier rules (GB 11643 ID numbers, GB 32100 credit codes, item codes), case numbers and
 * query codes. Check characters are recomputed here from the standards' definitions
 * (weights 2^(17-i) mod 11 and 3^i mod 31), not with the functions under test.
 */
import { describe, it, expect } from "vitest";
import {
  creditCodeCheckChar,
  idNumberCheckChar,
  isValidBasicCode,
  isValidCreditCode,
  isValidIdNumber,
  maskIdNumber,
  maskPhone,
  parseItemCode,
} from "../../domain/codes.js";
import { CASE_NO_PATTERN, caseNoDayPrefix, formatCaseNo, newQueryCode, queryCodeFrom } from "../../domain/case-number.js";

// ---- independent reference implementations ----------------------------------------------------

/** GB 11643-1999: W_i = 2^(17-i) mod 11 (i = 0 for the leftmost digit); check = (12 - Σ mod 11) mod 11, 10 → X. */
function refIdCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    let w = 1;
    for (let k = 0; k < 17 - i; k++) w = (w * 2) % 11;
    sum += Number(first17[i]) * w;
  }
  const c = (12 - (sum % 11)) % 11;
  return c === 10 ? "X" : String(c);
}

/** GB 32100-2015: 31-character alphabet without I, O, Z, S, V; W_i = 3^i mod 31; check = 31 - Σ mod 31 (31 → 0). */
const GB32100 = "0123456789ABCDEFGHJKLMNPQRTUWXY";
function refCreditCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    let w = 1;
    for (let k = 0; k < i; k++) w = (w * 3) % 31;
    sum += GB32100.indexOf(first17[i]!) * w;
  }
  return GB32100[(31 - (sum % 31)) % 31]!;
}

/** A small deterministic generator so the "many values" tests are reproducible. */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

// ---- 公民身份号码 --------------------------------------------------------------------------------

describe("isValidIdNumber", () => {
  it("accepts the standard's example 11010519491231002X (check computed by hand: Σ = 167, 167 mod 11 = 2 → X)", () => {
    expect(refIdCheck("11010519491231002")).toBe("X");
    expect(isValidIdNumber("11010519491231002X")).toBe(true);
  });

  it("accepts numbers built with the reference check character", () => {
    const prefixes = ["35050219900307123", "44030419851015211", "35052119991231000", "11010120000229001", "35058320260101555"];
    for (const p of prefixes) {
      const id = p + refIdCheck(p);
      expect(isValidIdNumber(id), id).toBe(true);
      expect(idNumberCheckChar(p), p).toBe(refIdCheck(p));
    }
  });

  it("agrees with the reference check character on many generated numbers", () => {
    const next = lcg(11643);
    for (let n = 0; n < 500; n++) {
      let p = "";
      for (let i = 0; i < 17; i++) p += String(next() % 10);
      expect(idNumberCheckChar(p), p).toBe(refIdCheck(p));
    }
  });

  it("rejects a wrong check character", () => {
    expect(isValidIdNumber("110105194912310020")).toBe(false);
    expect(isValidIdNumber("110105194912310021")).toBe(false);
    const p = "35050219900307123";
    const good = refIdCheck(p);
    for (const c of "0123456789X") if (c !== good) expect(isValidIdNumber(p + c), p + c).toBe(false);
  });

  it("rejects impossible birth dates even with a correct check character", () => {
    for (const p of ["11010519990230001", "11010520260229001", "11010519991301001", "11010519990100001", "11010518991231001"]) {
      // 1999-02-30, 2026-02-29 (not leap), month 13, day 00, year 1899.
      expect(isValidIdNumber(p + refIdCheck(p)), p).toBe(false);
    }
    const leap = "11010520240229001";
    expect(isValidIdNumber(leap + refIdCheck(leap))).toBe(true);
  });

  it("rejects wrong lengths and characters", () => {
    expect(isValidIdNumber("")).toBe(false);
    expect(isValidIdNumber("110105491231002")).toBe(false); // old 15-digit form
    expect(isValidIdNumber("11010519491231002")).toBe(false); // 17
    expect(isValidIdNumber("11010519491231002X0")).toBe(false); // 19
    expect(isValidIdNumber(" 11010519491231002X")).toBe(false);
    expect(isValidIdNumber("1101051949123100AX")).toBe(false);
  });

  it("expects an upper-case X (the HTTP layer upper-cases)", () => {
    expect(isValidIdNumber("11010519491231002x")).toBe(false);
  });
});

describe("masking", () => {
  it("masks all but the first and last four characters of an ID number", () => {
    expect(maskIdNumber("11010519491231002X")).toBe("1101**********002X");
    expect(maskIdNumber("11010519491231002X")).toHaveLength(18);
    expect(maskIdNumber("1234567")).toBe("*******");
  });

  it("masks the middle of a phone number", () => {
    expect(maskPhone("13812345678")).toBe("138****5678");
  });
});

// ---- 统一社会信用代码 ------------------------------------------------------------------------------

describe("isValidCreditCode", () => {
  it("accepts the published example 91350100M000100Y43 (check computed by hand: Σ = 1640, 1640 mod 31 = 28 → 3)", () => {
    // values 9,1,3,5,0,1,0,0,M=21,0,0,0,1,0,0,Y=30,4 × weights 1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28
    // = 9+3+27+135+26+420+8+900+112 = 1640.
    expect(refCreditCheck("91350100M000100Y4")).toBe("3");
    expect(creditCodeCheckChar("91350100M000100Y4")).toBe("3");
    expect(isValidCreditCode("91350100M000100Y43")).toBe(true);
  });

  it("accepts generated codes and agrees with the reference check character", () => {
    const next = lcg(32100);
    for (let n = 0; n < 300; n++) {
      let p = "";
      for (let i = 0; i < 17; i++) p += GB32100[next() % 31];
      const code = p + refCreditCheck(p);
      expect(creditCodeCheckChar(p), p).toBe(refCreditCheck(p));
      expect(isValidCreditCode(code), code).toBe(true);
    }
  });

  it("rejects a wrong check character", () => {
    expect(isValidCreditCode("91350100M000100Y44")).toBe(false);
    expect(isValidCreditCode("91350100M000100Y40")).toBe(false);
    // A transposition in the body is caught too.
    expect(isValidCreditCode("93150100M000100Y43")).toBe(false);
  });

  it("rejects letters outside the GB 32100 alphabet, lower case and wrong lengths", () => {
    for (const bad of ["I", "O", "Z", "S", "V"]) {
      const p = `91350100${bad}000100Y4`;
      expect(isValidCreditCode(p + "3"), p).toBe(false);
      expect(creditCodeCheckChar(p)).toBe("?");
    }
    expect(isValidCreditCode("91350100m000100y43")).toBe(false);
    expect(isValidCreditCode("91350100M000100Y4")).toBe(false);
    expect(isValidCreditCode("91350100M000100Y430")).toBe(false);
    expect(isValidCreditCode("")).toBe(false);
  });
});

// ---- 事项编码 -------------------------------------------------------------------------------------

describe("item codes", () => {
  const credit = "91350100M000100Y43";
  const basic = "010000100001"; // 01 行政许可 + 主项 00001 + 子项 000 + 业务办理项 01

  it("validates 12-digit basic codes", () => {
    expect(isValidBasicCode(basic)).toBe(true);
    expect(isValidBasicCode("200123400102")).toBe(true);
    expect(isValidBasicCode("010000000001")).toBe(false); // 主项 00000
    expect(isValidBasicCode("110000100001")).toBe(false); // category 11
    expect(isValidBasicCode("00000100001")).toBe(false); // 11 digits
    expect(isValidBasicCode("01000010000A")).toBe(false);
  });

  it("parses a valid 31-character implementation code", () => {
    const code = credit + "3" + basic;
    expect(code).toHaveLength(31);
    expect(parseItemCode(code)).toEqual({ creditCode: credit, level: 3, basicCode: basic, category: "行政许可" });
    expect(parseItemCode(credit + "5" + "200123400102")).toEqual({
      creditCode: credit,
      level: 5,
      basicCode: "200123400102",
      category: "公共服务",
    });
  });

  it("rejects wrong lengths", () => {
    expect(parseItemCode(credit + "3" + basic.slice(1))).toBeNull(); // 30
    expect(parseItemCode(credit + "3" + basic + "0")).toBeNull(); // 32
    expect(parseItemCode("")).toBeNull();
  });

  it("rejects a bad level digit", () => {
    for (const level of ["0", "7", "9", "A"]) expect(parseItemCode(credit + level + basic), level).toBeNull();
    for (const level of ["1", "2", "3", "4", "5", "6"]) expect(parseItemCode(credit + level + basic)?.level, level).toBe(Number(level));
  });

  it("rejects a bad category or main item", () => {
    expect(parseItemCode(credit + "3" + "110000100001")).toBeNull();
    expect(parseItemCode(credit + "3" + "990000100001")).toBeNull();
    expect(parseItemCode(credit + "3" + "010000000001")).toBeNull();
  });

  it("rejects an invalid credit code prefix", () => {
    expect(parseItemCode("91350100M000100Y44" + "3" + basic)).toBeNull();
  });
});

// ---- 办件编号 and 查询码 ----------------------------------------------------------------------------

describe("formatCaseNo", () => {
  it("uses the Beijing date and pads the sequence to four digits", () => {
    // 2026-11-21T17:00:00Z is 2026-11-22 01:00 in Beijing.
    expect(formatCaseNo("QZ01", new Date("2026-11-21T17:00:00Z"), 7)).toBe("QZ01-20261122-0007");
    // 15:59:59Z is still 23:59:59 of the 21st in Beijing.
    expect(formatCaseNo("QZ01", new Date("2026-11-21T15:59:59Z"), 1)).toBe("QZ01-20261121-0001");
    expect(formatCaseNo("CITY", new Date("2026-12-31T16:00:00Z"), 123)).toBe("CITY-20270101-0123");
  });

  it("lets the sequence grow beyond four digits", () => {
    expect(formatCaseNo("QZ01", new Date("2026-03-09T02:00:00Z"), 12345)).toBe("QZ01-20260309-12345");
  });

  it("matches CASE_NO_PATTERN and shares the day prefix", () => {
    const at = new Date("2026-11-21T17:00:00Z");
    const no = formatCaseNo("QZ01", at, 42);
    expect(no).toMatch(CASE_NO_PATTERN);
    expect(caseNoDayPrefix("QZ01", at)).toBe("QZ01-20261122-");
    expect(no.startsWith(caseNoDayPrefix("QZ01", at))).toBe(true);
    expect("qz01-20261122-0001").not.toMatch(CASE_NO_PATTERN);
    expect("QZ01-2026112-0001").not.toMatch(CASE_NO_PATTERN);
  });
});

describe("query codes", () => {
  it("maps bytes onto the 31-character alphabet in order", () => {
    expect(queryCodeFrom(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]))).toBe("23456789");
    expect(queryCodeFrom(Uint8Array.from([8, 9, 10, 11, 12, 13, 14, 15]))).toBe("ABCDEFGH");
    expect(queryCodeFrom(Uint8Array.from([16, 17, 18, 19, 20, 21, 22, 23]))).toBe("JKMNPQRS");
    expect(queryCodeFrom(Uint8Array.from([24, 25, 26, 27, 28, 29, 30, 31]))).toBe("TUVWXYZ2");
    expect(queryCodeFrom(Uint8Array.from([255, 255, 255, 255, 255, 255, 255, 255]))).toBe("99999999"); // 255 mod 31 = 7
  });

  it("never produces 0, O, 1, I or L", () => {
    const seen = new Set<string>();
    for (let b = 0; b < 256; b++) {
      const code = queryCodeFrom(new Uint8Array(8).fill(b));
      expect(code).toHaveLength(8);
      expect(code).toMatch(/^[^0O1IL]{8}$/);
      seen.add(code[0]!);
    }
    expect(seen.size).toBe(31);
    expect([...seen].join("")).toMatch(/^[2-9A-Z]+$/);
  });

  it("newQueryCode gives 8 characters of that alphabet", () => {
    for (let i = 0; i < 50; i++) expect(newQueryCode()).toMatch(/^[2-9A-HJKMNP-Z]{8}$/);
  });
});
