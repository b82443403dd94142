/**
 * What an applicant's details must look like, wherever they enter: the window's intake form, an
 * online filing, or an `opened` event a node pushes to the city (which re-checks them).
 */
import { isValidIdNumber } from "./codes.js";
import { textProblem } from "./text.js";

export const APPLICANT_NAME_MAX = 50;
/** A mobile number (11 digits from 1) or a landline with its area code. */
export const PHONE_PATTERN = /^(1\d{10}|0\d{2,3}-?\d{7,8})$/;

export interface Applicant {
  name: string;
  idNumber: string;
  phone: string;
}

/** Why applicant details are not acceptable (field and Chinese message), or null. */
export function applicantProblem(a: Applicant): { field: keyof Applicant; message: string } | null {
  const name = a.name;
  if (name.trim() !== name || name.length === 0) return { field: "name", message: "姓名不能为空，也不能以空格开头或结尾" };
  if ([...name].length > APPLICANT_NAME_MAX) return { field: "name", message: `姓名不超过${APPLICANT_NAME_MAX}个字符` };
  const bad = textProblem(name, false);
  if (bad) return { field: "name", message: `姓名${bad}` };
  if (!isValidIdNumber(a.idNumber)) return { field: "idNumber", message: "公民身份号码不正确（校验位不符或出生日期无效）" };
  if (!PHONE_PATTERN.test(a.phone)) return { field: "phone", message: "联系电话应为11位手机号或带区号的固定电话" };
  return null;
}
