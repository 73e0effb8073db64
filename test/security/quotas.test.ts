import { afterEach, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/auth/rate-limit.ts';
import { estimateCostMicros, KLING_O3_STANDARD_PRICES } from '../../src/billing/prices.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { bearer, gql } from '../helpers/graphql.ts';
import { IMAGE } from '../helpers/generation.ts';
import { createTenants, GENERATE_AS, generateAs } from '../helpers/tenants.ts';

const servers: TestServer[] = [];
/** Generations stay IN_QUEUE (in flight) until the test lets them go. */
async function server(env: Record<string, string>) {
  const s = await startTestServer({ behaviour: { pauseBefore: 'IN_PROGRESS' }, env });
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.dispose()));
});

const rows = (s: TestServer) => s.running.database.prisma.generation.count();
const USAGE =
  '{ usage { inFlight maxConcurrent estimatedCost today { estimatedCost generations budget remaining } thisMonth { estimatedCost budget } } }';

describe('price table', () => {
  it('Kling O3 standard image-to-video: $0.084 per second without audio, $0.112 with', () => {
    expect(estimateCostMicros(KLING_O3_STANDARD_PRICES, { duration: 5, generateAudio: false })).toBe(420_000);
    expect(estimateCostMicros(KLING_O3_STANDARD_PRICES, { duration: 15, generateAudio: true })).toBe(1_680_000);
    expect(estimateCostMicros({ perSecondUsd: 0.1, perSecondWithAudioUsd: 0.2 }, { duration: 3, generateAudio: true })).toBe(600_000);
  });
});

describe('concurrent generations per tenant', () => {
  it('allows exactly the limit, refuses one over with the limit and current usage, and frees the slot when one ends', async () => {
    const s = await server({ QUOTA_MAX_CONCURRENT: '2' });
    const keys = await createTenants(s);
    const first = await generateAs(s, keys.acme);
    const second = await generateAs(s, keys.acme);
    expect([first.__typename, second.__typename]).toEqual(['GenerateVideoSuccess', 'GenerateVideoSuccess']);
    const before = await rows(s);
    const submitsBefore = s.sim.requests.size;
    const over = await generateAs(s, keys.acme);
    expect(over).toMatchObject({ __typename: 'QuotaExceededError', quota: 'CONCURRENT_GENERATIONS', limit: 2, current: 2, requested: 1 });
    expect(over.message).toMatch(/2 of at most 2/);
    // Nothing stored, nothing sent to fal.
    expect(await rows(s)).toBe(before);
    expect(s.sim.requests.size).toBe(submitsBefore);
    // Another tenant has its own slots.
    expect((await generateAs(s, keys.globex)).__typename).toBe('GenerateVideoSuccess');
    expect((await gql(s.url, USAGE, {}, bearer(keys.acme))).data.usage).toMatchObject({
      inFlight: 2,
      maxConcurrent: 2,
      estimatedCost: 0.84,
    });
    // Cancelling one frees a slot.
    const cancel = await gql(
      s.url,
      'mutation($id: ID!) { cancelVideoGeneration(id: $id) { __typename } }',
      { id: first.generation.id },
      bearer(keys.acme),
    );
    expect(cancel.data.cancelVideoGeneration.__typename).toBe('CancelVideoGenerationSuccess');
    expect((await generateAs(s, keys.acme)).__typename).toBe('GenerateVideoSuccess');
  });

  it('concurrent submissions racing for the last slot: exactly one wins', async () => {
    const s = await server({ QUOTA_MAX_CONCURRENT: '3' });
    const keys = await createTenants(s);
    expect((await generateAs(s, keys.acme)).__typename).toBe('GenerateVideoSuccess');
    expect((await generateAs(s, keys.acme)).__typename).toBe('GenerateVideoSuccess');
    const racers = await Promise.all(Array.from({ length: 8 }, (_, i) => generateAs(s, keys.acme, { prompt: `racer ${i}` })));
    const won = racers.filter((r) => r.__typename === 'GenerateVideoSuccess');
    const lost = racers.filter((r) => r.__typename === 'QuotaExceededError');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(7);
    expect(await s.running.database.prisma.generation.count({ where: { tenantId: 'acme' } })).toBe(3);
  });
});

