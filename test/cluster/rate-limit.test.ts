import { randomBytes, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSharedRateLimiter } from '../../src/auth/rate-limit.ts';
import { createLogger } from '../../src/logger.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { createTempPostgresDatabase } from '../helpers/db.ts';
import { IMAGE } from '../helpers/generation.ts';
import { bearer } from '../helpers/graphql.ts';
import { startRedis, type TestRedis } from '../helpers/redis.ts';
import { createTenants, GENERATE_AS, type Tenants } from '../helpers/tenants.ts';

/**
 * Three instances on one PostgreSQL and one Redis (a key prefix of this run's own). The bucket refills at one
 * token a minute, so nothing refills while the test runs: every grant below comes out of the one burst.
 */
const BURST = 4;
let redis: TestRedis;
let database: Awaited<ReturnType<typeof createTempPostgresDatabase>>;
const instances: TestServer[] = [];
let keys: Tenants;

beforeAll(async () => {
  redis = await startRedis();
  database = await createTempPostgresDatabase();
  const env = {
    DATABASE_URL: database.url,
    DATABASE_POOL_SIZE: '4',
    REDIS_URL: redis.url,
    REDIS_PREFIX: `reelgraph-test-${randomBytes(4).toString('hex')}:`,
    RATE_LIMIT_PER_MINUTE: '1',
    RATE_LIMIT_BURST: String(BURST),
  };
  // The first instance migrates the database; the keys exist before the others start.
  instances.push(await startTestServer({ env }));
  keys = await createTenants(instances[0]);
  instances.push(...(await Promise.all([startTestServer({ env }), startTestServer({ env })])));
}, 120_000);

afterAll(async () => {
  await Promise.all(instances.map((s) => s.dispose()));
  await redis?.stop();
  await database?.drop();
});

const generate = (s: TestServer, key: string) =>
  fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(key) },
    body: JSON.stringify({ query: GENERATE_AS, variables: { input: { imageUrl: IMAGE, prompt: 'x' } } }),
  });
/** A mutation that takes a token and then finds nothing: cheap, and it changes no row. */
const cancelUnknown = async (s: TestServer, key: string) => {
  const response = await fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...bearer(key) },
    body: JSON.stringify({
      query: 'mutation($id: ID!) { cancelVideoGeneration(id: $id) { __typename ... on RateLimitedError { retryAfterSeconds } } }',
      variables: { id: randomUUID() },
    }),
  });
  return { response, result: (await response.json()).data.cancelVideoGeneration };
};
const rows = () => instances[0].running.database.prisma.generation.count();

describe('the mutation rate limit with REDIS_URL, across three instances', () => {
  it('shares one burst per key: the grants are spread over the instances, the next is refused on whichever it reaches', async () => {
    const remaining: string[] = [];
    for (let i = 0; i < BURST; i += 1) {
      const response = await generate(instances[i % 3], keys.acme);
      expect((await response.json()).data.generateVideo.__typename).toBe('GenerateVideoSuccess');
      expect(response.headers.get('ratelimit-limit')).toBe(String(BURST));
      remaining.push(response.headers.get('ratelimit-remaining') as string);
    }
    // One bucket: each instance saw what the others took.
    expect(remaining).toEqual(['3', '2', '1', '0']);
    const before = await rows();
    for (const s of instances) {
      const refused = await generate(s, keys.acme);
      const body = await refused.json();
      expect(body.data.generateVideo.__typename).toBe('RateLimitedError');
      // One token a minute: the next one is (at most) a minute after the first grant.
      const wait = body.data.generateVideo.retryAfterSeconds;
      expect(wait).toBeGreaterThanOrEqual(1);
      expect(wait).toBeLessThanOrEqual(60);
      expect(refused.headers.get('retry-after')).toBe(String(wait));
      expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    }
    expect(await rows()).toBe(before);
    // Another key has its own bucket, on every instance.
    const other = await cancelUnknown(instances[2], keys.globex);
    expect(other.result.__typename).toBe('GenerationNotFoundError');
    expect(other.response.headers.get('ratelimit-remaining')).toBe(String(BURST - 1));
  });

  it('without Redis each instance falls back to its own buckets (never no limit) and says so in its log', async () => {
    const key = keys.admin;
    for (let i = 0; i < BURST; i += 1)
      expect((await cancelUnknown(instances[i % 3], key)).result.__typename).toBe('GenerationNotFoundError');
    expect((await cancelUnknown(instances[0], key)).result.__typename).toBe('RateLimitedError');
    await redis.stop();
    // The shared bucket is out of reach: instance 0 limits with its own, which starts full.
    for (let i = 0; i < BURST; i += 1) {
      const { response, result } = await cancelUnknown(instances[0], key);
      expect(result.__typename).toBe('GenerationNotFoundError');
      expect(response.headers.get('ratelimit-remaining')).toBe(String(BURST - 1 - i));
    }
    const refused = await cancelUnknown(instances[0], key);
    expect(refused.result.__typename).toBe('RateLimitedError');
    expect(refused.response.headers.get('retry-after')).toBe(String(refused.result.retryAfterSeconds));
    expect(instances[0].logs.filter((line) => line.includes('rate limit: Redis cannot be reached'))).toHaveLength(1);
  });
});

describe('the shared limiter when Redis stops answering', () => {
  it('decides alone meanwhile (its own bucket), and shares the bucket again as soon as Redis answers', async () => {
    const own = await startRedis();
    const logs: string[] = [];
    const options = {
      perMinute: 1,
      burst: 100,
      redisUrl: own.url,
      keyPrefix: 'rl-test',
      logger: createLogger((line) => logs.push(line)),
      commandTimeoutMs: 200,
    };
    const [a, b] = await Promise.all([createSharedRateLimiter(options), createSharedRateLimiter(options)]);
    const admin = new Redis(own.url);
    try {
      expect((await a.take('k')).remaining).toBe(99);
      expect((await b.take('k')).remaining).toBe(98);
      // Redis holds every client's commands for a while: the connection stays up, commands time out.
      await admin.call('CLIENT', 'PAUSE', '3000', 'ALL');
      expect(await a.take('k')).toMatchObject({ allowed: true, remaining: 99 });
      expect(logs.filter((line) => line.includes('rate limit: Redis cannot be reached'))).toHaveLength(1);
      await expect
        .poll(
          async () => {
            await a.take('k');
            return logs.some((line) => line.includes('rate limit: Redis answers again'));
          },
          { timeout: 15_000, interval: 100 },
        )
        .toBe(true);
      // One bucket again: what one takes, the other sees.
      const first = await a.take('k');
      const second = await b.take('k');
      expect(second.remaining).toBe(first.remaining - 1);
      expect(logs.filter((line) => line.includes('rate limit: Redis cannot be reached'))).toHaveLength(1);
    } finally {
      admin.disconnect();
      await Promise.all([a.close(), b.close()]);
      await own.stop();
    }
  });
});
