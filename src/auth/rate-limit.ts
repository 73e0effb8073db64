/**
 * Token buckets, one per API key (or per tenant when the server runs open): `burst` mutations at once,
 * refilled continuously at `perMinute`. In-process: with several instances each holds its own buckets, so
 * the effective limit is per instance (see README, Security).
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** When refused: seconds until one token is available. */
  retryAfterSeconds: number;
}

export interface RateLimiter {
  take(id: string): RateDecision;
}

export function createRateLimiter(options: { perMinute: number; burst: number; now?: () => number }): RateLimiter {
  const now = options.now ?? Date.now;
  const perMs = options.perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  function sweep(t: number) {
    // Full buckets carry no information: forget them so idle keys cost no memory.
    for (const [id, b] of buckets) if (b.tokens + (t - b.at) * perMs >= options.burst) buckets.delete(id);
  }

  return {
    take(id) {
      const t = now();
      if (buckets.size > 10_000) sweep(t);
      const bucket = buckets.get(id) ?? { tokens: options.burst, at: t };
      bucket.tokens = Math.min(options.burst, bucket.tokens + (t - bucket.at) * perMs);
      bucket.at = t;
      buckets.set(id, bucket);
      const allowed = bucket.tokens >= 1;
      if (allowed) bucket.tokens -= 1;
      const remaining = Math.floor(bucket.tokens);
      return {
        allowed,
        limit: options.burst,
        remaining,
        resetSeconds: Math.ceil((options.burst - bucket.tokens) / perMs / 1000),
        retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)),
      };
    },
  };
}
