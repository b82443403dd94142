/** The Hono environment that shared routes rely on; each shell fills these per request. */
import type { Db } from "../store/db.js";

export interface SharedVariables {
  /** The drizzle database of this request (D1 at the city, the libSQL file on a node). */
  db: Db;
  /** The clock; injected so tests can pin time, `() => new Date()` in production. */
  now: () => Date;
  /** Who is calling (set by `authenticate`; null when anonymous). */
  principal: import("../domain/principal.js").Principal | null;
  /** How the principal proved who it is. */
  authVia: "session" | "bearer" | null;
  /** A session whose initial or reset password has not been changed yet. */
  mustChangePassword?: boolean;
  /** The client's network address as this shell sees it (for throttling and the audit log). */
  clientAddress?: string | null;
}

export type SharedEnv = { Variables: SharedVariables };

/** What case routes also need: who is writing, from which origin. */
export interface CaseVariables extends SharedVariables {
  /** The origin code events are written under (the node's code, or the city's). */
  origin: string;
  /** The name printed on receipts and notices. */
  office: string;
  /** On a node: which of these cases have changes the city has not acknowledged yet. */
  notAtCity?: (caseNos: string[]) => Promise<Set<string>>;
  /** Issues (once) the signed approval of a case concluded with a grant, where this shell can sign. */
  issueApproval?: (caseNo: string) => Promise<import("../store/approvals.js").ApprovalRow | null>;
  /** Where a QR code sends a verifier: the city's `/verify` page. */
  verifyUrl: string;
  /** Where case writes read the item and calendar (a node caches them); default: the database. */
  reference?: import("../store/reference.js").ReferenceData;
  /** The chain's SHA-256 where the shell has a faster one than Web Crypto. */
  sha256?: import("../domain/events.js").Sha256;
}

export type CaseEnv = { Variables: CaseVariables };

/** The audience staff tokens are minted for and verified against. */
export const AUTH_AUDIENCE = "tongban-city";
