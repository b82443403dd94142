/** zod validation at the route edge, with one hook that renders every failure the same way. */
import type { Context, MiddlewareHandler, ValidationTargets } from "hono";
import { validator } from "hono/validator";
import type { z } from "zod";
import { AppError } from "./errors.js";

/** A problem listing every invalid field (`errors[].field` is a dotted path). */
export function validationError(issues: readonly z.core.$ZodIssue[], target: keyof ValidationTargets): AppError {
  const errors = issues.map((i) => ({ field: i.path.map(String).join(".") || target, message: i.message }));
  const first = errors[0]!;
  return new AppError("validation_failed", `字段 ${first.field} 不合法：${first.message}`, { field: first.field, errors });
}

/** Validates a request part with a zod schema; a failure is a 400 problem and the handler never runs. */
export function zv<T extends keyof ValidationTargets, S extends z.ZodType>(target: T, schema: S) {
  return validator(target, async (value: unknown, _c: Context) => {
    const parsed = await schema.safeParseAsync(value);
    if (!parsed.success) throw validationError(parsed.error.issues, target);
    return parsed.data as z.output<S>;
  }) as MiddlewareHandler<any, string, { in: { [K in T]: z.input<S> }; out: { [K in T]: z.output<S> } }>;
}

/** Validates a JSON body; a request without a JSON content type is a 400 naming the body. */
export function jsonBody<S extends z.ZodType>(schema: S) {
  return validator("json", async (value: unknown, c: Context) => {
    if (!/^application\/([\w.-]+\+)?json/i.test(c.req.header("content-type") ?? "")) {
      throw new AppError("bad_request", "请求体必须是 JSON（Content-Type: application/json）", { field: "body" });
    }
    const parsed = await schema.safeParseAsync(value);
    if (!parsed.success) throw validationError(parsed.error.issues, "json");
    return parsed.data as z.output<S>;
  }) as MiddlewareHandler<any, string, { in: { json: z.input<S> }; out: { json: z.output<S> } }>;
}
