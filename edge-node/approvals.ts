/** Township signing: an immediate item decided at the window prints its signed result at once, even offline. */
import type { CryptoKey, JWK } from "jose";
import { APPROVAL_TYP, DEFAULT_APPROVAL_VALID_DAYS, nodeKid, signClaims } from "../domain/approval.js";
import { approvalForCase, issueApproval, latestDelegation, type ApprovalRow } from "../store/approvals.js";
import { getCase } from "../store/cases.js";
import type { Db } from "../store/db.js";

/**
 * Signs a granted immediate case with the node's key when the city's newest delegation for this
 * node covers the item and is valid now; otherwise leaves the signing to the city (null).
 */
export async function issueNodeApproval(
  db: Db,
  code: string,
  cityUrl: string,
  signer: { key: CryptoKey; publicJwk: JWK },
  caseNo: string,
  at: Date,
): Promise<ApprovalRow | null> {
  const existing = await approvalForCase(db, caseNo);
  if (existing) return existing;
  const c = await getCase(db, caseNo);
  if (!c || c.itemKind !== "immediate" || c.origin !== code) return null;
  const delegation = await latestDelegation(db, code);
  const iso = at.toISOString();
  if (!delegation || !delegation.items.includes(c.itemCode) || iso < delegation.validFrom || iso > delegation.validUntil) return null;
  const kid = await nodeKid(code, signer.publicJwk);
  return issueApproval(db, caseNo, {
    origin: code,
    actor: `window@${code}`,
    at,
    issuer: cityUrl,
    validDays: DEFAULT_APPROVAL_VALID_DAYS,
    delegation: delegation.token,
    sign: async (claims) => ({ token: await signClaims(claims, signer.key, kid, APPROVAL_TYP), kid }),
  });
}
