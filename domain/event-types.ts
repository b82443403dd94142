/**
 * The event types a case's log holds and, for each, the command that produces it — rebuilt from
 * an event's payload and the case it applied to. The city uses this to re-run a pushed event's
 * command under its own rules instead of believing the payload (see `recheck.ts`).
 */
import type { CaseAction, CaseCommand, CaseSnapshot } from "./lifecycle.js";

type Payload = Record<string, unknown>;

/** A payload field that is not what the event type needs. */
export class PayloadError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Typed reads of payload fields; each throws a PayloadError naming the field. */
export const read = {
  text(p: Payload, k: string): string {
    const v = p[k];
    if (typeof v !== "string") throw new PayloadError(k, `${k} 应为文本`);
    return v;
  },
  optionalText(p: Payload, k: string): string | undefined {
    return p[k] === undefined ? undefined : read.text(p, k);
  },
  list(p: Payload, k: string): string[] {
    const v = p[k];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw new PayloadError(k, `${k} 应为文本列表`);
    return v as string[];
  },
  oneOf<T extends string>(p: Payload, k: string, allowed: readonly T[]): T {
    const v = read.text(p, k);
    if (!allowed.includes(v as T)) throw new PayloadError(k, `${k} 应为 ${allowed.join("、")} 之一`);
    return v as T;
  },
};

export interface EventTypeSpec {
  /** The action whose command produces this event type. */
  action: CaseAction;
  /** The command, rebuilt from the payload and the case as it was before the event. */
  command(p: Payload, before: CaseSnapshot): CaseCommand;
}

/**
 * `supplemented` does not record which materials were handed in, only the case's materials and
 * what is still missing after it; since only requested materials may be handed in, they are the
 * requested ones no longer missing (new ones in the order the payload lists them).
 */
function handedIn(p: Payload, before: CaseSnapshot): string[] {
  const after = read.list(p, "materials");
  const stillMissing = read.list(p, "missing");
  const given = (id: string) => before.missing.includes(id) && !stillMissing.includes(id);
  return [...after.filter((id) => given(id) && !before.materials.includes(id)), ...before.missing.filter((id) => given(id) && before.materials.includes(id))];
}

/**
 * The spec of an event type, or undefined. Own members only: a type named `constructor` or
 * `toString` must not find what every object inherits.
 */
export function eventType(type: string): EventTypeSpec | undefined {
  return Object.hasOwn(EVENT_TYPES, type) ? EVENT_TYPES[type] : undefined;
}

/** Every event type a command produces, by name. `opened` and `approval-issued` are checked on their own. */
export const EVENT_TYPES: Readonly<Record<string, EventTypeSpec>> = {
  accepted: {
    action: "accept",
    command: (p, c) => ({ action: "accept", materials: read.list(p, "materials").filter((id) => !c.materials.includes(id)) }),
  },
  refused: { action: "refuse", command: (p) => ({ action: "refuse", reason: read.text(p, "reason") }) },
  "supplement-requested": {
    action: "request-supplement",
    command: (p) => ({ action: "request-supplement", missing: read.list(p, "missing"), note: read.text(p, "note") }),
  },
  supplemented: { action: "supplement", command: (p, c) => ({ action: "supplement", materials: handedIn(p, c) }) },
  forwarded: { action: "forward", command: (p) => ({ action: "forward", note: read.text(p, "note") }) },
  "opinion-given": {
    action: "opinion",
    command: (p) => ({ action: "opinion", department: read.text(p, "department"), opinion: read.oneOf(p, "opinion", ["agree", "disagree"]), comment: read.text(p, "comment") }),
  },
  escalated: { action: "escalate", command: (p) => ({ action: "escalate", authority: read.text(p, "authority") }) },
  suspended: { action: "suspend", command: (p) => ({ action: "suspend", reason: read.text(p, "reason") }) },
  resumed: { action: "resume", command: () => ({ action: "resume" }) },
  decided: {
    action: "decide",
    command: (p) => ({ action: "decide", decision: read.oneOf(p, "decision", ["grant", "deny"]), reason: read.text(p, "reason") }),
  },
  delivered: { action: "deliver", command: (p) => ({ action: "deliver", method: read.text(p, "method") }) },
};
