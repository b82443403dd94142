/**
 * What counts as text anywhere in Tongban: a value must read the same in a node's case row, in
 * the event log and at the city. SQLite cuts a string at NUL in some paths and UTF-8 has no
 * encoding for a lone surrogate (each driver replaces it differently), so both are refused at the
 * edge, once, before any event is made — never silently rewritten.
 */

/** Why a string is not acceptable text (Chinese), or null. `multiline` allows tab, CR and LF. */
export function textProblem(s: string, multiline = true): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) {
      if (multiline && (c === 0x09 || c === 0x0a || c === 0x0d)) continue;
      return c === 0 ? "包含空字符（NUL）" : "包含控制字符";
    }
    if (c >= 0x7f && c <= 0x9f) return "包含控制字符";
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      return "包含无效的 Unicode 字符（不成对的代理项）";
    }
    if (c >= 0xdc00 && c <= 0xdfff) return "包含无效的 Unicode 字符（不成对的代理项）";
  }
  return null;
}

/** Whether a string is acceptable single-line text (names, codes, phone numbers). */
export const isLineText = (s: string) => textProblem(s, false) === null;
