/**
 * Delay before retry `attempt` (1 for the first retry): `baseMs × 2^(attempt − 1)`, capped at `maxMs`. With `jitter`,
 * the delay is spread over ±25 % so that many clients that failed together do not retry in lock-step.
 */
export function backoffDelay(attempt: number, options: { baseMs: number; maxMs?: number; jitter?: boolean }): number {
  const exponent = Math.max(0, attempt - 1);
  const raw = Math.min(options.maxMs ?? Number.POSITIVE_INFINITY, options.baseMs * 2 ** exponent);
  return options.jitter ? raw * (0.75 + Math.random() * 0.5) : raw;
}
