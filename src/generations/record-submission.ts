import type { GenerationEvent } from './events.ts';
import { targetOf, type DomainContext } from './context.ts';
import { isTerminal } from './status.ts';
import { backoffDelay } from '../lib/backoff.ts';
import { errorMessage } from '../lib/errors.ts';

// Storing fal's request id after a failed write: first retry soon, then back off to every few seconds.
const RECORD_RETRY = { baseMs: 100, maxMs: 5_000 };

/**
 * After fal accepted a submit: stores its request id, moves the row to IN_QUEUE and starts tracking. Every
 * step is guarded and idempotent, so a retry after a failed write simply runs the whole thing again. While a
 * write keeps failing, the request id is held here (`pending`) and retried in the background: it is never
 * dropped, and the orphan scan leaves such rows alone.
 */
export function createSubmissionRecorder(ctx: DomainContext) {
  const { deps, store, trackers } = ctx;
  const { db, fal, logger } = deps;
  /** fal request ids this instance holds but could not store yet, by generation. */
  const unrecorded = new Map<string, string>();
  let stopping = false;

  async function settle(id: string, falRequestId: string, queuePosition: number | null, announce: (events: GenerationEvent[]) => void) {
    await store.recordSubmission(id, falRequestId);
    const queued = await store.transition(id, 'IN_QUEUE', { queuePosition });
    if (queued) announce([queued]);
    const row = await db.generation.findUniqueOrThrow({ where: { id } });
    if (row.status === 'CANCELLED') {
      // Cancelled while we were submitting: pass the cancel on, so fal does not run (and bill) it.
      await fal.cancel(deps.endpointId, falRequestId).catch(() => undefined);
    } else if (row.status === 'FAILED' && row.errorCode === 'SUBMISSION_UNKNOWN') {
      // The submit took longer than ORPHAN_AFTER_S and an orphan scan already gave up on it: the row stays
      // failed (what clients were told), so fal must not run it either. Cancel, and say so loudly.
      const outcome = await fal.cancel(deps.endpointId, falRequestId).catch(() => 'failed' as const);
      logger.warn(
        `generation ${id}: fal accepted request ${falRequestId} after it was failed as an orphan (SUBMISSION_UNKNOWN); cancel at fal: ${outcome}`,
      );
    } else if (!isTerminal(row.status)) {
      await trackers.claim(targetOf(row));
    }
    return row;
  }

  /** Retries settle with backoff until it lands (or the service stops). */
  async function retry(id: string, falRequestId: string, queuePosition: number | null, announce: (events: GenerationEvent[]) => void) {
    for (let attempt = 1; !stopping; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, RECORD_RETRY)).unref());
      if (stopping) return;
      try {
        await settle(id, falRequestId, queuePosition, announce);
        unrecorded.delete(id);
        logger.info(`generation ${id}: fal request ${falRequestId} recorded after ${attempt} retr${attempt === 1 ? 'y' : 'ies'}`);
        return;
      } catch (error) {
        if (attempt % 10 === 1) logger.warn(`generation ${id}: recording fal request ${falRequestId} still fails: ${errorMessage(error)}`);
      }
    }
  }

  return {
    settle,
    /** Holds the request id and keeps trying to record it in the background. */
    retryInBackground(id: string, falRequestId: string, queuePosition: number | null, announce: (events: GenerationEvent[]) => void) {
      unrecorded.set(id, falRequestId);
      void retry(id, falRequestId, queuePosition, announce);
    },
    /** True while this instance holds the generation's request id unrecorded (the orphan scan skips it). */
    isPending: (id: string) => unrecorded.has(id),
    stop(): void {
      stopping = true;
      for (const [id, requestId] of unrecorded)
        logger.error(`generation ${id}: stopping before fal request ${requestId} could be recorded; its webhook can still match it`);
    },
  };
}

export type SubmissionRecorder = ReturnType<typeof createSubmissionRecorder>;
