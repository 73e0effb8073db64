import type { PrismaClient } from '../db/index.ts';
import type { Logger } from '../logger.ts';
import type { GenerationEvent } from './events.ts';
import type { GenerationStore } from './store.ts';
import { errorMessage } from '../lib/errors.ts';

export const SUBMISSION_UNKNOWN = {
  code: 'SUBMISSION_UNKNOWN',
  message:
    'the server stopped while submitting this request; fal may or may not have received it, and it was not resubmitted to avoid paying twice',
} as const;

/** Orphans judged per statement; a longer backlog is worked through batch after batch in the same pass. */
const BATCH = 100;

/**
 * How often each instance looks for orphans: as often as it looks for untracked generations (LEASE_SCAN_MS),
 * or four times per ORPHAN_AFTER_S when that is shorter, so an orphan is failed at most a quarter of its
 * grace period late. The query is one index lookup on status, cheap enough for every instance to run.
 */
export function orphanScanIntervalMs(leaseScanMs: number, orphanAfterSeconds: number): number {
  return Math.max(50, Math.min(leaseScanMs, Math.floor((orphanAfterSeconds * 1000) / 4)));
}

export interface OrphanResolverDeps {
  db: PrismaClient;
  store: GenerationStore;
  publish: (tenantId: string) => (events: GenerationEvent[]) => void;
  logger: Logger;
  orphanAfterSeconds: number;
  /**
   * True while this instance knows the generation's fal request id but could not store it yet (the database
   * refused the write; it is retried). Such a row is not an orphan: it is skipped here. Other instances
   * cannot know, so for them age alone (ORPHAN_AFTER_S) protects it.
   */
  recordPending: (generationId: string) => boolean;
}

/**
 * Orphans: generations left PENDING without a fal request id, because a process died between writing the
 * row and storing fal's answer (or during the submit). They are never resubmitted (fal may have the first
 * one, and a second would be paid twice). A webhook that arrives for one matches it (handleWebhook records
 * the request id from `?generation=`); otherwise, once it is older than ORPHAN_AFTER_S, it is failed with
 * SUBMISSION_UNKNOWN, which frees its quota slot and costs the tenant nothing.
 *
 * Every instance runs this, periodically. No lease is needed: the verdict is one guarded write (still
 * PENDING, still without a request id, still older than the grace period, on the database's clock), so of
 * several instances judging the same row exactly one writes the FAILED event, and a row a webhook matched a
 * moment earlier is left alone.
 */
export function createOrphanResolver(deps: OrphanResolverDeps) {
  const { db, store, logger, orphanAfterSeconds } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;

  async function pass(): Promise<number> {
    let failed = 0;
    const skipped = new Set<string>();
    for (;;) {
      const rows = await db.$queryRaw<Array<{ id: string; tenantId: string }>>`
        SELECT id::text AS id, "tenantId" FROM "Generation"
         WHERE status = 'PENDING' AND "falRequestId" IS NULL
           AND "createdAt" < timezone('UTC', now()) - make_interval(secs => ${orphanAfterSeconds}::int)
           AND NOT (id::text = ANY(${[...skipped]}::text[]))
         ORDER BY "createdAt" LIMIT ${BATCH}`;
      for (const row of rows) {
        if (deps.recordPending(row.id)) {
          skipped.add(row.id);
          continue;
        }
        const event = await store.transition(row.id, 'FAILED', {
          error: SUBMISSION_UNKNOWN,
          onlyFrom: ['PENDING'],
          unsubmittedForSeconds: orphanAfterSeconds,
        });
        if (event) {
          deps.publish(row.tenantId)([event]);
          failed += 1;
        }
      }
      if (rows.length < BATCH) break;
    }
    if (failed > 0) logger.warn(`${failed} generation(s) were interrupted during submission and failed with SUBMISSION_UNKNOWN`);
    return failed;
  }

  /** One pass now (joined if one is already running); resolves with the orphans this instance failed. */
  function resolve(): Promise<number> {
    running ??= pass().finally(() => (running = null));
    return running;
  }

  return {
    resolve,
    /** Repeats the pass every intervalMs in the background until stop(). */
    start(intervalMs: number): void {
      if (timer) return;
      timer = setInterval(() => {
        if (running) return;
        resolve().catch((error: unknown) => logger.warn(`orphan scan failed: ${errorMessage(error)}`));
      }, intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => undefined);
    },
  };
}

export type OrphanResolver = ReturnType<typeof createOrphanResolver>;
