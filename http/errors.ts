/**
 * One error class with a closed set of codes, rendered as RFC 9457 `application/problem+json`.
 * The core returns results; only the HTTP edge throws, and one `onError` renders.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { DomainError } from "../domain/lifecycle.js";
import { ACTION_LABELS, CASE_KIND_LABELS, CASE_STATE_LABELS, ROLE_LABELS } from "../domain/lifecycle.js";

export const ERROR_CODES = {
  bad_request: { status: 400, title: "请求格式错误" },
  validation_failed: { status: 400, title: "请求参数不合法" },
  unknown_materials: { status: 400, title: "材料编号不属于该事项" },
  invalid_command: { status: 400, title: "操作参数不合法" },
  unsupported_protocol: { status: 400, title: "同步协议版本不受支持" },
  invalid_batch: { status: 400, title: "同步批次不合法" },
  stale_message: { status: 400, title: "同步请求已过期或节点时钟偏差过大" },
  unauthorized: { status: 401, title: "未认证" },
  unknown_node: { status: 401, title: "节点未登记" },
  bad_signature: { status: 401, title: "签名无效" },
  node_revoked: { status: 403, title: "节点已被撤销" },
  node_mismatch: { status: 403, title: "签名节点与批次节点不一致" },
  forbidden: { status: 403, title: "无权执行该操作" },
  password_change_required: { status: 403, title: "请先修改密码" },
  too_many_attempts: { status: 429, title: "尝试次数过多" },
  forbidden_role: { status: 403, title: "当前角色无权执行该操作" },
  not_owner: { status: 403, title: "该环节不归本窗口办理" },
  cross_site: { status: 403, title: "拒绝跨站请求" },
  not_found: { status: 404, title: "资源不存在" },
  item_not_found: { status: 404, title: "事项不存在" },
  case_not_found: { status: 404, title: "办件不存在" },
  invalid_state: { status: 409, title: "当前状态下不能执行该操作" },
  conflict: { status: 409, title: "与现有数据冲突" },
  unverified_history: { status: 409, title: "办理记录未通过核验" },
  replayed_batch: { status: 409, title: "重放的同步批次" },
  sync_gap: { status: 409, title: "事件序号不连续" },
  payload_too_large: { status: 413, title: "请求体过大" },
  unsupported_media_type: { status: 415, title: "不支持的请求内容类型" },
  misdirected_request: { status: 421, title: "主机名不属于本服务" },
  internal: { status: 500, title: "服务器内部错误" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The only error thrown at the HTTP edge; `extra` members are added to the problem body. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(detail);
    this.name = "AppError";
  }

  get status(): ContentfulStatusCode {
    return ERROR_CODES[this.code].status;
  }

  /** The problem+json body. */
  toProblem(instance?: string): Record<string, unknown> {
    return {
      type: `https://tongban.example.cn/problems/${this.code.replaceAll("_", "-")}`,
      title: ERROR_CODES[this.code].title,
      status: this.status,
      detail: this.detail,
      code: this.code,
      ...(instance ? { instance } : {}),
      ...this.extra,
    };
  }
}

/** Renders a problem response. */
export function problemResponse(c: Context, err: AppError): Response {
  return c.body(JSON.stringify(err.toProblem(new URL(c.req.url).pathname)), err.status, {
    "content-type": "application/problem+json; charset=utf-8",
  });
}

/** The one `onError` of every app: AppErrors as they are, anything else as a 500 that leaks nothing. */
export function onError(err: Error, c: Context): Response {
  if (err instanceof AppError) return problemResponse(c, err);
  if (err instanceof HTTPException && err.status < 500) {
    const detail = /malformed json/i.test(err.message) ? "请求体不是合法的 JSON" : err.message || "请求无效";
    return problemResponse(c, new AppError(err.status === 401 ? "unauthorized" : "bad_request", detail, { field: "body" }));
  }
  console.error("unhandled error", c.req.method, c.req.path, err);
  return problemResponse(c, new AppError("internal", "服务器内部错误，请稍后再试"));
}

/** 404 for unknown routes, in the same shape. */
export function notFound(c: Context): Response {
  return problemResponse(c, new AppError("not_found", `没有这个地址：${c.req.method} ${c.req.path}`));
}

/** Maps a domain error to the AppError the edge throws. */
export function fromDomain(e: DomainError | { code: "not_found"; what: "case" | "item"; id: string }): AppError {
  switch (e.code) {
    case "not_found":
      return e.what === "case"
        ? new AppError("case_not_found", `办件 ${e.id} 不存在`, { caseNo: e.id })
        : new AppError("item_not_found", `事项 ${e.id} 不存在`, { itemCode: e.id });
    case "invalid_state":
      return new AppError(
        "invalid_state",
        `办件当前状态为“${CASE_STATE_LABELS[e.state]}”（${e.state}，${CASE_KIND_LABELS[e.kind]}），不能执行“${ACTION_LABELS[e.action]}”（${e.action}）`,
        { state: e.state, kind: e.kind, action: e.action, allowedIn: e.allowedIn },
      );
    case "forbidden_role":
      return new AppError("forbidden_role", `${ROLE_LABELS[e.role]}不能执行“${ACTION_LABELS[e.action]}”`, {
        role: e.role,
        action: e.action,
        allowedRoles: e.allowedRoles,
      });
    case "unknown_materials":
      return new AppError("unknown_materials", `以下材料编号不属于该事项：${e.ids.join("、")}`, { field: "materials", ids: e.ids });
    case "invalid_command":
      return new AppError("invalid_command", e.message, { field: e.field });
    case "not_owner":
      return new AppError("not_owner", `办件由 ${e.caseOrigin} 受理，${e.actorOrigin} 不能执行“${ACTION_LABELS[e.action]}”（受理和送达归受理窗口，审查归部门）`, {
        caseOrigin: e.caseOrigin,
        origin: e.actorOrigin,
        action: e.action,
      });
  }
}
