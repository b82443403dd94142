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
  events: z.array(chainedEventSchema).max(MAX_PUSH_EVENTS),
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
