/**
 * Helpers for the tests of staff accounts, applicants and the access log: signing in at the city
 * with a session cookie, requests as that session, staff made by an administrator, applicants
 * registered from an address, and cases taken at the city hall's window for a given applicant.
 */
import { env } from "cloudflare:test";
import { expect } from "vitest";
import { seedItems } from "../../schema/seed/catalog.js";
import { call, problemBody, staffJson, type FieldError, type ProblemCode } from "./helpers.js";

/** A password that meets the policy (at least 10 characters, letters and digits). */
export const GOOD_PASSWORD = "Chushi-mima-2026";

/** The session cookie a response sets, as `name=value` (the session routes set exactly one). */
export const cookieOf = (res: Response) => res.headers.get("set-cookie")!.split(";")[0]!;

/** Signs in at the city and returns the session cookie (`name=value`); fails loudly otherwise. */
export async function signIn(login: string, password: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await call("/api/session", { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ login, password }) });
  if (res.status !== 200) throw new Error(`sign-in of ${login} failed: ${res.status} ${await res.text()}`);
  return cookieOf(res);
}

/** A request with a session cookie (JSON body when given). */
export function asSession(cookie: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return call(path, {
    method,
    headers: { cookie, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Creates a staff account as an administrator (bearer token); fails loudly unless 201. */
export async function createStaff(body: Record<string, unknown>): Promise<Record<string, unknown>> {
  const res = await staffJson("POST", "/api/admin/accounts", "admin", body);
  if (res.status !== 201) throw new Error(`creating ${String(body.login)} failed: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Signs in with the initial password, chooses `next` and returns the renewed session cookie. */
export async function firstSignIn(login: string, initial: string, next = `${initial}-new1`): Promise<string> {
  const cookie = await signIn(login, initial);
  const res = await asSession(cookie, "POST", "/api/session/password", { current: initial, password: next });
  if (res.status !== 200) throw new Error(`password change of ${login} failed: ${res.status} ${await res.text()}`);
  return cookieOf(res);
}

/** Registers an applicant (from `address` when given); fails loudly unless 201. */
export async function registerApplicant(a: { phone: string; name?: string; idNumber: string; password?: string }, address?: string): Promise<{ id: string; cookie: string }> {
  const res = await call("/api/applicants", {
    method: "POST",
    headers: { "content-type": "application/json", ...(address ? { "cf-connecting-ip": address } : {}) },
    body: JSON.stringify({ name: "申请人", password: GOOD_PASSWORD, ...a }),
  });
  if (res.status !== 201) throw new Error(`registering ${a.phone} failed: ${res.status} ${await res.text()}`);
  const { id } = (await res.json()) as { id: string };
  return { id, cookie: await signIn(a.phone, a.password ?? GOOD_PASSWORD) };
}

/** An immediate item the city hall takes at its window. */
export const cityItem = seedItems.find((i) => i.places.includes("city") && i.kind === "immediate")!;

/** A case taken at the city hall's window (a city clerk's token) for this applicant. */
export async function cityWindowCase(applicant: { name?: string; idNumber: string; phone?: string }): Promise<{ caseNo: string; queryCode: string }> {
  const res = await staffJson("POST", "/api/cases", "clerk", {
    itemCode: cityItem.code,
    applicant: { name: "申请人", phone: "13900000000", ...applicant },
    materials: cityItem.materials.filter((m) => m.required).map((m) => m.id),
  });
  if (res.status !== 201) throw new Error(`intake failed: ${res.status} ${await res.text()}`);
  const { caseNo, queryCode } = (await res.json()) as { caseNo: string; queryCode: string };
  return { caseNo, queryCode };
}

/** A whole 400 of a route whose fields have labels: `detail` is `<label>：<message>` of the first. */
export function labelledProblem(instance: string, label: string, ...errors: [FieldError, ...FieldError[]]): Record<string, unknown> {
  return problemBody("validation_failed", `${label}：${errors[0].message}`, instance, { field: errors[0].field, errors });
}

/** Asserts a problem response whole: status, content type and body. */
export async function expectProblem(res: Response, code: ProblemCode, body: Record<string, unknown>): Promise<void> {
  expect(res.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
  expect({ status: res.status, body: await res.json() }).toEqual({ status: body.status, body });
  expect(body.code).toBe(code);
}

/** Audit entries of one subject, oldest first, as stored. */
export async function auditOf(subject: string): Promise<{ actor: string; action: string; subject: string; detail: string }[]> {
  const { results } = await env.DB.prepare("select actor, action, subject, detail from audit_log where subject = ? order by seq").bind(subject).all<{ actor: string; action: string; subject: string; detail: string }>();
  return results;
}
