import pkg from '../package.json' with { type: 'json' };
import type { Config } from './config.ts';
import { createDb, migrate, pendingMigrations, type Database } from './db/index.ts';
import { canWrite } from './db/write-probe.ts';
import { createFalGateway } from './fal/gateway.ts';
import { createFalSimulator, type FalSimulator } from './fal/simulator/index.ts';
import type { FalGateway } from './fal/types.ts';
import { createGenerationService, type GenerationService } from './generations/service.ts';
import { bindHttpServer, createHttpServer, type ConnectionInfo, type HttpServer } from './http/server.ts';
import { createLogger, type Logger } from './logger.ts';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createEventBus, type EventBus } from './pubsub/index.ts';
import { createRedisTarget } from './pubsub/redis.ts';
import type { GraphQLContext, ServerInfo } from './schema/context.ts';
import type { IncomingMessage } from 'node:http';
import { createArchiver, type Archiver } from './archive/archiver.ts';
import { createDownloader, FAL_OUTPUT_HOSTS } from './archive/download-policy.ts';
import { createFilesystemStore } from './archive/fs-store.ts';
import { createWebhookVerifier } from './fal/webhook-verifier.ts';
import type { GenerationUpdatedMessage } from './generations/events.ts';
import { createRoutes } from './http/routes.ts';
import { createAuthenticator, isLoopback } from './auth/authenticator.ts';
import { createRateLimiter, createSharedRateLimiter } from './auth/rate-limit.ts';
import { createUrlSigner, loadSigningSecret } from './auth/url-signer.ts';
import { RateLimitedError } from './generations/errors.ts';
import { visibleTo } from './generations/service.ts';
import { redactingLogger } from './logger.ts';
import { createFrameUploads } from './uploads/index.ts';
import { withDashboard } from './dashboard/routes.ts';
import { topics } from './pubsub/index.ts';
import { buildSchema } from './schema/index.ts';
import { createMetrics } from './metrics/index.ts';
import { createMetricsRoute } from './metrics/route.ts';
import { errorMessage } from './lib/errors.ts';

export interface AppOptions {
  logger?: Logger;
  /**
   * A simulator the caller runs (tests drive its faults); used when config.fal.backend is "simulator".
   * Without it the app starts and stops its own.
   */
  simulator?: FalSimulator;
}

export interface RunningApp {
  /** The GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql */
  url: string;
  port: number;
  database: Database;
  generations: GenerationService;
  simulator: FalSimulator | null;
  archiver: Archiver;
  info: ServerInfo;
}

