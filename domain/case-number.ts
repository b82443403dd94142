/** 办件编号 and 查询码: unique across nodes without coordination. */
import { localDate } from "./time.js";

/** Origin codes: 2–12 upper-case letters or digits (a node's code, or the city's). */
export const ORIGIN_CODE_PATTERN = /^[A-Z0-9]{2,12}$/;

/** The city's own origin code for events and cases made at the city. */
export const CITY_ORIGIN = "CITY";

/** `<origin>-<yyyymmdd>-<seq>`: the origin prefix keeps numbers from different nodes apart. */
export function formatCaseNo(origin: string, at: Date, daySeq: number): string {
  return `${origin}-${localDate(at).replaceAll("-", "")}-${String(daySeq).padStart(4, "0")}`;
}

/** The prefix shared by an origin's case numbers of one local day. */
export function caseNoDayPrefix(origin: string, at: Date): string {
  return `${origin}-${localDate(at).replaceAll("-", "")}-`;
}

export const CASE_NO_PATTERN = /^[A-Z0-9]{2,12}-\d{8}-\d{4,}$/;

const QUERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/** A query code as issued: 8 characters of the alphabet (no 0/O, 1/I/L). */
export const QUERY_CODE_PATTERN = new RegExp(`^[${QUERY_ALPHABET}]{8}$`);

/** An 8-character query code (about 40 bits) from random bytes; no 0/O, 1/I/L to misread. */
export function queryCodeFrom(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < 8; i++) out += QUERY_ALPHABET[bytes[i]! % QUERY_ALPHABET.length];
  return out;
}

/** A fresh query code from Web Crypto. */
export function newQueryCode(): string {
  return queryCodeFrom(crypto.getRandomValues(new Uint8Array(8)));
}
