import { randomUUID } from 'node:crypto';
import type { PrismaClient } from '../db/index.ts';
import type { WebhookEventType } from './events.ts';
import type { EventSnapshot } from './payload.ts';

/** One due delivery this instance now holds the claim for, with what sending it needs. */
export interface ClaimedDelivery {
  id: string;
  claimToken: string;
  /** Attempts made before this one (the guard of the write that records it). */
  attempts: number;
  roundStart: number;
  generationId: string;
  eventType: WebhookEventType;
  snapshot: EventSnapshot;
  occurredAt: Date;
  url: string;
  secretCiphertext: string;
}

/**
 * Claims up to `limit` due deliveries (PENDING or RETRYING, nextAttemptAt passed, no live claim). FOR UPDATE
 * SKIP LOCKED makes concurrent instances take disjoint rows without waiting on each other; under READ
 * COMMITTED a row another instance claimed meanwhile is re-checked against its new claim and skipped. The
 * claim lasts `leaseMs` (longer than one attempt can take), so an instance that dies mid-attempt only delays
 * that delivery; every comparison uses the database's clock.
 */
export async function claimDueDeliveries(db: PrismaClient, options: { limit: number; leaseMs: number }): Promise<ClaimedDelivery[]> {
  const token = randomUUID();
  const lease = `${Math.max(1, Math.round(options.leaseMs))} milliseconds`;
  const rows = await db.$queryRaw<Array<Omit<ClaimedDelivery, 'claimToken'>>>`
    UPDATE "WebhookDelivery" d
       SET "claimToken" = ${token}, "claimExpiresAt" = timezone('UTC', now()) + ${lease}::interval
      FROM "WebhookEndpoint" e
     WHERE e.id = d."endpointId"
       AND d.id IN (
         SELECT id FROM "WebhookDelivery"
          WHERE status IN ('PENDING', 'RETRYING') AND "nextAttemptAt" <= timezone('UTC', now())
            AND ("claimExpiresAt" IS NULL OR "claimExpiresAt" < timezone('UTC', now()))
          ORDER BY "nextAttemptAt"
          LIMIT ${options.limit}
          FOR UPDATE SKIP LOCKED)
    RETURNING d.id::text AS id, d.attempts, d."roundStart", d."generationId"::text AS "generationId",
              d."eventType"::text AS "eventType", d.snapshot, d."occurredAt", e.url, e."secretCiphertext"`;
  return rows.map((row) => ({ ...row, claimToken: token }));
}

/** Gives a claim back unused (the instance is stopping), so another instance need not wait for it to lapse. */
export async function releaseClaim(db: PrismaClient, delivery: Pick<ClaimedDelivery, 'id' | 'claimToken'>): Promise<void> {
  await db.$executeRaw`
    UPDATE "WebhookDelivery" SET "claimToken" = NULL, "claimExpiresAt" = NULL
     WHERE id = ${delivery.id}::uuid AND "claimToken" = ${delivery.claimToken}`;
}
