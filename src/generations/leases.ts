import type { PrismaClient } from '../db/index.ts';
import { ACTIVE_STATUS_SQL } from './status-sql.ts';

/**
 * Tracking leases: each in-flight generation is followed upstream by exactly one instance at a time, the
 * one whose lease row (leaseOwner, leaseExpiresAt) is current. Every comparison uses the database's clock,
 * so instances with skewed clocks still agree on who holds what. A holder renews well before expiry; an
 * instance that dies simply stops renewing, and another takes over once the lease has expired.
 */
export function createLeases(db: PrismaClient, instanceId: string, ttlMs: number) {
  const ttl = `${Math.max(1, Math.round(ttlMs))} milliseconds`;
  return {
    instanceId,

    /** Takes the lease if it is free, expired, or already ours. */
    async acquire(id: string): Promise<boolean> {
      const count = await db.$executeRaw`
        UPDATE "Generation"
           SET "leaseOwner" = ${instanceId}, "leaseExpiresAt" = timezone('UTC', now()) + ${ttl}::interval
         WHERE id = ${id}::uuid
           AND status IN (${ACTIVE_STATUS_SQL})
           AND ("leaseOwner" IS NULL OR "leaseOwner" = ${instanceId} OR "leaseExpiresAt" < timezone('UTC', now()))`;
      return count === 1;
    },

    /** Extends every lease we still hold among `ids`; returns the ids we hold. */
    async renew(ids: string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const rows = await db.$queryRaw<Array<{ id: string }>>`
        UPDATE "Generation"
           SET "leaseExpiresAt" = timezone('UTC', now()) + ${ttl}::interval
         WHERE id = ANY(${ids}::uuid[]) AND "leaseOwner" = ${instanceId}
        RETURNING id::text AS id`;
      return new Set(rows.map((r) => r.id));
    },

    /** Gives leases back at once (graceful stop), so another instance need not wait for them to expire. */
    async release(ids: string[]): Promise<void> {
      if (ids.length === 0) return;
      await db.$executeRaw`
        UPDATE "Generation" SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL
         WHERE id = ANY(${ids}::uuid[]) AND "leaseOwner" = ${instanceId}`;
    },

    /** In-flight generations fal knows about that nobody (alive) is tracking. */
    async unclaimed(limit: number): Promise<string[]> {
      const rows = await db.$queryRaw<Array<{ id: string }>>`
        SELECT id::text AS id FROM "Generation"
         WHERE status IN (${ACTIVE_STATUS_SQL}) AND "falRequestId" IS NOT NULL
           AND ("leaseOwner" IS NULL OR "leaseExpiresAt" < timezone('UTC', now()))
         ORDER BY "createdAt" LIMIT ${limit}`;
      return rows.map((r) => r.id);
    },
  };
}

export type Leases = ReturnType<typeof createLeases>;
