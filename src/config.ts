// Long on purpose: one schema of every environment variable, read once at the edge, so all errors print together.
import { z } from 'zod';
import { KLING_O3_STANDARD_PRICES, usdToMicros, type PriceTable } from './billing/prices.ts';

/**
 * Everything the server can be configured with, parsed once at the edge (src/cli) from the environment.
 * No other module reads process.env: they receive this object (or the part they need).
 */

export interface Config {
  http: { port: number; host: string };
  dataDir: string;
  database: { kind: 'pglite'; dataDir: string | null } | { kind: 'postgres'; url: string; poolSize: number };
  fal: {
    /** Resolved backend: `auto` becomes `fal` when a key is present, else `simulator`. */
    backend: 'fal' | 'simulator';
    key: string | null;
    /** Origins the fal client is redirected to (paths unchanged). Ignored for the simulator backend. */
    queueUrl: string;
    restUrl: string;
    endpointId: string;
  };
  tracking: {
    /** Poll interval when following a generation by polling instead of the status stream. */
    pollIntervalMs: number;
    /** Consecutive failed stream connections before a tracker settles on polling. */
    maxStreamFailures: number;
    /** While streaming, a status poll every this often catches a stream that stays open after completion. */
    streamSafetyPollMs: number;
  };
  /** Simulator timings for keyless local runs; tests pass their own. */
  simulator: { preset: 'realistic' | 'fast' };
  /** Our own externally reachable origin (fal webhooks, absolute video URLs); null when not configured. */
  publicUrl: string | null;
  webhooks: {
    /** Where fal's webhook signing keys are published (protocol §7.3). */
    jwksUrl: string;
    /** Allowed clock difference for X-Fal-Webhook-Timestamp. */
    toleranceSeconds: number;
    /** How long a failed result waits for a webhook that may still deliver the output. */
    graceMs: number;
  };
  deadlines: {
    /** fal's startTimeout (x-fal-request-timeout): seconds a request may wait before it starts; null = none. */
    startTimeoutSeconds: number | null;
    /** After this long the generation is cancelled at fal and failed with DEADLINE_EXCEEDED. */
    overallSeconds: number;
    /** A PENDING row without a fal request id older than this is an orphan (crash between write and submit). */
    orphanAfterSeconds: number;
  };
  archive: {
    /** Where finished videos are copied to (fal's URLs expire). */
    dir: string;
    maxAttempts: number;
    baseDelayMs: number;
    maxBytes: number;
    /** An S3-compatible bucket (ARCHIVE_URL); null = the local `dir`. With a bucket nothing is written to `dir`. */
    s3: {
      bucket: string;
      /** Key prefix without slashes at either end ('' = the bucket's root). */
      prefix: string;
      /** For S3-compatible services (R2, MinIO, Ceph); null = AWS. */
      endpoint: string | null;
      /** null = whatever the SDK's own configuration chain finds (AWS_PROFILE's region). */
      region: string | null;
      forcePathStyle: boolean;
      /** AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY when set; null = the AWS SDK's default chain (profiles, instance roles). Never logged. */
      credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | null;
    } | null;
    /** How /videos/ answers from a bucket: stream through this server, or redirect to a presigned URL. */
    delivery: 'proxy' | 'redirect';
    presignTtlSeconds: number;
    /** Hosts (maybe `*.` wildcards) downloads may also come from, besides fal's. */
    allowedHosts: string[];
  };
  /** Upper bound for a graceful stop (SIGTERM/SIGINT) before connections are cut. */
  shutdownTimeoutMs: number;
  /** LOG_FORMAT (null: json unless stdout is a terminal, decided by the entry point) and LOG_LEVEL. */
  log: LogSettings;
  /** Exact browser origins allowed to call the API (CORS); empty = same-origin only. */
  corsOrigins: string[];
  graphql: {
    /** GraphiQL at /graphql in a browser: on by default, off by default when NODE_ENV=production. */
    graphiql: boolean;
    /** Schema introspection: on by default, off by default when NODE_ENV=production. */
    introspection: boolean;
    maxBodyBytes: number;
    /** How often each WebSocket is pinged; one that has not answered the previous ping by then is dropped. */
    wsKeepAliveMs: number;
  };
  auth: {
    /**
     * `auto`: open (no key needed) only while no API key exists and the server listens on loopback;
     * `required`: every operation needs a key. A public interface is never open.
     */
    mode: 'auto' | 'required';
    /** How often open connections' keys are re-checked for revocation (their subscriptions end). */
    recheckMs: number;
  };
  /** Per-tenant limits, checked before anything is sent to fal; null = no limit. */
  quotas: { maxConcurrent: number | null; dailyBudgetMicros: number | null; monthlyBudgetMicros: number | null };
  prices: PriceTable;
  /** Mutations per API key (token bucket): `burst` at once, refilled at `perMinute`; null = off. */
  rateLimit: { perMinute: number; burst: number } | null;
  videoUrls: {
    /** Signs video URLs so a <video src> works without a header; null = generated once and kept in the database. */
    signingSecret: string | null;
    ttlSeconds: number;
  };
  uploads: { maxBytes: number };
  /** Redis for pub/sub between instances; null = in-process pub/sub (one instance). */
  redis: { url: string; prefix: string } | null;
  /** GET /metrics: open on a loopback bind; elsewhere it needs this bearer token (null: no /metrics there). */
  metrics: { token: string | null };
  /** Signed outbound webhooks (Standard Webhooks) to the endpoints tenants register. */
  outboundWebhooks: {
    /** A 2xx within this long counts as delivered. */
    timeoutMs: number;
    /** Seconds to wait before each retry; after the last one the delivery is FAILED. */
    retryScheduleSeconds: number[];
    /** Allow endpoint URLs on loopback, private, link-local and metadata addresses (tests, private networks). */
    allowPrivateUrls: boolean;
    /** How often each instance looks for due deliveries. */
    pollMs: number;
  };
  cluster: {
    /** This instance's name in tracking leases (default: host, pid and a random suffix). */
    instanceId: string | null;
    leaseTtlMs: number;
    leaseRenewMs: number;
    leaseScanMs: number;
    /** Idle subscribers re-check the database this often, to repair events lost in transit (Redis restart). */
    subscriptionRepairMs: number;
    /** Events one subscriber may have waiting before it counts as too slow (see generations/subscriptions.ts). */
    subscriptionBufferEvents: number;
  };
}

