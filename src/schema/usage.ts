import { GraphQLError } from 'graphql';
import { microsToUsd } from '../billing/prices.ts';
import type { TenantUsage } from '../generations/usage.ts';
import type { TenantQuotas } from '../generations/service.ts';
import { builder } from './builder.ts';

type UsageView = TenantUsage & { quotas: TenantQuotas; tenantId: string };
interface PeriodView {
  since: Date;
  costMicros: number;
  count: number;
  budgetMicros: number | null;
}

const UsagePeriodRef = builder.objectRef<PeriodView>('UsagePeriod').implement({
  description: 'Estimated spend in one UTC calendar period (generations that failed, or were cancelled before starting, cost nothing).',
  fields: (t) => ({
    since: t.field({
      type: 'DateTime',
      description: 'Start of the period (00:00 UTC today, or of the 1st of the month).',
      resolve: (p) => p.since,
    }),
    estimatedCost: t.float({ description: 'Estimated spend in this period, in US dollars.', resolve: (p) => microsToUsd(p.costMicros) }),
    generations: t.exposeInt('count', {
      description: 'Generations created in this period that count towards spend (not FAILED, not CANCELLED before starting).',
    }),
    budget: t.float({
      nullable: true,
      description: "The tenant's spend limit for this period, in US dollars; null = none.",
      resolve: (p) => (p.budgetMicros === null ? null : microsToUsd(p.budgetMicros)),
    }),
    remaining: t.float({
      nullable: true,
      description: 'What is left of the budget in US dollars; null = no budget.',
      resolve: (p) => (p.budgetMicros === null ? null : microsToUsd(Math.max(0, p.budgetMicros - p.costMicros))),
    }),
  }),
});

const UsageRef = builder.objectRef<UsageView>('Usage').implement({
  description: "The caller's tenant: spend today and this month, what is in flight, and the limits.",
  fields: (t) => ({
    tenantId: t.exposeString('tenantId', { description: 'The tenant these figures are for.' }),
    today: t.field({
      type: UsagePeriodRef,
      description: 'Since 00:00 UTC today.',
      resolve: (u) => ({ since: u.dayStart, costMicros: u.dayCostMicros, count: u.dayCount, budgetMicros: u.quotas.dailyBudgetMicros }),
    }),
    thisMonth: t.field({
      type: UsagePeriodRef,
      description: 'Since 00:00 UTC on the 1st of this month.',
      resolve: (u) => ({
        since: u.monthStart,
        costMicros: u.monthCostMicros,
        count: u.monthCount,
        budgetMicros: u.quotas.monthlyBudgetMicros,
      }),
    }),
    inFlight: t.exposeInt('inFlight', { description: 'Generations PENDING, IN_QUEUE or IN_PROGRESS now.' }),
    maxConcurrent: t.int({
      nullable: true,
      description: 'The most that may be in flight at once; null = no limit.',
      resolve: (u) => u.quotas.maxConcurrent,
    }),
    estimatedCost: t.float({
      description: 'Estimated cost of the generations in flight, in US dollars.',
      resolve: (u) => microsToUsd(u.inFlightCostMicros),
    }),
  }),
});

builder.queryField('usage', (t) =>
  t.field({
    type: UsageRef,
    description: "Spend and limits of the caller's tenant (an admin key may name any tenant).",
    args: { tenantId: t.arg.string({ required: false, description: 'Admin keys only; others may only name their own tenant.' }) },
    resolve: async (_root, args, ctx) => {
      const tenantId = args.tenantId ?? ctx.caller.tenantId;
      if (tenantId !== ctx.caller.tenantId && !ctx.caller.admin) {
        throw new GraphQLError("Only an admin key can read another tenant's usage", { extensions: { code: 'FORBIDDEN' } });
      }
      return { ...(await ctx.generations.usage({ tenantId })), tenantId };
    },
  }),
);