describe('spend budgets', () => {
  it('daily budget: exactly at the limit is allowed, one cent over is refused', async () => {
    // Two 5 s clips without audio cost exactly $0.84.
    const s = await server({ QUOTA_DAILY_USD: '0.84' });
    const keys = await createTenants(s);
    const a = await generateAs(s, keys.acme, { duration: 5 });
    expect(a).toMatchObject({ __typename: 'GenerateVideoSuccess', generation: { estimatedCost: 0.42 } });
    expect((await generateAs(s, keys.acme, { duration: 5 })).__typename).toBe('GenerateVideoSuccess');
    const before = await rows(s);
    const over = await generateAs(s, keys.acme, { duration: 3 });
    expect(over).toMatchObject({ __typename: 'QuotaExceededError', quota: 'DAILY_SPEND', limit: 0.84, current: 0.84 });
    expect(over.requested).toBeCloseTo(0.252, 6);
    expect(await rows(s)).toBe(before);
    const usage = (await gql(s.url, USAGE, {}, bearer(keys.acme))).data.usage;
    expect(usage.today).toEqual({ estimatedCost: 0.84, generations: 2, budget: 0.84, remaining: 0 });
  });

  it('monthly budget counts audio at $0.112/s; a cancelled queued generation costs nothing', async () => {
    const s = await server({ QUOTA_MONTHLY_USD: '1.12' });
    const keys = await createTenants(s);
    const withAudio = await generateAs(s, keys.acme, { duration: 10, generateAudio: true });
    expect(withAudio).toMatchObject({ __typename: 'GenerateVideoSuccess', generation: { estimatedCost: 1.12 } });
    const over = await generateAs(s, keys.acme, { duration: 3 });
    expect(over).toMatchObject({ __typename: 'QuotaExceededError', quota: 'MONTHLY_SPEND', limit: 1.12, current: 1.12 });
    // Cancelled before it started: fal bills nothing, so the budget is free again.
    await gql(
      s.url,
      'mutation($id: ID!) { cancelVideoGeneration(id: $id) { __typename } }',
      { id: withAudio.generation.id },
      bearer(keys.acme),
    );
    expect((await generateAs(s, keys.acme, { duration: 3 })).__typename).toBe('GenerateVideoSuccess');
    expect((await gql(s.url, USAGE, {}, bearer(keys.acme))).data.usage.thisMonth).toEqual({ estimatedCost: 0.252, budget: 1.12 });
  });

  it('an idempotent retry of a counted request is not refused by the quota', async () => {
    const s = await server({ QUOTA_MAX_CONCURRENT: '1' });
    const keys = await createTenants(s);
    const input = { idempotencyKey: 'order-1' };
    const first = await generateAs(s, keys.acme, input);
    const retry = await generateAs(s, keys.acme, input);
    expect(retry.generation.id).toBe(first.generation.id);
  });
});

describe('rate limit on mutations, per API key', () => {
  it('token bucket: burst allowed, then a typed error with Retry-After and RateLimit-* headers; other keys unaffected', async () => {
    const s = await server({ RATE_LIMIT_PER_MINUTE: '6', RATE_LIMIT_BURST: '3' });
    const keys = await createTenants(s);
    const send = (key: string) =>
      fetch(s.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer(key) },
        body: JSON.stringify({ query: GENERATE_AS, variables: { input: { imageUrl: IMAGE, prompt: 'x' } } }),
      });
    const remaining: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const response = await send(keys.acme);
      expect((await response.json()).data.generateVideo.__typename).toBe('GenerateVideoSuccess');
      expect(response.headers.get('ratelimit-limit')).toBe('3');
      remaining.push(response.headers.get('ratelimit-remaining') as string);
    }
    expect(remaining).toEqual(['2', '1', '0']);
    const before = await rows(s);
    const limited = await send(keys.acme);
    const body = await limited.json();
    expect(body.data.generateVideo.__typename).toBe('RateLimitedError');
    // One token per 10 s: at most 10 s away, less by however long the three grants took on the real clock
    // (a loaded machine can take over a second); the exact arithmetic is the fake-clock test's below.
    const wait = body.data.generateVideo.retryAfterSeconds;
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(10);
    expect(limited.headers.get('retry-after')).toBe(String(wait));
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(await rows(s)).toBe(before);
    // Queries are not limited; another key has its own bucket.
    expect((await gql(s.url, '{ usage { inFlight } }', {}, bearer(keys.acme))).data.usage.inFlight).toBe(3);
    expect((await (await send(keys.globex)).json()).data.generateVideo.__typename).toBe('GenerateVideoSuccess');
  });

  it('refills at the configured rate (fake clock)', () => {
    let now = 0;
    const limiter = createRateLimiter({ perMinute: 60, burst: 2, now: () => now });
    expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k')).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    now += 999;
    expect(limiter.take('k').allowed).toBe(false);
    now += 2;
    expect(limiter.take('k')).toMatchObject({ allowed: true, remaining: 0 });
    now += 60_000;
    expect(limiter.take('k')).toMatchObject({ allowed: true, remaining: 1, resetSeconds: 1 });
  });
});
