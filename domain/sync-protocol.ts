/**
 * The township ⇄ city sync protocol: versioned message schemas shared by both ends.
 * A push or pull request is a compact JWS (EdDSA, `kid` = node code) over one of these payloads.
 */
import { z } from "zod";

/** Bump on any incompatible change to the messages below; the city refuses other versions. */
export const PROTOCOL_VERSION = 1;

/** A push carries at most this many events; the node also keeps a batch under MAX_PUSH_BYTES. */
export const MAX_PUSH_EVENTS = 1000;
export const MAX_PUSH_BYTES = 1_500_000;

/**
 * The request header of the detached envelope nodes sign with: `<protected>..<signature>`, a JWS
 * over the body as sent (RFC 7797, `"b64": false`, `"crit": ["b64"]`).
 */
export const SIGNATURE_HEADER = "tongban-signature";

/** A node whose clock differs from the city's by more than this is flagged. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export const chainedEventSchema = z.object({
  origin: z.string().regex(/^[A-Z0-9]{2,12}$/),
  seq: z.number().int().positive(),
  caseNo: z.string().min(1).max(40),
  type: z.string().min(1).max(40),
  payload: z.record(z.string(), z.unknown()),
  actor: z.string().min(1).max(120),
  occurredAt: z.iso.datetime(),
  prevHash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type WireEvent = z.infer<typeof chainedEventSchema>;

const ORIGIN_RE = /^[A-Z0-9]{2,12}$/;
const HASH_RE = /^[0-9a-f]{64}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/**
 * The same rules as `chainedEventSchema`, checked in one plain loop: a full push carries a
 * thousand events and this runs on every one of them at the city.
 */
function checkEvents(events: unknown[], ctx: z.RefinementCtx): void {
  const bad = (i: number, field: string, message: string) => ctx.addIssue({ code: "custom", path: [i, field], message });
  for (let i = 0; i < events.length; i++) {
    const e = events[i] as Record<string, unknown> | null;
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      ctx.addIssue({ code: "custom", path: [i], message: "事件应为对象" });
      continue;
    }
    if (typeof e.origin !== "string" || !ORIGIN_RE.test(e.origin)) bad(i, "origin", "来源编码应为 2–12 位大写字母或数字");
    if (typeof e.seq !== "number" || !Number.isInteger(e.seq) || e.seq < 1) bad(i, "seq", "序号应为正整数");
    if (typeof e.caseNo !== "string" || e.caseNo.length < 1 || e.caseNo.length > 40) bad(i, "caseNo", "办件编号不合法");
    if (typeof e.type !== "string" || e.type.length < 1 || e.type.length > 40) bad(i, "type", "事件类型不合法");
    if (typeof e.payload !== "object" || e.payload === null || Array.isArray(e.payload)) bad(i, "payload", "事件内容应为对象");
    if (typeof e.actor !== "string" || e.actor.length < 1 || e.actor.length > 120) bad(i, "actor", "操作人不合法");
    if (typeof e.occurredAt !== "string" || !ISO_RE.test(e.occurredAt)) bad(i, "occurredAt", "时间应为 UTC ISO 8601");
    if (typeof e.prevHash !== "string" || !HASH_RE.test(e.prevHash)) bad(i, "prevHash", "应为 64 位十六进制哈希");
    if (typeof e.hash !== "string" || !HASH_RE.test(e.hash)) bad(i, "hash", "应为 64 位十六进制哈希");
  }
}

/** Push (and, with no events, heartbeat): the node's unacknowledged events in chain order. */
export const pushPayloadSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  kind: z.literal("push"),
  node: z.string(),
  batchId: z.string().min(8).max(64),
  /** The node's clock when it signed the batch. */
  sentAt: z.iso.datetime(),
  /** The last seq the node holds (reported for reconciliation). */
  headSeq: z.number().int().nonnegative(),
  events: z
    .array(z.unknown())
    .max(MAX_PUSH_EVENTS)
    .superRefine(checkEvents)
    .transform((events) => events as WireEvent[]),
});
export type PushPayload = z.infer<typeof pushPayloadSchema>;

export interface PushResponse {
  v: number;
  /** The city's high-water mark for this origin and its chain head. */
  ackedSeq: number;
  chainHead: string;
  stored: number;
  duplicates: number;
  conflicts: { origin: string; seq: number; caseNo: string; reason: string }[];
  divergence: { seq: number; heldHash: string; receivedHash: string } | null;
  /** The city's clock, and the node's offset from it. */
  serverTime: string;
  skewMs: number;
  clockFlagged: boolean;
}

/** Pull: everything after the node's cursor. */
export const pullPayloadSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  kind: z.literal("pull"),
  node: z.string(),
  batchId: z.string().min(8).max(64),
  sentAt: z.iso.datetime(),
  /** null before the first pull: the answer is then a full snapshot of catalog and calendar. */
  cursor: z.number().int().nonnegative().nullable(),
  limit: z.number().int().min(1).max(5000).optional(),
});
export type PullPayload = z.infer<typeof pullPayloadSchema>;

export interface PullResponse {
  v: number;
  /** The cursor to send next time; advance it only after applying everything below. */
  cursor: number;
  hasMore: boolean;
  /** A first pull (cursor null) carries the whole catalog and calendar. */
  snapshot: boolean;
  departments: Record<string, unknown>[];
  items: Record<string, unknown>[];
  calendarDays: { date: string; kind: "holiday" | "workday"; name: string; updatedAt: string; deleted?: boolean }[];
  calendarYears: { year: number; source: string; updatedAt: string }[];
  /** Events made at the city (or another origin) on this node's cases, in the city's order. */
  events: WireEvent[];
  conflicts: { origin: string; seq: number; caseNo: string; type: string; reason: string; detectedAt: string }[];
  /** Delegations the city signed for this node's key (so it may sign approvals offline). */
  delegations: { id: string; node: string; token: string; items: string[]; validFrom: string; validUntil: string; issuedAt: string }[];
  serverTime: string;
}
