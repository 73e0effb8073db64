import { microsToUsd } from '../billing/prices.ts';
import type { TenantQuotas } from './context.ts';
import { QuotaExceededError } from './errors.ts';
import type { RunSql } from './store-sql.ts';
import { readTenantUsage } from './usage.ts';

export const hasQuotas = (quotas: TenantQuotas): boolean =>
  quotas.maxConcurrent !== null || quotas.dailyBudgetMicros !== null || quotas.monthlyBudgetMicros !== null;

/**
 * Why a new generation would exceed one of the tenant's limits, or null when it fits. Runs inside the
 * submission's per-tenant locked transaction (src/generations/submit.ts), so the check and the insert are one
 * step. The refusal is returned, not thrown, so the transaction ends normally (a throw would cost the connection).
 */
export async function checkQuotas(
  run: RunSql,
  quotas: TenantQuotas,
  tenantId: string,
  costMicros: number,
): Promise<QuotaExceededError | null> {
  const { maxConcurrent, dailyBudgetMicros, monthlyBudgetMicros } = quotas;
  if (!hasQuotas(quotas)) return null;
  const usage = await readTenantUsage(run, tenantId);
  if (maxConcurrent !== null && usage.inFlight + 1 > maxConcurrent) {
    return new QuotaExceededError('CONCURRENT_GENERATIONS', maxConcurrent, usage.inFlight, 1);
  }
  if (dailyBudgetMicros !== null && usage.dayCostMicros + costMicros > dailyBudgetMicros) {
    return new QuotaExceededError('DAILY_SPEND', microsToUsd(dailyBudgetMicros), microsToUsd(usage.dayCostMicros), microsToUsd(costMicros));
  }
  if (monthlyBudgetMicros !== null && usage.monthCostMicros + costMicros > monthlyBudgetMicros) {
    return new QuotaExceededError(
      'MONTHLY_SPEND',
      microsToUsd(monthlyBudgetMicros),
      microsToUsd(usage.monthCostMicros),
      microsToUsd(costMicros),
    );
  }
  return null;
}
