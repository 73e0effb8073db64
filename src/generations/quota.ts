import type { Prisma } from '../db/index.ts';
import { microsToUsd } from '../billing/prices.ts';
import type { TenantQuotas } from './context.ts';
import { QuotaExceededError } from './errors.ts';
import { readTenantUsage } from './usage.ts';

/**
 * Refuses a new generation that would exceed one of the tenant's limits. Runs inside the submission's
 * per-tenant locked transaction (src/generations/submit.ts), so the check and the insert are one step.
 */
export async function checkQuotas(tx: Prisma.TransactionClient, quotas: TenantQuotas, tenantId: string, costMicros: number): Promise<void> {
  const { maxConcurrent, dailyBudgetMicros, monthlyBudgetMicros } = quotas;
  if (maxConcurrent === null && dailyBudgetMicros === null && monthlyBudgetMicros === null) return;
  const usage = await readTenantUsage(tx, tenantId);
  if (maxConcurrent !== null && usage.inFlight + 1 > maxConcurrent) {
    throw new QuotaExceededError('CONCURRENT_GENERATIONS', maxConcurrent, usage.inFlight, 1);
  }
  if (dailyBudgetMicros !== null && usage.dayCostMicros + costMicros > dailyBudgetMicros) {
    throw new QuotaExceededError('DAILY_SPEND', microsToUsd(dailyBudgetMicros), microsToUsd(usage.dayCostMicros), microsToUsd(costMicros));
  }
  if (monthlyBudgetMicros !== null && usage.monthCostMicros + costMicros > monthlyBudgetMicros) {
    throw new QuotaExceededError(
      'MONTHLY_SPEND',
      microsToUsd(monthlyBudgetMicros),
      microsToUsd(usage.monthCostMicros),
      microsToUsd(costMicros),
    );
  }
}
