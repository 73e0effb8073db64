import { addLogContext, logScope } from '../log/context.ts';
import { visibleTo, type Caller } from './caller.ts';
import type { DomainContext } from './context.ts';
import { GenerationAlreadyFinishedError, GenerationNotFoundError } from './errors.ts';
import { isTerminal } from './status.ts';

/**
 * The cancel verb: cancels at fal. Queued (or not yet submitted) -> CANCELLED at once; running -> fal is asked
 * and the generation ends however fal reports it (`cancelRequested`); finished -> GenerationAlreadyFinishedError.
 */
export function createCancel(ctx: DomainContext) {
  const { deps, store, trackers, publish } = ctx;
  const { db, fal } = deps;
  return logScope(async (id: string, caller: Caller) => {
    const row = await db.generation.findFirst({ where: { id, ...visibleTo(caller) } });
    if (!row) throw new GenerationNotFoundError(id);
    addLogContext({ generationId: row.id, tenantId: row.tenantId, falRequestId: row.falRequestId ?? undefined });
    if (isTerminal(row.status)) throw new GenerationAlreadyFinishedError(row.id, row.status);
    if (row.falRequestId) {
      // Recorded before fal is asked: fal ends a cancelled request with an error result, which the tracker can
      // see before the CANCELLED write below lands, and must then record as CANCELLED, not FAILED (that race
      // answered a queued cancel with GenerationAlreadyFinishedError now and then).
      const askedAt = new Date();
      const marked = await db.generation.updateMany({
        where: { id: row.id, cancelRequestedAt: null },
        data: { cancelRequestedAt: askedAt },
      });
      const outcome = await fal.cancel(row.endpointId, row.falRequestId);
      if (outcome === 'already-completed') {
        // fal finished first, whichever way: take our mark back, so a failure of its own stays a failure.
        if (marked.count > 0)
          await db.generation.updateMany({ where: { id: row.id, cancelRequestedAt: askedAt }, data: { cancelRequestedAt: null } });
        // The tracker records how it ended (it may still be fetching the result).
        throw new GenerationAlreadyFinishedError(row.id, 'COMPLETED');
      }
    }
    if (row.status === 'PENDING' || row.status === 'IN_QUEUE') {
      const event = await store.transition(row.id, 'CANCELLED', { onlyFrom: ['PENDING', 'IN_QUEUE'] });
      if (event) {
        publish(row.tenantId)([event]);
        trackers.stopTracking(row.id);
        return { generation: await db.generation.findUniqueOrThrow({ where: { id: row.id } }), cancelRequested: false };
      }
    }
    // Running at fal: the cancel was sent; fal decides whether and how it stops.
    await db.generation.updateMany({ where: { id: row.id, cancelRequestedAt: null }, data: { cancelRequestedAt: new Date() } });
    const current = await db.generation.findUniqueOrThrow({ where: { id: row.id } });
    if (isTerminal(current.status) && current.status !== 'CANCELLED') throw new GenerationAlreadyFinishedError(row.id, current.status);
    // A running generation was asked at fal whatever happened since: fal may stop it at once, and its tracker may
    // record CANCELLED before the read above (a race a faster tracker wins more often).
    return { generation: current, cancelRequested: row.status === 'IN_PROGRESS' || current.status !== 'CANCELLED' };
  });
}
