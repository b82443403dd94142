/**
 * The township ⇄ city sync protocol: versioned message schemas shared by both ends.
 * A push or pull request is a compact JWS (EdDSA, `kid` = node code) over one of these payloads.
 */
import { z } from "zod";
import { eventLimitProblem } from "./limits.js";
import { PROTOCOL_VERSION, type ProtocolVersion } from "./protocol-versions.js";
import { instant, PULL_LISTS_V1, PULL_LISTS_V2, wireEvent } from "./sync-items.js";

/** The version this code speaks (history, floors and rules: `protocol-versions.ts`). */
export { PROTOCOL_VERSION } from "./protocol-versions.js";

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

/** A message id: printable, so it can be stored and shown as it is. */
const batchId = z.string().regex(/^[A-Za-z0-9_.:-]{8,64}$/, "批次编号应为 8–64 位字母、数字或 _.:-");

/** Push (and, with no events, heartbeat): the node's unacknowledged events in chain order. */
function pushPayloadOf<V extends ProtocolVersion>(v: V) {
  return z.object({
    v: z.literal(v),
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
}

/** The city's answer to a push: its high-water mark and chain head for the node, and what it made of the batch. */
function pushResponseOf<V extends ProtocolVersion>(v: V) {
  return z.object({
    v: z.literal(v),
    ackedSeq: z.number().int().nonnegative(),
    chainHead: z.string().regex(/^[0-9a-f]{64}$/),
    stored: z.number().int().nonnegative(),
    duplicates: z.number().int().nonnegative(),
    conflicts: z.array(z.object({ origin: z.string(), seq: z.number().int(), caseNo: z.string(), reason: z.string() })),
    divergence: z.object({ seq: z.number().int(), heldHash: z.string(), receivedHash: z.string() }).nullable(),
    /** The city's clock, and the node's offset from it. */
    serverTime: instant,
    skewMs: z.number().int(),
    clockFlagged: z.boolean(),
  });
}

/** Pull, version 1: everything after the node's cursor (null before the first pull: a full snapshot of catalog and calendar). */
const pullPayloadV1 = z.object({
  v: z.literal(1),
  kind: z.literal("pull"),
  node: z.string(),
  batchId,
  sentAt: instant,
  cursor: z.number().int().nonnegative().nullable(),
  limit: z.number().int().min(1).max(5000).optional(),
});

/** Pull, version 2: may ask for every account of the hall (a node that never received them: upgraded from version 1). */
const pullPayloadV2 = pullPayloadV1.extend({ v: z.literal(2), accountsSnapshot: z.boolean().optional() });

/** The head of a pull answer (its lists are added per version). */
const pullHeadOf = <V extends ProtocolVersion>(v: V) => ({
  v: z.literal(v),
  /** The cursor to send next time; advance it only after applying everything in the answer. */
  cursor: z.number().int().nonnegative(),
  hasMore: z.boolean(),
  /** A first pull (cursor null) carries the whole catalog and calendar. */
  snapshot: z.boolean(),
  serverTime: instant,
});

type ListSchemas = Record<string, z.ZodType>;
const arraysOf = <L extends ListSchemas>(lists: L) => Object.fromEntries(Object.entries(lists).map(([k, s]) => [k, z.array(s)])) as { [K in keyof L]: z.ZodArray<L[K]> };
const unknownArraysOf = <L extends ListSchemas>(lists: L) => Object.fromEntries(Object.keys(lists).map((k) => [k, z.array(z.unknown())])) as { [K in keyof L]: z.ZodArray<z.ZodUnknown> };

/** The whole pull answer, every item checked (the wire schema). */
const pullResponseV1 = z.object({ ...pullHeadOf(1), ...arraysOf(PULL_LISTS_V1), revocations: z.array(PULL_LISTS_V1.revocations).optional() });
const pullResponseV2 = z.object({ ...pullHeadOf(2), ...arraysOf(PULL_LISTS_V2) });

/**
 * The message schemas of every version the city speaks: what a node of that version sends and
 * what it is answered. `event` is the event as it travels in both directions (a push checks it
 * with the event limits in one loop; a pull answer item by item).
 */
export const SYNC_MESSAGES = {
  1: { pushPayload: pushPayloadOf(1), pushResponse: pushResponseOf(1), pullPayload: pullPayloadV1, pullResponse: pullResponseV1, event: wireEvent },
  2: { pushPayload: pushPayloadOf(2), pushResponse: pushResponseOf(2), pullPayload: pullPayloadV2, pullResponse: pullResponseV2, event: wireEvent },
} as const satisfies Record<ProtocolVersion, Record<string, z.ZodType>>;

/**
 * A pull answer's head with its lists unchecked: what a node checks first, refusing the whole
 * answer if it fails. Each item is then checked with its own schema (`PULL_LISTS_V2`).
 */
export const pullEnvelopeSchema = z.object({ ...pullHeadOf(2), ...unknownArraysOf(PULL_LISTS_V2) });

/** The schemas of the push and pull the city takes, by the version the node states. */
export const pushPayloadSchemas = { 1: SYNC_MESSAGES[1].pushPayload, 2: SYNC_MESSAGES[2].pushPayload } as const;
export const pullPayloadSchemas = { 1: SYNC_MESSAGES[1].pullPayload, 2: SYNC_MESSAGES[2].pullPayload } as const;

/** The current push and pull (what this code's node sends). */
export const pushPayloadSchema = SYNC_MESSAGES[PROTOCOL_VERSION].pushPayload;
export const pullPayloadSchema = SYNC_MESSAGES[PROTOCOL_VERSION].pullPayload;
export const pushResponseSchema = SYNC_MESSAGES[PROTOCOL_VERSION].pushResponse;

/** A push of any version the city takes. */
export type PushPayload = z.output<(typeof pushPayloadSchemas)[ProtocolVersion]>;
/** A pull of any version the city takes. */
export type PullPayload = z.output<(typeof pullPayloadSchemas)[ProtocolVersion]>;
export type PushResponse = z.output<(typeof SYNC_MESSAGES)[ProtocolVersion]["pushResponse"]>;
/** A pull answer as this version builds and reads it. */
export type PullResponse = z.output<typeof pullResponseV2>;
/** A pull answer for a version 1 node: no accounts. */
export type PullResponseV1 = z.output<typeof pullResponseV1>;
