import type { PrismaClient } from '../db/index.ts';
import type { ClaimedDelivery } from './claim-deliveries.ts';
import type { WebhookDeliveryStatus } from './events.ts';

export interface AttemptResult {
  delivered: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/**
 * Records one attempt and moves the delivery on: DELIVERED on a 2xx; else RETRYING after the schedule's next
 * wait, or FAILED once the schedule is used up. One guarded write (our claim, the attempt count we claimed at),
 * in a transaction with the attempt's log row, so a lapsed claim that another instance took over, or a
 * redelivery that started a new round meanwhile, is never overwritten. Returns the new status, or null when
 * the guard did not hold.
 */
export async function recordAttempt(
  db: PrismaClient,
  delivery: ClaimedDelivery,
  result: AttemptResult,
  options: { retryScheduleSeconds: readonly number[]; instanceId: string },
): Promise<WebhookDeliveryStatus | null> {
  const attempt = delivery.attempts + 1;
  const inRound = attempt - delivery.roundStart;
  const schedule = options.retryScheduleSeconds;
  const status: WebhookDeliveryStatus = result.delivered ? 'DELIVERED' : inRound > schedule.length ? 'FAILED' : 'RETRYING';
  const wait = `${status === 'RETRYING' ? schedule[inRound - 1] : 0} seconds`;
  return db.$transaction(async (tx) => {
    const count = await tx.$executeRaw`
      UPDATE "WebhookDelivery"
         SET attempts = ${attempt}, status = ${status}::"WebhookDeliveryStatus",
             "lastStatusCode" = ${result.statusCode}, "lastError" = ${result.error},
             "deliveredAt" = CASE WHEN ${result.delivered} THEN timezone('UTC', now()) ELSE "deliveredAt" END,
             "nextAttemptAt" = timezone('UTC', now()) + ${wait}::interval,
             "claimToken" = NULL, "claimExpiresAt" = NULL
       WHERE id = ${delivery.id}::uuid AND "claimToken" = ${delivery.claimToken} AND attempts = ${delivery.attempts}`;
    if (count !== 1) return null;
    await tx.webhookAttempt.create({
      data: {
        deliveryId: delivery.id,
        attempt,
        statusCode: result.statusCode,
        error: result.error,
        durationMs: result.durationMs,
        instanceId: options.instanceId,
      },
    });
    return status;
  });
}
