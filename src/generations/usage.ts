import { ACTIVE_STATUSES } from './status.ts';
import type { RunSql } from './store-sql.ts';

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

// Our own enum's literals, never input.
const ACTIVE = ACTIVE_STATUSES.map((status) => `'${status}'`).join(', ');

/**
 * One pass over the tenant's rows of this month (and any still in flight). $1 tenant, $2 start of the UTC day,
 * $3 start of the UTC month. Plain SQL on the driver (store-sql.ts' conventions), since the quota check runs it
 * inside every submission's locked transaction.
 */
export const TENANT_USAGE_SQL = `
  SELECT
    count(*) FILTER (WHERE status IN (${ACTIVE}))::int AS "inFlight",
    coalesce(sum("estimatedCostMicros") FILTER (WHERE status IN (${ACTIVE})), 0)::float8 AS "inFlightCost",
    coalesce(sum("estimatedCostMicros") FILTER (WHERE "createdAt" >= $2::timestamp(3) AND billable), 0)::float8 AS "dayCost",
    (count(*) FILTER (WHERE "createdAt" >= $2::timestamp(3) AND billable))::int AS "dayCount",
    coalesce(sum("estimatedCostMicros") FILTER (WHERE billable), 0)::float8 AS "monthCost",
    (count(*) FILTER (WHERE billable))::int AS "monthCount"
  FROM (
    SELECT status, "estimatedCostMicros", "createdAt",
           NOT (status = 'FAILED' OR (status = 'CANCELLED' AND "startedAt" IS NULL)) AND "createdAt" >= $3::timestamp(3) AS billable
    FROM "Generation"
    WHERE "tenantId" = $1::text
      AND ("createdAt" >= $3::timestamp(3) OR status IN (${ACTIVE}))
  ) AS g`;

export async function readTenantUsage(run: RunSql, tenantId: string, now = new Date()): Promise<TenantUsage> {
  const { dayStart, monthStart } = periodStarts(now);
  const rows = await run<Record<string, number | string | bigint>>(TENANT_USAGE_SQL, [
    tenantId,
    dayStart.toISOString(),
    monthStart.toISOString(),
  ]);
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