export interface App {
  start(): Promise<RunningApp>;
  /** Releases everything start() acquired, in reverse order; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * The composition root: the only place that knows which database, pub/sub and fal origin were chosen.
 * Nothing happens until start().
 */
export function createApp(config: Config, options: AppOptions = {}): App {
  // Whatever reaches the log passes through redaction: the fal key, API keys and Authorization values.
  const logger = redactingLogger(options.logger ?? createLogger({ format: config.log.format ?? 'json', level: config.log.level }), [
    config.fal.key,
    config.archive.s3?.credentials?.secretAccessKey,
  ]);
  const cleanup: Array<() => Promise<void>> = [];
  let running: RunningApp | null = null;

  async function start(): Promise<RunningApp> {
    if (running) return running;
    try {
      // The port first: a taken one fails at once, before seconds of database work.
      const bound = await bindHttpServer(config.http.port, config.http.host);
      cleanup.push(() => new Promise((resolve) => bound.close(() => resolve())));
      const metrics = createMetrics();
      const backend = config.fal.backend === 'simulator' ? 'SIMULATOR' : 'FAL';
      let simulator: FalSimulator | null = null;
      let fal: FalGateway;
      if (backend === 'SIMULATOR') {
        simulator = options.simulator ?? null;
        if (!simulator) {
          // Its jobs are kept in DATA_DIR, so a restart finishes what was in flight, as with fal itself.
          const own = createFalSimulator({
            preset: config.simulator.preset,
            stateDir: join(config.dataDir, 'simulator'),
            warn: (line) => logger.warn(`fal simulator: ${line}`),
          });
          await own.start();
          cleanup.push(() => own.stop());
          simulator = own;
        }
        fal = createFalGateway({ key: null, queueUrl: simulator.url, restUrl: simulator.url, metrics });
      } else {
        fal = createFalGateway({ key: config.fal.key, queueUrl: config.fal.queueUrl, restUrl: config.fal.restUrl, metrics });
      }

      const database = await createDb(config.database);
      cleanup.push(() => database.close());
      const { applied } = await migrate(database, { log: (line) => logger.info(line) });
      if (applied.length > 0) logger.info(`applied ${applied.length} migration(s): ${applied.join(', ')}`);

      let bus: EventBus;
      let redisPing: (() => Promise<boolean>) | null = null;
      if (config.redis) {
        const redis = await createRedisTarget(config.redis.url);
        cleanup.push(() => redis.close());
        bus = createEventBus(redis.target, config.redis.prefix);
        redisPing = redis.ping;
      } else {
        bus = createEventBus();
      }
      const instanceId = config.cluster.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
      const announce = async (generationId: string) => {
        const row = await database.prisma.generation.findUnique({ where: { id: generationId }, select: { tenantId: true } });
        if (row) bus.publish<GenerationUpdatedMessage>(topics.generationsUpdated, { id: generationId, tenantId: row.tenantId });
      };
      // The archive store: a bucket when ARCHIVE_URL is set (nothing is then written under ARCHIVE_DIR), else ARCHIVE_DIR.
      // Loaded only when used: the AWS SDK adds about half a second to every start-up.
      const s3 = config.archive.s3 ? (await import('./archive/s3-store.ts')).createS3Store(config.archive.s3) : null;
      if (s3) cleanup.push(async () => s3.close());
      const archiveStore = s3 ?? createFilesystemStore(config.archive.dir);
      // Downloads come from fal's hosts, the configured fal origins (the simulator's in simulator mode) and ARCHIVE_ALLOWED_HOSTS.
      const downloader = createDownloader({
        allowedHosts: [...FAL_OUTPUT_HOSTS, ...config.archive.allowedHosts],
        falOrigins: simulator ? [simulator.url] : [config.fal.queueUrl, config.fal.restUrl],
      });
      const archiver = createArchiver({
        db: database.prisma,
        store: archiveStore,
        downloader,
        maxAttempts: config.archive.maxAttempts,
        baseDelayMs: config.archive.baseDelayMs,
        maxBytes: config.archive.maxBytes,
        logger,
        metrics,
        onChange: (id) => void announce(id).catch(() => undefined),
      });
      cleanup.push(() => archiver.stop());
      const generations = createGenerationService({
        db: database.prisma,
        fal,
        bus,
        backend,
        endpointId: config.fal.endpointId,
        tracking: config.tracking,
        logger,
        deadlines: config.deadlines,
        webhookUrl: (id) => (config.publicUrl ? `${config.publicUrl}/webhooks/fal?generation=${id}` : null),
        onCompleted: (id) => archiver.enqueue(id),
        instanceId,
        lease: { ttlMs: config.cluster.leaseTtlMs, renewMs: config.cluster.leaseRenewMs, scanMs: config.cluster.leaseScanMs },
        subscriptionRepairMs: config.cluster.subscriptionRepairMs,
        subscriptionBufferEvents: config.cluster.subscriptionBufferEvents,
        webhookGraceMs: config.publicUrl ? config.webhooks.graceMs : 0,
        prices: config.prices,
        quotas: config.quotas,
        metrics,
      });
      cleanup.push(() => generations.stop());

      const auth = createAuthenticator({
        db: database.prisma,
        mode: config.auth.mode,
        host: config.http.host,
        recheckMs: config.auth.recheckMs,
        logger,
      });
      auth.start();
      const info: ServerInfo = {
        falBackend: backend,
        endpointId: config.fal.endpointId,
        version: pkg.version,
        authRequired: async () => !(await auth.isOpen()),
      };
      cleanup.push(async () => auth.stop());
      // With Redis one bucket per key for the whole cluster; without it, this process's own buckets.
      const shared =
        config.rateLimit && config.redis
          ? await createSharedRateLimiter({
              ...config.rateLimit,
              redisUrl: config.redis.url,
              keyPrefix: `${config.redis.prefix}ratelimit`,
              logger,
            })
          : null;
      if (shared) cleanup.push(() => shared.close());
      const limiter = shared ?? (config.rateLimit ? createRateLimiter(config.rateLimit) : null);
      const signer = createUrlSigner(await loadSigningSecret(database.prisma, config.videoUrls.signingSecret), config.videoUrls.ttlSeconds);
      const uploads = createFrameUploads({ fal, maxBytes: config.uploads.maxBytes });
      const context = (request: IncomingMessage | Request, connection: ConnectionInfo): GraphQLContext => ({
        db: database.prisma,
        generations,
        caller: connection.identity.caller,
        server: info,
        publicOrigin: config.publicUrl ?? originOf(request),
        limitMutation: async () => {
          if (!limiter) return;
          const decision = await limiter.take(connection.identity.keyId ?? `tenant:${connection.identity.caller.tenantId}`);
          connection.setHeader('RateLimit-Limit', String(decision.limit));
          connection.setHeader('RateLimit-Remaining', String(decision.remaining));
          connection.setHeader('RateLimit-Reset', String(decision.resetSeconds));
          if (!decision.allowed) {
            connection.setHeader('Retry-After', String(decision.retryAfterSeconds));
            throw new RateLimitedError(decision.retryAfterSeconds);
          }
        },
        videoPath: (generationId) => {
          const path = `/videos/${generationId}.mp4`;
          return `${path}?${signer.sign(path)}`;
        },
        uploads,
      });
      // In simulator mode webhooks are signed with the simulator's key, so that is the JWKS to trust.
      const verifier = createWebhookVerifier({
        jwksUrl: simulator ? simulator.jwksUrl : config.webhooks.jwksUrl,
        toleranceSeconds: config.webhooks.toleranceSeconds,
      });
      const routes = createRoutes({
        db: database.prisma,
        archive: {
          store: archiveStore,
          delivery: config.archive.delivery,
          presignTtlSeconds: config.archive.presignTtlSeconds,
          mayRedirectTo: (url) => downloader.refusal(url) === null,
        },
        generations,
        verifier,
        logger,
        ready: async () => ({
          // A write, not SELECT 1: a full disk or a read-only database must make this instance unready.
          database: await canWrite(database),
          migrations: (await pendingMigrations(database).catch(() => ['unknown'])).length === 0,
          ...(redisPing ? { redis: await redisPing() } : {}),
        }),
        mayReadVideo: async (request, url, generationId) => {
          if (signer.verify(url.pathname, url.searchParams.get('expires'), url.searchParams.get('sig'))) return true;
          const outcome = await auth.authenticate(request.headers.get('authorization'));
          if (!outcome.ok) return false;
          const row = await database.prisma.generation.findFirst({
            where: { id: generationId, ...visibleTo(outcome.identity.caller) },
            select: { id: true },
          });
          return row !== null;
        },
      });
      const metricsRoute = createMetricsRoute({
        registry: metrics.registry,
        loopback: isLoopback(config.http.host),
        token: config.metrics.token,
      });
      const http: HttpServer = createHttpServer({
        schema: buildSchema(),
        context,
        auth,
        logger,
        graphiql: config.graphql.graphiql,
        introspection: config.graphql.introspection,
        maxBodyBytes: config.graphql.maxBodyBytes,
        // Two frames and the rest of the form.
        maxUploadBodyBytes: 2 * config.uploads.maxBytes + config.graphql.maxBodyBytes,
        routes: withDashboard(async (request) => (await metricsRoute(request)) ?? routes(request), {
          imageOrigins: simulator ? [simulator.url] : [],
        }),
        metrics,
        shutdownTimeoutMs: config.shutdownTimeoutMs,
        corsOrigins: config.corsOrigins,
        publicUrl: config.publicUrl,
        server: bound,
      });
      const { url, port } = await http.listen(config.http.port, config.http.host);
      cleanup.push(() => http.close());

      await generations.recover();
      await archiver.resume();
      if (backend === 'SIMULATOR') {
        logger.warn('*** fal SIMULATOR in use: no FAL_KEY is set, so every video is SIMULATED, not generated by fal.ai ***');
      }
      if (await auth.isOpen()) {
        logger.warn(
          `AUTH OPEN: no API key exists and the server listens on loopback (${config.http.host}), so requests need no key. Create one (npm run keys -- create --tenant <name> --name <label>) and every request will need one.`,
        );
      } else {
        logger.info(
          `auth: API key required on every operation (${config.auth.mode === 'required' ? 'AUTH=required' : isLoopback(config.http.host) ? 'API keys exist' : `listening on ${config.http.host}, not loopback`})`,
        );
        if ((await database.prisma.apiKey.count({ where: { revokedAt: null } })) === 0) {
          logger.warn(
            'no API key exists yet: every request will be refused until one is created (npm run keys -- create --tenant <name> --name <label>)',
          );
        }
      }
      logger.info(`archived videos: ${archiveStore.description}${s3 ? ` (delivery: ${config.archive.delivery})` : ''}`);
      const dashboardUrl = new URL('/', url).href;
      logger.info(
        `reelgraph ${pkg.version} listening on ${url}, dashboard at ${dashboardUrl} (fal backend: ${backend}, database: ${database.kind}, pub/sub: ${config.redis ? 'redis' : 'in-process'}, instance ${instanceId})`,
        { url, dashboardUrl, instanceId },
      );
      running = { url, port, database, generations, simulator, archiver, info };
      return running;
    } catch (error) {
      await stop();
      throw error;
    }
  }

  async function stop(): Promise<void> {
    running = null;
    // Reverse order: stop accepting requests, then stop trackers, then close the database and simulator.
    while (cleanup.length > 0) {
      const step = cleanup.pop() as () => Promise<void>;
      try {
        await step();
      } catch (error) {
        logger.error(`while stopping: ${errorMessage(error)}`);
      }
    }
  }

  return { start, stop };
}

/** The origin a client used to reach us (for absolute URLs when PUBLIC_URL is not set). */
function originOf(request: IncomingMessage | Request): string {
  if (request instanceof Request) return new URL(request.url).origin;
  const host = request.headers.host ?? 'localhost';
  return `http://${host}`;
}
