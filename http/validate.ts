/** zod validation at the route edge, with one hook that renders every failure the same way. */
import type { Context, MiddlewareHandler, ValidationTargets } from "hono";
import { validator } from "hono/validator";
import { z } from "zod";
import { isLineText, textProblem } from "../domain/text.js";
import { AppError } from "./errors.js";

// Messages zod writes itself (a wrong type, a missing field, a list too long) reach people: in
// plain Chinese like ours. What is not mapped here falls back to zod's own Chinese locale.
const TYPE_NAMES: Record<string, string> = { string: "文本", number: "数字", int: "整数", boolean: "是或否", array: "列表", object: "对象", date: "日期" };
const SIZE_UNITS: Record<string, string> = { array: "项", set: "项", string: "个字符", file: "字节" };
z.config(z.locales.zhCN());
z.config({
  customError: (issue) => {
    switch (issue.code) {
      case "invalid_type":
        return issue.input === undefined ? "缺少此项" : `类型不正确，应为${TYPE_NAMES[issue.expected] ?? issue.expected}`;
      case "unrecognized_keys":
        return `不认识的字段：${issue.keys.join("、")}`;
      case "too_big":
        return SIZE_UNITS[issue.origin] ? `最多 ${String(issue.maximum)} ${SIZE_UNITS[issue.origin]}` : `不能大于 ${String(issue.maximum)}`;
      case "too_small":
        return SIZE_UNITS[issue.origin] ? `至少 ${String(issue.minimum)} ${SIZE_UNITS[issue.origin]}` : `不能小于 ${String(issue.minimum)}`;
      case "invalid_value":
        return `应为 ${issue.values.map(String).join("、")} 之一`;
      default:
        return undefined;
    }
  },
});

/** How deep and how large a request's JSON may be before any schema looks at it. */
const MAX_JSON_DEPTH = 32;
const MAX_JSON_VALUES = 20_000;

/**
 * The first string (value or member name) in a request's data that is not acceptable text, or a
 * structure too deep or too large, as `{ field, message }`. Iterative: the input may be hostile.
 */
export function requestTextProblem(value: unknown): { field: string; message: string } | null {
  const stack: { v: unknown; path: string[] }[] = [{ v: value, path: [] }];
  let seen = 0;
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (++seen > MAX_JSON_VALUES) return { field: path.join(".") || "body", message: "请求内容过多" };
    const field = path.join(".") || "body";
    if (typeof v === "string") {
      const bad = textProblem(v);
      if (bad) return { field, message: bad };
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) return { field, message: "数值超出范围" };
    } else if (v !== null && typeof v === "object") {
      if (path.length >= MAX_JSON_DEPTH) return { field, message: `嵌套超过 ${MAX_JSON_DEPTH} 层` };
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        const bad = textProblem(k, false);
        if (bad) return { field, message: `字段名${bad}` };
        stack.push({ v: child, path: [...path, k] });
      }
    }
  }
  return null;
}

/**
 * What people call a request's fields (`{ login: "登录名" }`): given, a problem's `detail` names the
 * field so (`登录名：…`) instead of by its member name. `field`/`errors[].field` stay member names.
 */
export type FieldLabels = Readonly<Record<string, string>>;

/** The `detail` of a validation problem about one field. */
function fieldDetail(field: string, message: string, labels?: FieldLabels): string {
  if (!labels) return `字段 ${field} 不合法：${message}`;
  return `${labels[field] ?? (field === "json" || field === "body" || field === "query" || field === "param" ? "请求内容" : field)}：${message}`;
}

/** Refuses text that cannot travel unchanged, before a schema sees it (400 naming the field). */
function refuseBadText(value: unknown, labels?: FieldLabels): void {
  const bad = requestTextProblem(value);
  if (bad) throw new AppError("validation_failed", fieldDetail(bad.field, bad.message, labels), { field: bad.field, errors: [{ field: bad.field, message: bad.message }] });
}

/** A whole number written in plain digits: no sign, hex, exponent, fraction or spaces (a year, a page, a seq). */
export function digits(label: string, min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,15}$/, `${label}应为不带符号的十进制整数`)
    .transform(Number)
    .pipe(z.number().min(min, `${label}不能小于 ${min}`).max(max, `${label}不能大于 ${max}`));
}

/** Single-line text (a name, a code): no line breaks or other control characters. */
export function line(message = "不能包含换行或控制字符") {
  return z.string().refine(isLineText, message);
}

/** A problem listing every invalid field (`errors[].field` is a dotted path). */
export function validationError(issues: readonly z.core.$ZodIssue[], target: keyof ValidationTargets, labels?: FieldLabels): AppError {
  return fieldsError(issues.map((i) => ({ field: i.path.map(String).join(".") || target, message: i.message })), labels);
}

/** A 400 `validation_failed` for fields found invalid (at least one), the first named in `detail`. */
export function fieldsError(errors: readonly { field: string; message: string }[], labels?: FieldLabels): AppError {
  const first = errors[0]!;
  return new AppError("validation_failed", fieldDetail(first.field, first.message, labels), { field: first.field, errors });
}

/** Validates a request part with a zod schema; a failure is a 400 problem and the handler never runs. */
export function zv<T extends keyof ValidationTargets, S extends z.ZodType>(target: T, schema: S, labels?: FieldLabels) {
  return validator(target, async (value: unknown, _c: Context) => {
    refuseBadText(value, labels);
    const parsed = await schema.safeParseAsync(value);
    if (!parsed.success) throw validationError(parsed.error.issues, target, labels);
    return parsed.data as z.output<S>;
  }) as MiddlewareHandler<any, string, { in: { [K in T]: z.input<S> }; out: { [K in T]: z.output<S> } }>;
}

/** Validates a JSON body; a request without a JSON content type is a 400 naming the body. */
export function jsonBody<S extends z.ZodType>(schema: S, labels?: FieldLabels) {
  return validator("json", async (value: unknown, c: Context) => {
    if (!/^application\/([\w.-]+\+)?json/i.test(c.req.header("content-type") ?? "")) {
      throw new AppError("bad_request", "请求体必须是 JSON（Content-Type: application/json）", { field: "body" });
    }
    refuseBadText(value, labels);
    const parsed = await schema.safeParseAsync(value);
    if (!parsed.success) throw validationError(parsed.error.issues, "json", labels);
    return parsed.data as z.output<S>;
  }) as MiddlewareHandler<any, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }>;
}
