import type { Generation } from '../db/index.ts';
import type { GenerationEvent } from './events.ts';
import { targetOf, type DomainContext } from './context.ts';
import { isTerminal } from './status.ts';
import { backoffDelay } from '../lib/backoff.ts';
import { errorMessage } from '../lib/errors.ts';
import { sqlRunner } from './store-sql.ts';
import { QUEUE_SUBMITTED_SQL } from './submit-sql.ts';

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
  const run = sqlRunner(db, deps.sql);
  /** fal request ids this instance holds but could not store yet, by generation. */
  const unrecorded = new Map<string, string>();
  let stopping = false;

  async function settle(
    created: Generation,
    falRequestId: string,
    queuePosition: number | null,
    announce: (events: GenerationEvent[]) => void,
  ): Promise<Generation> {
    const { id } = created;
    const at = new Date();
    // The usual case in one statement: the row is still PENDING as the submit left it. A failure here is not
    // final: the general path below stores the request id on its own first, so it is kept even when the
    // IN_QUEUE write is what fails, and it throws if storage is really down.
    const queued = await run<{ sequence: number }>(QUEUE_SUBMITTED_SQL, [id, falRequestId, queuePosition, at.toISOString()]).catch(
      () => [],
    );
    if (queued.length === 1) {
      const sequence = Number(queued[0].sequence);
      announce([{ kind: 'STATUS', generationId: id, sequence, status: 'IN_QUEUE', queuePosition, at }]);
      // The row is what this statement made of the one just inserted: no need to read it back.
      const row: Generation = { ...created, falRequestId, status: 'IN_QUEUE', queuePosition, lastSequence: sequence, updatedAt: at };
      await trackers.claim(targetOf(row), { lastSequence: sequence });
      return row;
    }
    await store.recordSubmission(id, falRequestId);
    const event = await store.transition(id, 'IN_QUEUE', { queuePosition });
    if (event) announce([event]);
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
  async function retry(
    created: Generation,
    falRequestId: string,
    queuePosition: number | null,
    announce: (events: GenerationEvent[]) => void,
  ) {
    const { id } = created;
    for (let attempt = 1; !stopping; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, RECORD_RETRY)).unref());
      if (stopping) return;
      try {
        await settle(created, falRequestId, queuePosition, announce);
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
    retryInBackground(
      created: Generation,
      falRequestId: string,
      queuePosition: number | null,
      announce: (events: GenerationEvent[]) => void,
    ) {
      unrecorded.set(created.id, falRequestId);
      void retry(created, falRequestId, queuePosition, announce);
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
