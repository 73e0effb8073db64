import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrate, type Database, type PrismaClient } from '../../src/db/index.ts';
import { computeProgress, createProgressEstimator, type ProgressSubject } from '../../src/generations/estimate-progress.ts';

const NOW = Date.parse('2026-12-04T12:00:00.000Z');
const at = (secondsAgo: number) => new Date(NOW - secondsAgo * 1000);

const subject = (over: Partial<ProgressSubject> = {}): ProgressSubject => ({
  status: 'IN_PROGRESS',
  endpointId: 'kling',
  duration: 5,
  generateAudio: false,
  createdAt: at(10),
  startedAt: at(6),
  completedAt: null,
  ...over,
});

describe('computeProgress', () => {
  const medians = { waitMs: 4_000, runMs: 20_000, samples: 3 };

  it('is 1 with no time left once finished, whatever the history', () => {
    for (const status of ['COMPLETED', 'FAILED', 'CANCELLED'] as const)
      expect(computeProgress(subject({ status, completedAt: at(1) }), null, NOW)).toEqual({
        fraction: 1,
        etaSeconds: 0,
        estimatedCompletionAt: at(1),
      });
  });

  it('has no basis without medians', () => {
    expect(computeProgress(subject(), null, NOW)).toEqual({ fraction: null, etaSeconds: null, estimatedCompletionAt: null });
  });

  it('running: the rest of the median run; queued: the rest of the median wait and a whole run', () => {
    // Started 6 s ago, median run 20 s: 14 s left of 24 s in all.
    expect(computeProgress(subject(), medians, NOW)).toEqual({
      fraction: 10 / 24,
      etaSeconds: 14,
      estimatedCompletionAt: new Date(NOW + 14_000),
    });
    // Queued for 1 s of a usual 4: 3 s more, then 20.
    const queued = computeProgress(subject({ status: 'IN_QUEUE', createdAt: at(1), startedAt: null }), medians, NOW);
    expect(queued).toEqual({ fraction: 1 / 24, etaSeconds: 23, estimatedCompletionAt: new Date(NOW + 23_000) });
  });

  it('stays strictly between 0 and 1 while active, and at least a second away', () => {
    const fresh = computeProgress(subject({ status: 'PENDING', createdAt: new Date(NOW), startedAt: null }), medians, NOW);
    expect(fresh.fraction).toBe(0.01);
    const overdue = computeProgress(subject({ createdAt: at(600), startedAt: at(500) }), medians, NOW);
    expect(overdue).toEqual({ fraction: 0.99, etaSeconds: 1, estimatedCompletionAt: new Date(NOW + 1_000) });
  });
});

describe('createProgressEstimator on a real database', () => {
  let db: Database;
  beforeAll(async () => {
    db = await createDb({ kind: 'pglite', dataDir: null });
    await migrate(db);
    const base = { backend: 'SIMULATOR', endpointId: 'kling', imageUrl: 'i', shotType: 'customize', falInput: {} } as const;
    const completed = (duration: number, waitS: number, runS: number, agoS = 60, status: 'COMPLETED' | 'FAILED' = 'COMPLETED') => ({
      ...base,
      duration,
      generateAudio: false,
      status,
      createdAt: at(agoS + waitS + runS),
      startedAt: at(agoS + runS),
      completedAt: at(agoS),
    });
    await db.prisma.generation.createMany({
      data: [
        // 5 s clips: waits 2, 4, 6 s and runs 10, 20, 30 s count; a failure and an 8-day-old one do not.
        completed(5, 2, 10),
        completed(5, 4, 20),
        completed(5, 6, 30),
        completed(5, 100, 100, 60, 'FAILED'),
        completed(5, 100, 100, 8 * 86_400),
        // 10 s clips: only two samples.
        completed(10, 1, 1),
        completed(10, 1, 1),
      ],
    });
  });
  afterAll(() => db?.close());

  it('answers a whole page with one query, then from its cache until it expires', async () => {
    let clock = NOW;
    let queries = 0;
    // The real client, counting the statements the estimator sends.
    const counted = new Proxy(db.prisma, {
      get: (target, property, receiver) =>
        property === '$queryRaw'
          ? (...args: Parameters<PrismaClient['$queryRaw']>) => {
              queries += 1;
              return target.$queryRaw(...args);
            }
          : Reflect.get(target, property, receiver),
    });
    const estimator = createProgressEstimator(counted, { cacheMs: 10_000, now: () => clock });
    const page = Array.from({ length: 50 }, (_, i) => subject({ duration: i % 2 ? 10 : 5 }));
    const results = await Promise.all(page.map((g) => estimator.estimate(g)));
    expect(queries).toBe(1);
    // Medians 4 s and 20 s; started 6 s ago: 14 s left.
    expect(results[0]).toEqual({ fraction: 10 / 24, etaSeconds: 14, estimatedCompletionAt: new Date(NOW + 14_000) });
    expect(results[1]).toEqual({ fraction: null, etaSeconds: null, estimatedCompletionAt: null });

    clock += 5_000;
    // The key with a basis comes from the cache; the one without is asked again (once for the whole page),
    // because "no basis" is never cached: the next completed generation may give it one.
    await Promise.all(page.filter((_, i) => i % 2 === 0).map((g) => estimator.estimate(g)));
    expect(queries).toBe(1);
    await Promise.all(page.map((g) => estimator.estimate(g)));
    expect(queries).toBe(2);
    // Finished generations never need the history.
    await estimator.estimate(subject({ status: 'COMPLETED', completedAt: at(0) }));
    expect(queries).toBe(2);
    clock += 6_000;
    await estimator.estimate(page[0]);
    expect(queries).toBe(3);
  });
});
