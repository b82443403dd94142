/**
 * Slowing down and locking out guessers: failed attempts are counted per key (a login, a client
 * address, a case number) within a window; past a few, each further attempt must wait longer, and
 * past a limit the key is locked for a while. Pure: the store keeps the counters.
 */
export interface ThrottlePolicy {
  /** Failures older than this (since the first one counted) no longer count. */
  windowMs: number;
  /** Failures allowed with no wait at all. */
  free: number;
  /** From this many failures on, the key is locked for `lockMs`. */
  lockAfter: number;
  lockMs: number;
  /** Between `free` and `lockAfter`, the n-th extra failure makes the next attempt wait `baseDelayMs · 2^(n-1)`. */
  baseDelayMs: number;
}

/** Sign-in, per login: three free tries, then 2 s, 4 s … and locked for 15 minutes after ten. */
export const SIGN_IN_PER_LOGIN: ThrottlePolicy = { windowMs: 15 * 60_000, free: 3, lockAfter: 10, lockMs: 15 * 60_000, baseDelayMs: 2_000 };
/** Sign-in, per client address (a hall's PCs share one): more room, the same lock. */
export const SIGN_IN_PER_ADDRESS: ThrottlePolicy = { windowMs: 15 * 60_000, free: 20, lockAfter: 50, lockMs: 15 * 60_000, baseDelayMs: 1_000 };
/**
 * Case lookup with a query code (tracking, the result download, linking a case to an account), per
 * client address: 30 wrong codes an hour, then an hour's wait. A query code is 8 characters of a
 * 31-letter alphabet (31^8 ≈ 8.5·10^11), so this limit is not what keeps a code secret (the per-case
 * one is); it stops one address from sweeping many case numbers and from filling the counters. It
 * stays at 30: malformed codes are refused (400) before any lookup and do not count, and a right
 * code never counts, so 30 well-formed wrong codes in an hour from one address (a hall's shared
 * kiosk included) is already not typing mistakes.
 */
export const LOOKUP_PER_ADDRESS: ThrottlePolicy = { windowMs: 60 * 60_000, free: 30, lockAfter: 30, lockMs: 60 * 60_000, baseDelayMs: 0 };
/**
 * Case lookup, per case number (whether or not the case exists, so a lock says nothing about
 * existence): 10 wrong codes an hour from all addresses together, then that case number is locked
 * for an hour. At 10 an hour, guessing one code takes about 5 million years on average. The price is
 * that anyone can lock a case's online tracking for an hour; the window (and, once linked, 我的办件)
 * still shows it.
 */
export const LOOKUP_PER_CASE: ThrottlePolicy = { windowMs: 60 * 60_000, free: 10, lockAfter: 10, lockMs: 60 * 60_000, baseDelayMs: 0 };
/**
 * Applicant registration, per client address: every registration that passes validation counts
 * (made or refused as a number already registered, which would otherwise let one address test
 * which numbers have accounts); 10 an hour, then an hour's wait.
 */
export const REGISTER_PER_ADDRESS: ThrottlePolicy = { windowMs: 60 * 60_000, free: 10, lockAfter: 10, lockMs: 60 * 60_000, baseDelayMs: 0 };

export interface Counter {
  failures: number;
  firstAt: string;
  blockedUntil: string | null;
}

/** The counter after one more failure at `now` (a stale counter starts again). */
export function afterFailure(policy: ThrottlePolicy, c: Counter | null, now: Date): Counter {
  const fresh = !c || now.getTime() - Date.parse(c.firstAt) > policy.windowMs;
  const failures = fresh ? 1 : c.failures + 1;
  const firstAt = fresh ? now.toISOString() : c.firstAt;
  let waitMs = 0;
  if (failures >= policy.lockAfter) waitMs = policy.lockMs;
  else if (failures > policy.free) waitMs = policy.baseDelayMs * 2 ** (failures - policy.free - 1);
  return { failures, firstAt, blockedUntil: waitMs > 0 ? new Date(now.getTime() + waitMs).toISOString() : null };
}

/** Milliseconds until a key may try again (0: now). */
export function waitFor(c: Counter | null, now: Date): number {
  if (!c?.blockedUntil) return 0;
  return Math.max(0, Date.parse(c.blockedUntil) - now.getTime());
}
