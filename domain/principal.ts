/**
 * Who makes a request: one principal, whichever shell or channel it came through. Events record
 * it as their `actor` in one format, hashed into the chains for good:
 *
 *   `<role>:<id>@<hall>`   e.g. `clerk:zhangsan@HQZ01`, `approver:li.si@CITY`, `system:sweep@CITY`
 *
 * `hall` is the node code of a township hall or `CITY`; an approver also belongs to a department.
 */
import { CITY_ORIGIN, ORIGIN_CODE_PATTERN } from "./case-number.js";
import type { Role } from "./lifecycle.js";

/** The roles a person can hold; `system` acts for the platform itself (a deadline sweep, a download). */
export type ActorRole = Role | "system";

export interface Principal {
  /** The account's login (staff), account id (applicant) or the system job's name. */
  id: string;
  role: ActorRole;
  /** A node code, or `CITY`. */
  hall: string;
  /** For approvers: the department they decide for. */
  department?: string;
  /** For people: the display name. */
  name?: string;
}

/** Logins and ids: letters, digits and `._-`, 1–64 characters (they are part of every actor). */
export const PRINCIPAL_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

const ACTOR_RE = /^(clerk|approver|applicant|supervisor|admin|system):([A-Za-z0-9._-]{1,64})@([A-Z0-9]{2,12})$/;

/** The actor recorded on events this principal makes. */
export function actorOf(p: Pick<Principal, "role" | "id" | "hall">): string {
  return `${p.role}:${p.id}@${p.hall}`;
}

/** Reads an actor back (null for one in an older format, e.g. `window@HQZ01`, or a malformed one). */
export function parseActor(actor: string): { role: ActorRole; id: string; hall: string } | null {
  const m = ACTOR_RE.exec(actor);
  return m ? { role: m[1] as ActorRole, id: m[2]!, hall: m[3]! } : null;
}

/** A principal for work the platform does by itself at a hall. */
export function systemPrincipal(job: string, hall: string = CITY_ORIGIN): Principal {
  return { id: job, role: "system", hall };
}

/** Whether a hall code is well formed (a node code or the city). */
export const isHall = (hall: string) => hall === CITY_ORIGIN || ORIGIN_CODE_PATTERN.test(hall);
