import type { Prisma, PrismaClient } from '../db/index.ts';
import { ACTIVE_STATUS_SQL } from './status-sql.ts';

/**
 * What a tenant has spent and has in flight, straight from the generation rows (the truth). A generation
 * counts towards spend unless fal will not bill it: it FAILED, or it was CANCELLED before it started.
 * Days and months are UTC calendar periods.
 */
export interface TenantUsage {
  inFlight: number;
  inFlightCostMicros: number;
  dayCostMicros: number;
  dayCount: number;
  monthCostMicros: number;
  monthCount: number;
  dayStart: Date;
  monthStart: Date;
}

export function periodStarts(now: Date): { dayStart: Date; monthStart: Date } {
  return {
    dayStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())),
    monthStart: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)),
  };
}

type Queryable = Pick<PrismaClient, '$queryRaw'> | Prisma.TransactionClient;

export async function readTenantUsage(db: Queryable, tenantId: string, now = new Date()): Promise<TenantUsage> {
  const { dayStart, monthStart } = periodStarts(now);
  const rows = await db.$queryRaw<Array<Record<string, bigint | number>>>`
    SELECT
      count(*) FILTER (WHERE "status" IN (${ACTIVE_STATUS_SQL}))::int AS "inFlight",
      coalesce(sum("estimatedCostMicros") FILTER (WHERE "status" IN (${ACTIVE_STATUS_SQL})), 0)::bigint AS "inFlightCost",
      coalesce(sum("estimatedCostMicros") FILTER (WHERE "createdAt" >= ${dayStart} AND billable), 0)::bigint AS "dayCost",
      (count(*) FILTER (WHERE "createdAt" >= ${dayStart} AND billable))::int AS "dayCount",
      coalesce(sum("estimatedCostMicros") FILTER (WHERE billable), 0)::bigint AS "monthCost",
      (count(*) FILTER (WHERE billable))::int AS "monthCount"
    FROM (
      SELECT "status", "estimatedCostMicros", "createdAt",
             NOT ("status" = 'FAILED' OR ("status" = 'CANCELLED' AND "startedAt" IS NULL)) AND "createdAt" >= ${monthStart} AS billable
      FROM "Generation"
      WHERE "tenantId" = ${tenantId}
        AND ("createdAt" >= ${monthStart} OR "status" IN (${ACTIVE_STATUS_SQL}))
    ) AS g`;
  const r = rows[0] ?? {};
  return {
    inFlight: Number(r.inFlight ?? 0),
    inFlightCostMicros: Number(r.inFlightCost ?? 0),
    dayCostMicros: Number(r.dayCost ?? 0),
    dayCount: Number(r.dayCount ?? 0),
    monthCostMicros: Number(r.monthCost ?? 0),
    monthCount: Number(r.monthCount ?? 0),
    dayStart,
    monthStart,
  };
}
