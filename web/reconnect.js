// When to reconnect after a session ended: exponential backoff with jitter, slower after the
// server closed the session for a policy reason, and never on its own after the session was
// replaced by a newer one of the same user (the user's session cap: reconnecting would close
// another of the user's sessions in turn). Pure functions, so they are tested as they are.

const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;
const JITTER = 0.3;
// After a policy close (1008 flood, too many sessions, too slow; 1009 too large): at least this,
// growing up to POLICY_MAX_DELAY_MS.
const POLICY_MIN_DELAY_MS = 30_000;
const POLICY_MAX_DELAY_MS = 300_000;
// 1013 "try again later": the backend is unavailable; not before this.
const BUSY_MIN_DELAY_MS = 5_000;
// A session that stayed up this long resets the backoff; a shorter one keeps it growing, so a
// server that closes every session soon after it opens is not hammered.
export const STABLE_SESSION_MS = 60_000;

export function backoffDelay(attempt, rand = Math.random, base = BASE_DELAY_MS, max = MAX_DELAY_MS) {
  const delay = Math.min(max, base * 2 ** attempt);
  return Math.round(delay * (1 + (rand() * 2 - 1) * JITTER));
}

/** The delay in ms before the next connect after a close with `code` and `reason` on the
 *  `attempt`-th retry in a row, or null when the client must not reconnect on its own. */
export function retryDelay(code, reason, attempt, rand = Math.random) {
  if (code === 1008 && typeof reason === 'string' && reason.startsWith('replaced')) return null;
  if (code === 1008 || code === 1009) return backoffDelay(attempt, rand, POLICY_MIN_DELAY_MS, POLICY_MAX_DELAY_MS);
  if (code === 1013) return Math.max(BUSY_MIN_DELAY_MS, backoffDelay(attempt, rand));
  return backoffDelay(attempt, rand);
}
