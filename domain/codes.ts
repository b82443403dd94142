/**
 * Identifier rules: 公民身份号码 (GB 11643), 统一社会信用代码 (GB 32100) and
 * 政务服务事项编码 (basic code and implementation code, national shape).
 */

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = "10X98765432";

/** The GB 11643 check character for the first 17 digits of an ID number. */
export function idNumberCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

/** Whether an 18-character 公民身份号码 is well formed: digits, a real birth date and the right check character. */
export function isValidIdNumber(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const birth = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || birth.getUTCFullYear() !== y || birth.getUTCMonth() !== m - 1 || birth.getUTCDate() !== d) return false;
  return idNumberCheckChar(id.slice(0, 17)) === id[17];
}

/** Masks an ID number for display anywhere but the case view: `3505**********123X`. */
export function maskIdNumber(id: string): string {
  if (id.length < 8) return "*".repeat(id.length);
  return id.slice(0, 4) + "*".repeat(id.length - 8) + id.slice(-4);
}

/** Masks a phone number: `138****5678`. */
export function maskPhone(phone: string): string {
  return phone.length >= 7 ? phone.slice(0, 3) + "****" + phone.slice(-4) : phone;
}

const CREDIT_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** The GB 32100 check character for the first 17 characters of a 统一社会信用代码. */
export function creditCodeCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) {
    const v = CREDIT_CHARS.indexOf(first17[i]!);
    if (v < 0) return "?";
    sum += v * CREDIT_WEIGHTS[i]!;
  }
  return CREDIT_CHARS[(31 - (sum % 31)) % 31]!;
}

/** Whether an 18-character 统一社会信用代码 uses the GB 32100 alphabet and has the right check character. */
export function isValidCreditCode(code: string): boolean {
  if (code.length !== 18) return false;
  for (const ch of code) if (!CREDIT_CHARS.includes(ch)) return false;
  return creditCodeCheckChar(code.slice(0, 17)) === code[17];
}

/** 事项类型 by the first two digits of a basic code. */
export const ITEM_CATEGORIES: Readonly<Record<string, string>> = {
  "01": "行政许可",
  "02": "行政处罚",
  "03": "行政强制",
  "04": "行政征收",
  "05": "行政给付",
  "06": "行政检查",
  "07": "行政确认",
  "08": "行政奖励",
  "09": "行政裁决",
  "10": "其他行政权力",
  "20": "公共服务",
};

/** 实施层级: the level digit of an implementation code. */
export const ITEM_LEVELS: Readonly<Record<string, string>> = {
  "1": "国家级",
  "2": "省级",
  "3": "市级",
  "4": "县级",
  "5": "乡镇（街道）级",
  "6": "村（社区）级",
};

export interface ParsedItemCode {
  creditCode: string;
  level: number;
  basicCode: string;
  category: string;
}

/**
 * Whether a 12-digit 基本编码 is well formed: 事项类型 (2) + 主项 (5, not 00000) + 子项 (3) + 业务办理项 (2).
 */
export function isValidBasicCode(basic: string): boolean {
  return /^\d{12}$/.test(basic) && basic.slice(0, 2) in ITEM_CATEGORIES && basic.slice(2, 7) !== "00000";
}

/** Parses a 31-character 实施编码 (credit code + level digit + basic code), or null when any part is invalid. */
export function parseItemCode(code: string): ParsedItemCode | null {
  if (code.length !== 31) return null;
  const creditCode = code.slice(0, 18);
  const level = code[18]!;
  const basicCode = code.slice(19);
  if (!isValidCreditCode(creditCode) || !(level in ITEM_LEVELS) || !isValidBasicCode(basicCode)) return null;
  return { creditCode, level: Number(level), basicCode, category: ITEM_CATEGORIES[basicCode.slice(0, 2)]! };
}
