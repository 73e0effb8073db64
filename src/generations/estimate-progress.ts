import { Prisma, type PrismaClient } from '../db/index.ts';
import { isTerminal, type GenerationStatus } from './status.ts';

/**
 * Progress and ETA for a generation. fal reports only a queue position and log lines, so the estimate comes
 * from this server's own history: the median queue wait (createdAt -> startedAt) and the median run time
 * (startedAt -> completedAt) of recent completed generations with the same endpoint, duration and audio
 * setting. Every tenant's generations count: the timings are fal's, not the tenant's, and only medians leave
 * here.
 */

/** The columns of a generation the estimate reads. */
export interface ProgressSubject {
  status: GenerationStatus;
  endpointId: string;
  duration: number;
  generateAudio: boolean;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

/** Each part is null when there is no basis for it (too little recent history). */
export interface Progress {
  /** 0 to 1; strictly between while the generation is active, 1 once it has finished. */
  fraction: number | null;
  /** Whole seconds until it is expected to finish (rounded up); 0 once finished. */
  etaSeconds: number | null;
  /** When it is expected to finish (when it did, once finished). */
  estimatedCompletionAt: Date | null;
}

/** Median phase times of one (endpoint, duration, audio) key, in milliseconds. */
export interface PhaseMedians {
  waitMs: number;
  runMs: number;
  samples: number;
}

export const MIN_SAMPLES = 3;
export const SAMPLE_WINDOW_MS = 7 * 24 * 60 * 60 * 1000;
/** How long medians are reused: a busy dashboard asks every second, and they move slowly. */
export const MEDIANS_CACHE_MS = 10_000;
/** An active generation past its median is "about to finish", never finished: fraction < 1, ETA >= 1 s. */
const MIN_REMAINING_MS = 1_000;
const FRACTION_FLOOR = 0.01;
const FRACTION_CEILING = 0.99;

const NO_BASIS: Progress = { fraction: null, etaSeconds: null, estimatedCompletionAt: null };

/** The estimate itself, given the medians for the generation's key (null: not enough history). */
export function computeProgress(g: ProgressSubject, medians: PhaseMedians | null, nowMs: number): Progress {
  if (isTerminal(g.status)) return { fraction: 1, etaSeconds: 0, estimatedCompletionAt: g.completedAt };
  if (!medians) return NO_BASIS;
  const elapsed = Math.max(0, nowMs - g.createdAt.getTime());
  const remaining =
    g.status === 'IN_PROGRESS' && g.startedAt
      ? medians.runMs - Math.max(0, nowMs - g.startedAt.getTime())
      : // Still queued: the rest of the usual wait (none once it is overdue), then a usual run.
        Math.max(0, medians.waitMs - elapsed) + medians.runMs;
  const left = Math.max(MIN_REMAINING_MS, remaining);
  const fraction = Math.min(FRACTION_CEILING, Math.max(FRACTION_FLOOR, elapsed / (elapsed + left)));
  return { fraction, etaSeconds: Math.ceil(left / 1000), estimatedCompletionAt: new Date(nowMs + left) };
}

export interface ProgressEstimator {
  estimate(generation: ProgressSubject): Promise<Progress>;
}

type Key = string;
const keyOf = (g: Pick<ProgressSubject, 'endpointId' | 'duration' | 'generateAudio'>): Key =>
  JSON.stringify([g.endpointId, g.duration, g.generateAudio]);

/**
 * One estimator per database (its cache is per process). Medians are read in batches: every key asked for in
 * the same turn of the event loop (a page of 50 generations, several requests at once) is answered by ONE
 * query, and then cached for MEDIANS_CACHE_MS, so a page costs at most one query, and usually none.
 */
export function createProgressEstimator(db: PrismaClient, options: { cacheMs?: number; now?: () => number } = {}): ProgressEstimator {
  const cacheMs = options.cacheMs ?? MEDIANS_CACHE_MS;
  const now = options.now ?? Date.now;
  const cache = new Map<Key, { at: number; medians: PhaseMedians | null }>();
  let batch: Map<Key, { subject: ProgressSubject; waiters: Array<PromiseWithResolvers<PhaseMedians | null>> }> | null = null;

  const flush = async (keys: NonNullable<typeof batch>) => {
    try {
      const found = await readMedians(
        db,
        [...keys.values()].map((k) => k.subject),
        new Date(now() - SAMPLE_WINDOW_MS),
      );
      const at = now();
      for (const [key, { waiters }] of keys) {
        const medians = found.get(key) ?? null;
        // "No basis yet" is not cached: the next completed generation may give one, and a caller must see it at once.
        if (medians) cache.set(key, { at, medians });
        for (const w of waiters) w.resolve(medians);
      }
    } catch (error) {
      for (const { waiters } of keys.values()) for (const w of waiters) w.reject(error);
    }
  };

  const medians = (g: ProgressSubject): Promise<PhaseMedians | null> => {
    const key = keyOf(g);
    const cached = cache.get(key);
    if (cached && now() - cached.at < cacheMs) return Promise.resolve(cached.medians);
    if (!batch) {
      const current = new Map() as NonNullable<typeof batch>;
      batch = current;
      // setImmediate, not a microtask: GraphQL resolves a list's items over several microtask turns.
      setImmediate(() => {
        batch = null;
        void flush(current);
      });
    }
    const waiter = Promise.withResolvers<PhaseMedians | null>();
    const entry = batch.get(key) ?? { subject: g, waiters: [] };
    entry.waiters.push(waiter);
    batch.set(key, entry);
    return waiter.promise;
  };

  return {
    async estimate(g) {
      if (isTerminal(g.status)) return computeProgress(g, null, now());
      return computeProgress(g, await medians(g), now());
    },
  };
}

/** One statement for every key: median phase times of completed generations since `since`, per key. */
async function readMedians(db: PrismaClient, keys: ProgressSubject[], since: Date): Promise<Map<Key, PhaseMedians>> {
  const tuples = keys.map((k) => Prisma.sql`(${k.endpointId}::text, ${k.duration}::int, ${k.generateAudio}::boolean)`);
  const rows = await db.$queryRaw<
    Array<{ endpointId: string; duration: number; generateAudio: boolean; samples: number; waitMs: number; runMs: number }>
  >`
    SELECT "endpointId", "duration", "generateAudio", count(*)::int AS samples,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "startedAt" - "createdAt") * 1000)::float8 AS "waitMs",
           percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM "completedAt" - "startedAt") * 1000)::float8 AS "runMs"
      FROM "Generation"
     WHERE ("endpointId", "duration", "generateAudio") IN (${Prisma.join(tuples)})
       AND "status" = 'COMPLETED' AND "startedAt" IS NOT NULL AND "completedAt" >= ${since}
     GROUP BY "endpointId", "duration", "generateAudio"
    HAVING count(*) >= ${MIN_SAMPLES}::int`;
  return new Map(
    rows.map((r) => [keyOf(r), { waitMs: Math.max(0, Number(r.waitMs)), runMs: Math.max(0, Number(r.runMs)), samples: r.samples }]),
  );
}
