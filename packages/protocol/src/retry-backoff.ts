/**
 * The one backoff of Malocher: exponential from `baseMs` for the first try, capped at `capMs`,
 * with jitter (0.5× to 1.5×) so that many waiters do not come back at the same moment. Used
 * for a job's retries and for restarting a lost node.
 */
export function backoffMs(tries: number, baseMs: number, capMs = 30_000): number {
  const exponential = Math.min(capMs, baseMs * 2 ** Math.max(0, tries - 1));
  return Math.round(exponential * (0.5 + Math.random()));
}
