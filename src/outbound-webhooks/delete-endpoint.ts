import type { PrismaClient } from '../db/index.ts';
import { visibleTo, type Caller } from '../generations/caller.ts';
import { WebhookEndpointNotFoundError } from './errors.ts';

/**
 * Deletes an endpoint of the caller's tenant with its deliveries and their attempts (cascade): nothing more is
 * sent to it, and an attempt in flight finds its row gone and records nothing. A foreign id is an unknown one.
 */
export async function deleteWebhookEndpoint(db: PrismaClient, caller: Caller, id: string): Promise<{ id: string }> {
  const { count } = await db.webhookEndpoint.deleteMany({ where: { id, ...visibleTo(caller) } });
  if (count === 0) throw new WebhookEndpointNotFoundError(id);
  return { id };
}
