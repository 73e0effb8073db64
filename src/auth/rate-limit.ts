import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Logger } from '../logger.ts';
import { errorMessage } from '../lib/errors.ts';

/**
 * Token buckets, one per API key (or per tenant when the server runs open): `burst` mutations at once,
 * refilled continuously at `perMinute`. Without Redis each process holds its own buckets; with Redis every
 * instance takes from the same bucket (createSharedRateLimiter), so N instances never grant N times the rate.
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

export interface SharedRateLimiter {
  take(id: string): Promise<RateDecision>;
  close(): Promise<void>;
}

export interface RateLimitOptions {
  perMinute: number;
  burst: number;
}

export function createRateLimiter(options: RateLimitOptions & { now?: () => number }): RateLimiter {
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

/**
 * The same token bucket as one Lua script in Redis: read, refill, take and write in one atomic step on
 * Redis's own clock (`TIME`), so instances with skewed clocks still share one consistent bucket. It runs
 * inside rate-limiter-flexible's RateLimiterRedis (script loading, EVALSHA, key prefix, readiness check),
 * whose stock script is a fixed window (a full refill at each window's end, up to twice the burst across a
 * boundary), which is not what RATE_LIMIT_BURST / RATE_LIMIT_PER_MINUTE promise. The script answers in the
 * library's terms, {consumed, ms}: consumed = burst - tokens left (burst + 1 when refused, which the library
 * reports as a rejection), ms = until the bucket is full when allowed, until one token when refused.
 */
function tokenBucketScript(perMs: number): string {
  return `
local burst = tonumber(ARGV[3])
local cost = tonumber(ARGV[1])
local perMs = ${perMs.toPrecision(17)}
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * perMs)
local consumed
local ms
if tokens >= cost then
  tokens = tokens - cost
  consumed = burst - math.floor(tokens)
  ms = math.ceil((burst - tokens) / perMs)
else
  consumed = burst + 1
  ms = math.ceil((cost - tokens) / perMs)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
-- A bucket left alone refills completely; then it carries no information and may go.
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / perMs) + 1000)
return {consumed, ms}
`;
}

/**
 * The cluster-wide limiter. Its Redis connection is its own (pub/sub connections cannot run commands) and
 * fails fast: no offline queue and a short command timeout, so a mutation never waits on an absent Redis.
 * While Redis cannot be reached each instance falls back to its own in-memory buckets (the per-instance limit
 * of a single process, never no limit) and says so once in the log; the shared buckets are used again as soon
 * as Redis answers. (rate-limiter-flexible's own `insuranceLimiter` would have to be one of its fixed-window
 * limiters; this fallback keeps the token bucket's burst and refill.)
 */
export async function createSharedRateLimiter(
  options: RateLimitOptions & { redisUrl: string; keyPrefix: string; logger: Logger; commandTimeoutMs?: number },
): Promise<SharedRateLimiter> {
  const client = new Redis(options.redisUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: options.commandTimeoutMs ?? 2000,
  });
  // Without a listener ioredis prints every connection error; it reconnects by itself.
  client.on('error', () => {});
  await client.connect();
  const perMs = options.perMinute / 60_000;
  const shared = new RateLimiterRedis({
    storeClient: client,
    keyPrefix: options.keyPrefix,
    points: options.burst,
    // Only a key's lifetime hint for the library (the script sets its own expiry); at least 1 s, or the
    // library would skip the script.
    duration: Math.max(1, Math.ceil(options.burst / perMs / 1000)),
    rejectIfRedisNotReady: true,
    customIncrTtlLuaScript: tokenBucketScript(perMs),
  });
  const local = createRateLimiter(options);
  let degraded = false;

  const decision = (res: RateLimiterRes, allowed: boolean): RateDecision => ({
    allowed,
    limit: options.burst,
    remaining: allowed ? res.remainingPoints : 0,
    // Refused: the wait for one token, then the rest of the bucket at the refill rate.
    resetSeconds: Math.ceil((allowed ? res.msBeforeNext : res.msBeforeNext + (options.burst - 1) / perMs) / 1000),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(res.msBeforeNext / 1000)),
  });

  return {
    async take(id) {
      try {
        const res = await shared.consume(id, 1);
        if (degraded) options.logger.info('rate limit: Redis answers again; the limit is shared by every instance again');
        degraded = false;
        return decision(res, true);
      } catch (error) {
        if (error instanceof RateLimiterRes) {
          degraded = false;
          return decision(error, false);
        }
        if (!degraded) {
          options.logger.warn(
            `rate limit: Redis cannot be reached (${errorMessage(error)}); each instance limits on its own until it is back`,
          );
        }
        degraded = true;
        return local.take(id);
      }
    },
    close() {
      client.disconnect();
      return Promise.resolve();
    },
  };
}

/**
 * The mutation limiter the configuration asks for: with Redis one bucket per key for the whole cluster, without
 * it this process's own buckets; null when RATE_LIMIT_PER_MINUTE=none. `close` releases the Redis connection.
 */
export async function createMutationLimiter(
  rateLimit: RateLimitOptions | null,
  redis: { url: string; prefix: string } | null,
  logger: Logger,
): Promise<{ limiter: RateLimiter | SharedRateLimiter | null; close: () => Promise<void> }> {
  if (!rateLimit) return { limiter: null, close: () => Promise.resolve() };
  if (!redis) return { limiter: createRateLimiter(rateLimit), close: () => Promise.resolve() };
  const shared = await createSharedRateLimiter({ ...rateLimit, redisUrl: redis.url, keyPrefix: `${redis.prefix}ratelimit`, logger });
  return { limiter: shared, close: () => shared.close() };
}
