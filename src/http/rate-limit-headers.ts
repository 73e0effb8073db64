import type { RateLimiter, SharedRateLimiter } from '../auth/rate-limit.ts';
import { RateLimitedError } from '../generations/errors.ts';
import type { Connection } from './authentication.ts';

/**
 * The mutation rate limit as a client sees it: one token per mutation from the bucket of the caller's key (or of
 * its tenant when the server runs open), the IETF RateLimit-* headers on the response, and Retry-After with a
 * typed RateLimitedError when the bucket is empty. Without a limiter every mutation passes.
 */
export function limitMutations(limiter: RateLimiter | SharedRateLimiter | null, connection: Connection): () => Promise<void> {
  return async () => {
    if (!limiter) return;
    const { identity } = connection;
    const decision = await limiter.take(identity.keyId ?? `tenant:${identity.caller.tenantId}`);
    connection.setHeader('RateLimit-Limit', String(decision.limit));
    connection.setHeader('RateLimit-Remaining', String(decision.remaining));
    connection.setHeader('RateLimit-Reset', String(decision.resetSeconds));
    if (!decision.allowed) {
      connection.setHeader('Retry-After', String(decision.retryAfterSeconds));
      throw new RateLimitedError(decision.retryAfterSeconds);
    }
  };
}
