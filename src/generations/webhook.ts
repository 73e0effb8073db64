import type { Prisma } from '../db/index.ts';
import { webhookOutcome, type FalWebhookDelivery } from '../fal/webhook-payload.ts';
import { addLogContext, logScope } from '../log/context.ts';
import { topics } from '../pubsub/index.ts';
import { targetOf, type DomainContext } from './context.ts';
import { isTerminal } from './status.ts';

/** A webhook delivery after its signature was verified (protocol §7.2). */
export type VerifiedWebhook = FalWebhookDelivery;

export type WebhookOutcome = 'applied' | 'already-finished' | 'unknown';

/**
 * The webhook verb. A verified fal webhook feeds the same guarded state machine as the stream and polling: it
 * records a request id we never stored (an orphan), remembers the outcome, and has the tracker catch up now
 * (logs first, then the result), so completion is recorded once whichever report arrives first.
 */
export function createWebhookHandler(ctx: DomainContext) {
  const { deps, store, trackers } = ctx;
  const { db, logger } = deps;
  return logScope(async (hook: VerifiedWebhook): Promise<WebhookOutcome> => {
    addLogContext({ falRequestId: hook.requestId });
    let row = hook.generationId ? await db.generation.findUnique({ where: { id: hook.generationId } }) : null;
    if (row && row.falRequestId && row.falRequestId !== hook.requestId) row = null;
    row ??= await db.generation.findUnique({ where: { falRequestId: hook.requestId } });
    if (!row) return 'unknown';
    addLogContext({ generationId: row.id, tenantId: row.tenantId });
    if (isTerminal(row.status)) return 'already-finished';
    if (!row.falRequestId) {
      if (!(await store.recordSubmission(row.id, hook.requestId))) return 'unknown';
      logger.info(`generation ${row.id}: matched fal request ${hook.requestId} by its webhook`);
      row = await db.generation.findUniqueOrThrow({ where: { id: row.id } });
    }
    const outcome = webhookOutcome(hook) as unknown as Prisma.InputJsonObject;
    await db.generation.update({ where: { id: row.id }, data: { webhookOutcome: outcome } });
    // Whoever holds the tracking lease catches up now: us (restart or claim), or another instance (nudge).
    if (!(await trackers.restart(targetOf(row)))) deps.bus.publish(topics.trackingNudge, { id: row.id });
    return 'applied';
  });
}
