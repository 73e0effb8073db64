import type { PrismaClient, SqlSession } from '../db/index.ts';
import { ACTIVE_STATUSES } from './status.ts';
import { sqlRunner } from './store-sql.ts';

// Our own enum's literals, never input.
const ACTIVE = ACTIVE_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * The lease statements, on the driver (store-sql.ts' conventions): acquire runs once for every new generation,
 * renew and release for every tracker, so Prisma's per-call cost would show in the submission's profile.
 * $1 id(s), $2 this instance, $3 time to live as an interval.
 */
export const ACQUIRE_LEASE_SQL = `
  UPDATE "Generation"
     SET "leaseOwner" = $2::text, "leaseExpiresAt" = timezone('UTC', now()) + $3::interval
   WHERE id = $1::uuid
     AND status IN (${ACTIVE})
     AND ("leaseOwner" IS NULL OR "leaseOwner" = $2::text OR "leaseExpiresAt" < timezone('UTC', now()))
  RETURNING "lastSequence"`;

const RENEW_SQL = `
  UPDATE "Generation"
     SET "leaseExpiresAt" = timezone('UTC', now()) + $3::interval
   WHERE id = ANY($1::uuid[]) AND "leaseOwner" = $2::text
  RETURNING id::text AS id`;

const RELEASE_SQL = `
  UPDATE "Generation" SET "leaseOwner" = NULL, "leaseExpiresAt" = NULL
   WHERE id = ANY($1::uuid[]) AND "leaseOwner" = $2::text`;

const UNCLAIMED_SQL = `
  SELECT id::text AS id FROM "Generation"
   WHERE status IN (${ACTIVE}) AND "falRequestId" IS NOT NULL
     AND ("leaseOwner" IS NULL OR "leaseExpiresAt" < timezone('UTC', now()))
   ORDER BY "createdAt" LIMIT $1::int`;

/**
 * Tracking leases: each in-flight generation is followed upstream by exactly one instance at a time, the
 * one whose lease row (leaseOwner, leaseExpiresAt) is current. Every comparison uses the database's clock,
 * so instances with skewed clocks still agree on who holds what. A holder renews well before expiry; an
 * instance that dies simply stops renewing, and another takes over once the lease has expired.
 */
export function createLeases(db: PrismaClient, instanceId: string, ttlMs: number, sql?: SqlSession) {
  const run = sqlRunner(db, sql);
  const ttl = `${Math.max(1, Math.round(ttlMs))} milliseconds`;
  return {
    instanceId,

    /**
     * Takes the lease if it is free, expired, or already ours; null when another instance holds it (or the
     * generation is finished). With it comes the row's last event sequence as of taking it, so a caller that
     * knows the events written so far can tell that nobody else wrote any.
     */
    async acquire(id: string): Promise<{ lastSequence: number } | null> {
      const rows = await run<{ lastSequence: number }>(ACQUIRE_LEASE_SQL, [id, instanceId, ttl]);
      return rows.length === 1 ? { lastSequence: Number(rows[0].lastSequence) } : null;
    },

    /** Extends every lease we still hold among `ids`; returns the ids we hold. */
    async renew(ids: string[]): Promise<Set<string>> {
      if (ids.length === 0) return new Set();
      const rows = await run<{ id: string }>(RENEW_SQL, [ids, instanceId, ttl]);
      return new Set(rows.map((r) => r.id));
    },

    /** Gives leases back at once (graceful stop), so another instance need not wait for them to expire. */
    async release(ids: string[]): Promise<void> {
      if (ids.length === 0) return;
      await run(RELEASE_SQL, [ids, instanceId]);
    },

    /** In-flight generations fal knows about that nobody (alive) is tracking. */
    async unclaimed(limit: number): Promise<string[]> {
      const rows = await run<{ id: string }>(UNCLAIMED_SQL, [limit]);
      return rows.map((r) => r.id);
    },
  };
}

export type Leases = ReturnType<typeof createLeases>;