const port = z.coerce.number().int().min(0).max(65_535);
const httpUrl = z
  .string()
  .url()
  .refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL')
  .transform((u) => u.replace(/\/+$/, ''));
const postgresUrl = z.string().refine((u) => /^postgres(ql)?:\/\//.test(u), 'must be a postgres:// or postgresql:// URL');

/** A number, or `none` for no limit. */
const limit = (schema: z.ZodNumber) => z.union([z.literal('none'), z.coerce.number().pipe(schema)]);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export interface LogSettings {
  format: 'json' | 'pretty' | null;
  level: (typeof LOG_LEVELS)[number];
}
const LogEnv = {
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
};

/** Every variable the server reads, with its default (exported for the test that keeps .env.example complete). */
export const EnvSchema = z.object({
  PORT: port.default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./.data'),
  DATABASE_URL: postgresUrl.optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  FAL_KEY: z.string().min(1).optional(),
  FAL_BACKEND: z.enum(['auto', 'fal', 'simulator']).default('auto'),
  FAL_QUEUE_URL: httpUrl.default('https://queue.fal.run'),
  FAL_REST_URL: httpUrl.default('https://rest.fal.ai'),
  FAL_POLL_INTERVAL_MS: z.coerce.number().int().min(50).default(1000),
  SIMULATOR_PRESET: z.enum(['realistic', 'fast']).default('realistic'),
  PUBLIC_URL: httpUrl.optional(),
  FAL_JWKS_URL: httpUrl.default('https://rest.alpha.fal.ai/.well-known/jwks.json'),
  WEBHOOK_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(15_000),
  FAL_START_TIMEOUT_S: z.coerce.number().min(2).max(86_400).optional(),
  GENERATION_DEADLINE_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(3600),
  ORPHAN_AFTER_S: z.coerce.number().int().min(1).max(86_400).default(900),
  ARCHIVE_DIR: z.string().min(1).optional(),
  ARCHIVE_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  ARCHIVE_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(2 * 1024 * 1024 * 1024),
  ARCHIVE_RETRY_BASE_MS: z.coerce.number().int().min(1).default(2000),
  ARCHIVE_URL: z
    .string()
    .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/[^\s]*)?$/, 'must be s3://<bucket>/<optional prefix> (a valid bucket name)')
    .optional(),
  ARCHIVE_DELIVERY: z.enum(['proxy', 'redirect']).default('proxy'),
  ARCHIVE_PRESIGN_TTL_S: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400)
    .default(300),
  ARCHIVE_ALLOWED_HOSTS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(
            /^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/,
            'each entry must be a host name, optionally starting with "*."',
          ),
      ),
    )
    .optional(),
  S3_ENDPOINT: httpUrl.optional(),
  S3_REGION: z.string().min(1).max(64).optional(),
  AWS_REGION: z.string().min(1).max(64).optional(),
  S3_FORCE_PATH_STYLE: z.enum(['true', 'false', '1', '0']).default('false'),
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  // Exact origins only (scheme://host[:port]): a wildcard or a path would allow more than the operator meant.
  CORS_ORIGINS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((o) => o.trim())
        .filter((o) => o !== ''),
    )
    .pipe(
      z.array(
        z
          .string()
          .regex(/^https?:\/\/[^/*\s]+\/?$/, 'must be exact origins like https://app.example.com, comma-separated (no wildcard, no path)')
          .transform((o) => new URL(o).origin),
      ),
    )
    .default([]),
  REDIS_URL: z
    .string()
    .refine((u) => /^rediss?:\/\//.test(u), 'must be a redis:// or rediss:// URL')
    .optional(),
  REDIS_PREFIX: z.string().max(100).default('reelgraph:'),
  INSTANCE_ID: z.string().min(1).max(200).optional(),
  LEASE_TTL_MS: z.coerce.number().int().min(200).max(600_000).default(15_000),
  LEASE_RENEW_MS: z.coerce.number().int().min(50).max(300_000).optional(),
  LEASE_SCAN_MS: z.coerce.number().int().min(50).max(300_000).default(5_000),
  SUBSCRIPTION_REPAIR_MS: z.coerce.number().int().min(50).max(600_000).default(5_000),
  SUBSCRIPTION_BUFFER_EVENTS: z.coerce.number().int().min(16).max(1_000_000).default(1_024),
  NODE_ENV: z.string().optional(),
  ...LogEnv,
  GRAPHIQL: z.enum(['true', 'false']).optional(),
  GRAPHQL_INTROSPECTION: z.enum(['true', 'false']).optional(),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(1024 * 1024),
  WS_KEEPALIVE_MS: z.coerce.number().int().min(100).max(600_000).default(12_000),
  AUTH: z.enum(['auto', 'required']).default('auto'),
  AUTH_RECHECK_MS: z.coerce.number().int().min(50).max(600_000).default(2_000),
  QUOTA_MAX_CONCURRENT: limit(z.number().int().min(1).max(100_000)).default(20),
  QUOTA_DAILY_USD: limit(z.number().min(0).max(1_000_000)).default(100),
  QUOTA_MONTHLY_USD: limit(z.number().min(0).max(10_000_000)).default(1000),
  PRICE_PER_SECOND_USD: z.coerce.number().min(0).max(100).default(KLING_O3_STANDARD_PRICES.perSecondUsd),
  PRICE_PER_SECOND_AUDIO_USD: z.coerce.number().min(0).max(100).default(KLING_O3_STANDARD_PRICES.perSecondWithAudioUsd),
  RATE_LIMIT_PER_MINUTE: limit(z.number().min(1).max(1_000_000)).default(60),
  RATE_LIMIT_BURST: z.coerce.number().int().min(1).max(1_000_000).default(20),
  URL_SIGNING_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  VIDEO_URL_TTL_S: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(86_400),
  MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(200 * 1024 * 1024)
    .default(20 * 1024 * 1024),
  METRICS_TOKEN: z.string().min(1).max(1000).optional(),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  WEBHOOK_RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*\d{1,6}(\s*,\s*\d{1,6}){0,49}\s*$/, 'must be comma-separated whole seconds, e.g. 5,300,1800')
    .transform((v) => v.split(',').map((s) => Number(s.trim())))
    .default([5, 300, 1800, 7200, 18000, 36000, 36000]),
  WEBHOOK_ALLOW_PRIVATE_URLS: z.enum(['true', 'false']).default('false'),
  WEBHOOK_POLL_MS: z.coerce.number().int().min(10).max(600_000).default(1_000),
});

export class ConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(`Invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export const KLING_O3_STANDARD_I2V = 'fal-ai/kling-video/o3/standard/image-to-video';

/**
 * Just the log settings, never failing: the entry point needs a logger to report a bad configuration with
 * (an invalid LOG_* value falls back to its default here and is reported by loadConfig).
 */
export function loadLogSettings(env: Record<string, string | undefined>): LogSettings {
  const format = LogEnv.LOG_FORMAT.safeParse(env.LOG_FORMAT || undefined);
  const level = LogEnv.LOG_LEVEL.safeParse(env.LOG_LEVEL || undefined);
  return { format: format.success ? (format.data ?? null) : null, level: level.success ? level.data : 'info' };
}

/**
 * Parses the environment into a Config. Every problem is reported at once, each naming its variable;
 * values are never echoed (FAL_KEY and DATABASE_URL may hold secrets).
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // Empty strings count as unset: `FAL_KEY= npm start` should mean "no key", not "invalid key".
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  if (e.LEASE_RENEW_MS !== undefined && e.LEASE_RENEW_MS >= e.LEASE_TTL_MS) {
    throw new ConfigError(['LEASE_RENEW_MS: must be shorter than LEASE_TTL_MS']);
  }
  if (e.FAL_BACKEND === 'fal' && !e.FAL_KEY) {
    throw new ConfigError(['FAL_BACKEND: is "fal" but FAL_KEY is not set']);
  }
  const backend = e.FAL_BACKEND === 'auto' ? (e.FAL_KEY ? 'fal' : 'simulator') : e.FAL_BACKEND;
  if (e.ARCHIVE_DELIVERY === 'redirect' && !e.ARCHIVE_URL) {
    throw new ConfigError(['ARCHIVE_DELIVERY: "redirect" needs ARCHIVE_URL (a bucket to presign URLs for)']);
  }
  const archiveUrl = e.ARCHIVE_URL ? /^s3:\/\/([^/]+)\/?(.*)$/.exec(e.ARCHIVE_URL) : null;
  return {
    http: { port: e.PORT, host: e.HOST },
    dataDir: e.DATA_DIR,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE }
      : { kind: 'pglite', dataDir: `${e.DATA_DIR.replace(/\/+$/, '')}/pglite` },
    fal: {
      backend,
      key: e.FAL_KEY ?? null,
      queueUrl: e.FAL_QUEUE_URL,
      restUrl: e.FAL_REST_URL,
      endpointId: KLING_O3_STANDARD_I2V,
    },
    tracking: { pollIntervalMs: e.FAL_POLL_INTERVAL_MS, maxStreamFailures: 3, streamSafetyPollMs: 10_000 },
    simulator: { preset: e.SIMULATOR_PRESET },
    publicUrl: e.PUBLIC_URL ?? null,
    webhooks: { jwksUrl: e.FAL_JWKS_URL, toleranceSeconds: 300, graceMs: e.WEBHOOK_GRACE_MS },
    deadlines: {
      startTimeoutSeconds: e.FAL_START_TIMEOUT_S ?? null,
      overallSeconds: e.GENERATION_DEADLINE_S,
      orphanAfterSeconds: e.ORPHAN_AFTER_S,
    },
    archive: {
      dir: e.ARCHIVE_DIR ?? `${e.DATA_DIR.replace(/\/+$/, '')}/videos`,
      maxAttempts: e.ARCHIVE_MAX_ATTEMPTS,
      baseDelayMs: e.ARCHIVE_RETRY_BASE_MS,
      maxBytes: e.ARCHIVE_MAX_BYTES,
      s3: archiveUrl
        ? {
            bucket: archiveUrl[1],
            prefix: archiveUrl[2].replace(/^\/+|\/+$/g, ''),
            endpoint: e.S3_ENDPOINT ?? null,
            // S3-compatible services mostly ignore the region but the signature needs one.
            region: e.S3_REGION ?? e.AWS_REGION ?? (e.S3_ENDPOINT ? 'us-east-1' : null),
            forcePathStyle: e.S3_FORCE_PATH_STYLE === 'true' || e.S3_FORCE_PATH_STYLE === '1',
            credentials:
              e.AWS_ACCESS_KEY_ID && e.AWS_SECRET_ACCESS_KEY
                ? {
                    accessKeyId: e.AWS_ACCESS_KEY_ID,
                    secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
                    ...(e.AWS_SESSION_TOKEN ? { sessionToken: e.AWS_SESSION_TOKEN } : {}),
                  }
                : null,
          }
        : null,
      delivery: e.ARCHIVE_DELIVERY,
      presignTtlSeconds: e.ARCHIVE_PRESIGN_TTL_S,
      allowedHosts: e.ARCHIVE_ALLOWED_HOSTS ?? [],
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    log: { format: e.LOG_FORMAT ?? null, level: e.LOG_LEVEL },
    corsOrigins: e.CORS_ORIGINS,
    graphql: {
      graphiql: e.GRAPHIQL ? e.GRAPHIQL === 'true' : e.NODE_ENV !== 'production',
      introspection: e.GRAPHQL_INTROSPECTION ? e.GRAPHQL_INTROSPECTION === 'true' : e.NODE_ENV !== 'production',
      maxBodyBytes: e.MAX_BODY_BYTES,
      wsKeepAliveMs: e.WS_KEEPALIVE_MS,
    },
    auth: { mode: e.AUTH, recheckMs: e.AUTH_RECHECK_MS },
    quotas: {
      maxConcurrent: e.QUOTA_MAX_CONCURRENT === 'none' ? null : e.QUOTA_MAX_CONCURRENT,
      dailyBudgetMicros: e.QUOTA_DAILY_USD === 'none' ? null : usdToMicros(e.QUOTA_DAILY_USD),
      monthlyBudgetMicros: e.QUOTA_MONTHLY_USD === 'none' ? null : usdToMicros(e.QUOTA_MONTHLY_USD),
    },
    prices: { perSecondUsd: e.PRICE_PER_SECOND_USD, perSecondWithAudioUsd: e.PRICE_PER_SECOND_AUDIO_USD },
    rateLimit: e.RATE_LIMIT_PER_MINUTE === 'none' ? null : { perMinute: e.RATE_LIMIT_PER_MINUTE, burst: e.RATE_LIMIT_BURST },
    videoUrls: { signingSecret: e.URL_SIGNING_SECRET ?? null, ttlSeconds: e.VIDEO_URL_TTL_S },
    uploads: { maxBytes: e.MAX_UPLOAD_BYTES },
    redis: e.REDIS_URL ? { url: e.REDIS_URL, prefix: e.REDIS_PREFIX } : null,
    metrics: { token: e.METRICS_TOKEN ?? null },
    outboundWebhooks: {
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      retryScheduleSeconds: e.WEBHOOK_RETRY_SCHEDULE,
      allowPrivateUrls: e.WEBHOOK_ALLOW_PRIVATE_URLS === 'true',
      pollMs: e.WEBHOOK_POLL_MS,
    },
    cluster: {
      instanceId: e.INSTANCE_ID ?? null,
      leaseTtlMs: e.LEASE_TTL_MS,
      // Renew at a third of the time to live: two renewals can fail before the lease is lost.
      leaseRenewMs: e.LEASE_RENEW_MS ?? Math.max(50, Math.floor(e.LEASE_TTL_MS / 3)),
      leaseScanMs: e.LEASE_SCAN_MS,
      subscriptionRepairMs: e.SUBSCRIPTION_REPAIR_MS,
      subscriptionBufferEvents: e.SUBSCRIPTION_BUFFER_EVENTS,
    },
  };
}
