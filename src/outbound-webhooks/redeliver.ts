import type { PrismaClient } from '../db/index.ts';
import { visibleTo, type Caller } from '../generations/caller.ts';
import { WebhookDeliveryNotFoundError } from './errors.ts';

/**
 * Sends a delivery again, with the same webhook-id (receivers that already have it de-duplicate): it becomes
 * PENDING and due now, with a fresh round of the retry schedule. A claim in flight is dropped, so that attempt's
 * late result cannot overwrite the new round. A foreign id is an unknown one.
 */
export async function redeliverWebhook(db: PrismaClient, caller: Caller, id: string) {
  const tenant = visibleTo(caller).tenantId ?? null;
  const count = await db.$executeRaw`
    UPDATE "WebhookDelivery"
       SET status = 'PENDING', "roundStart" = attempts, "nextAttemptAt" = timezone('UTC', now()),
           "claimToken" = NULL, "claimExpiresAt" = NULL
     WHERE id = ${id}::uuid AND (${tenant}::text IS NULL OR "tenantId" = ${tenant}::text)`;
  if (count === 0) throw new WebhookDeliveryNotFoundError(id);
  return db.webhookDelivery.findUniqueOrThrow({ where: { id } });
}
