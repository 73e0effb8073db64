/** Spend quotas and the mutation rate limit switched off: tests of other things (and benchmarks) submit in bursts. */
export const NO_LIMITS = {
  QUOTA_MAX_CONCURRENT: 'none',
  QUOTA_DAILY_USD: 'none',
  QUOTA_MONTHLY_USD: 'none',
  RATE_LIMIT_PER_MINUTE: 'none',
};
