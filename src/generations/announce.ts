import type { PrismaClient } from '../db/index.ts';
import { topics, type EventBus } from '../pubsub/index.ts';
import type { GenerationUpdatedMessage } from './events.ts';

/**
 * Tells list subscribers that a generation changed outside its event stream (its archive copy arrived or
 * failed). The message names the tenant, so the row is re-read for it; a row that is gone announces nothing.
 */
export async function announceUpdate(db: PrismaClient, bus: EventBus, generationId: string): Promise<void> {
  const row = await db.generation.findUnique({ where: { id: generationId }, select: { tenantId: true } });
  if (row) bus.publish<GenerationUpdatedMessage>(topics.generationsUpdated, { id: generationId, tenantId: row.tenantId });
}
