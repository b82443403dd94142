/**
 * The township ⇄ city sync protocol: versioned message schemas shared by both ends.
 * A push or pull request is a compact JWS (EdDSA, `kid` = node code) over one of these payloads.
 */
import { z } from "zod";
import { eventLimitProblem, isInstant } from "./limits.js";

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

/**
 * A signed message (push, heartbeat, pull) is accepted only while its `sentAt` lies within this
 * much of the city's clock, and only once: the city remembers message ids for twice this long.
 * A node whose clock is further off cannot sync until its clock is set right.
 */
export const MAX_MESSAGE_AGE_MS = 10 * 60_000;

/** An event as it travels between node and city (checked by `eventLimitProblem`). */
export interface WireEvent {
  origin: string;
  seq: number;
  caseNo: string;
  type: string;
  payload: Record<string, unknown>;
  actor: string;
  occurredAt: string;
  prevHash: string;
  hash: string;
}

/**
 * Every event of a push is checked against the event limits (`limits.ts`) in one plain loop — a
 * full push carries a thousand events. An issue carries the event's seq and the reason, so the
 * city can answer 400 `invalid_batch` naming them.
 */
function checkEvents(events: unknown[], ctx: z.RefinementCtx): void {
  for (let i = 0; i < events.length; i++) {
    const p = eventLimitProblem(events[i]);
    if (!p) continue;
    const seq = (events[i] as { seq?: unknown } | null)?.seq;
    ctx.addIssue({ code: "custom", path: [i, p.field], message: p.message, params: { reason: p.reason, seq: typeof seq === "number" ? seq : null } });
    return;
  }
}

/** A node's clock reading: a real UTC instant as `toISOString` writes it. */
const instant = z.string().refine(isInstant, "时间应为真实存在的 UTC 时刻，格式如 2026-11-23T01:30:00.000Z");
/** A message id: printable, so it can be stored and shown as it is. */
const batchId = z.string().regex(/^[A-Za-z0-9_.:-]{8,64}$/, "批次编号应为 8–64 位字母、数字或 _.:-");

/** Push (and, with no events, heartbeat): the node's unacknowledged events in chain order. */
export const pushPayloadSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  kind: z.literal("push"),
  node: z.string(),
  batchId,
  /** The node's clock when it signed the batch. */
  sentAt: instant,
  /** The last seq the node holds (reported for reconciliation). */
  headSeq: z.number().int().nonnegative().max(1_000_000_000),
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
  batchId,
  sentAt: instant,
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
  /** Revoked documents and delegations (all of them on a first pull); absent from a city that predates them. */
  revocations?: { id: string; reason: string; revokedAt: string }[];
  serverTime: string;
}
