// Longer than most files: the one composition root, where every backend is chosen and wired (architecture.md).
import pkg from '../package.json' with { type: 'json' };
import type { Config } from './config.ts';
import { createDb, migrate, pendingMigrations, type Database } from './db/index.ts';
import { canWrite } from './db/write-probe.ts';
import { createFalConnections } from './fal/connections.ts';
import { createFalGateway } from './fal/gateway.ts';
import { createFalSimulator, type FalSimulator } from './fal/simulator/index.ts';
import type { FalGateway } from './fal/types.ts';
import { createGenerationService, type GenerationService } from './generations/service.ts';
import { bindHttpServer, createHttpServer, type HttpServer } from './http/server.ts';
import { createLogger, logGenerationEvents, type Logger } from './logger.ts';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createEventBus, type EventBus } from './pubsub/index.ts';
import { createRedisTarget } from './pubsub/redis.ts';
import type { ServerInfo } from './schema/context.ts';
import { createArchiver, type ArchiveAttempt, type Archiver } from './archive/archiver.ts';
import { createDownloader, FAL_OUTPUT_HOSTS } from './archive/download-policy.ts';
import { createFilesystemStore } from './archive/fs-store.ts';
import { createWebhookVerifier } from './fal/webhook-verifier.ts';
import { createRoutes } from './http/routes.ts';
import { createAuthenticator, isLoopback } from './auth/authenticator.ts';
import { createMutationLimiter } from './auth/rate-limit.ts';
import { createUrlSigner, loadSigningSecret } from './auth/url-signer.ts';
import { redactingLogger } from './logger.ts';
import { createFrameUploads } from './uploads/index.ts';
import { withDashboard } from './dashboard/routes.ts';
import { buildSchema } from './schema/index.ts';
import { createMetrics } from './metrics/index.ts';
import { createMetricsRoute } from './metrics/route.ts';
import { errorMessage } from './lib/errors.ts';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { createSecretBox, createWebhookDispatcher, createWebhookService, loadWebhookServerSecret } from './outbound-webhooks/index.ts';
import { createContextFactory, signedVideoPath } from './http/context.ts';
import { logStartupBanners } from './log/banners.ts';

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
  // Steps that release what start() acquired, run in reverse.
  const cleanup: Array<() => void | Promise<void>> = [];
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
      }
      // Closed after the trackers have stopped (cleanup runs in reverse), and before the simulator.
      const connections = createFalConnections();
      cleanup.push(() => connections.close());
      const fal: FalGateway = simulator
        ? createFalGateway({ key: null, queueUrl: simulator.url, restUrl: simulator.url, fetch: connections.fetch, metrics })
        : createFalGateway({
            key: config.fal.key,
            queueUrl: config.fal.queueUrl,
            restUrl: config.fal.restUrl,
            fetch: connections.fetch,
            metrics,
          });

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
        redisPing = () => redis.ping();
      } else {
        bus = createEventBus();
      }
      const instanceId = config.cluster.instanceId ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
      // The archive store: a bucket when ARCHIVE_URL is set (nothing is then written under ARCHIVE_DIR), else ARCHIVE_DIR.
      // Loaded only when used: the AWS SDK adds about half a second to every start-up.
      const s3 = config.archive.s3 ? (await import('./archive/s3-store.ts')).createS3Store(config.archive.s3) : null;
      if (s3) cleanup.push(() => Promise.resolve(s3.close()));
      const archiveStore = s3 ?? createFilesystemStore(config.archive.dir);
      // Downloads come from fal's hosts, the configured fal origins (the simulator's in simulator mode) and ARCHIVE_ALLOWED_HOSTS.
      const downloader = createDownloader({
        allowedHosts: [...FAL_OUTPUT_HOSTS, ...config.archive.allowedHosts],
        falOrigins: simulator ? [simulator.url] : [config.fal.queueUrl, config.fal.restUrl],
      });
      const uploads = createFrameUploads({ fal, maxBytes: config.uploads.maxBytes });
      const archiver = createArchiver({
        db: database.prisma,
        store: archiveStore,
        downloader,
        maxAttempts: config.archive.maxAttempts,
        baseDelayMs: config.archive.baseDelayMs,
        maxBytes: config.archive.maxBytes,
        logger,
        metrics,
      });
      cleanup.push(() => archiver.stop());
      const generations = createGenerationService({
        db: database.prisma,
        sql: database,
        fal,
        bus,
        backend,
        endpointId: config.fal.endpointId,
        tracking: config.tracking,
        logger,
        deadlines: config.deadlines,
        webhookUrl: (id) => (config.publicUrl ? `${config.publicUrl}/webhooks/fal?generation=${id}` : null),
        uploads,
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
      // The logger and the archiver follow the domain's events; archive progress is announced to dashboards.
      const announceArchive = (a: ArchiveAttempt) => void generations.announceUpdated(a.generationId).catch(() => undefined);
      archiver.events.on('attempt', announceArchive);
      const unsubscribe = [logGenerationEvents(generations.events, logger), archiver.follow(generations.events)];
      cleanup.push(() => {
        unsubscribe.forEach((off) => off());
        archiver.events.off('attempt', announceArchive);
        return Promise.resolve();
      });

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
      cleanup.push(() => Promise.resolve(auth.stop()));
      const { limiter, close: closeLimiter } = await createMutationLimiter(config.rateLimit, config.redis, logger);
      cleanup.push(closeLimiter);
      const signer = createUrlSigner(await loadSigningSecret(database.prisma, config.videoUrls.signingSecret), config.videoUrls.ttlSeconds);
      const webhookBox = createSecretBox(await loadWebhookServerSecret(database.prisma));
      const webhooks = createWebhookService({
        db: database.prisma,
        box: webhookBox,
        allowPrivateUrls: config.outboundWebhooks.allowPrivateUrls,
      });
      const context = createContextFactory({
        db: database.prisma,
        sql: database,
        generations,
        server: info,
        publicUrl: config.publicUrl,
        limiter,
        signer,
        uploads: createFrameUploads({ fal, maxBytes: config.uploads.maxBytes }),
        webhooks,
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
          return generations.mayReadVideo(outcome.identity.caller, generationId);
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
        wsKeepAliveMs: config.graphql.wsKeepAliveMs,
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
      const dispatcher = createWebhookDispatcher({
        db: database.prisma,
        box: webhookBox,
        settings: config.outboundWebhooks,
        instanceId,
        logger,
        registry: metrics.registry,
        generationGlobalId: (id) => encodeGlobalID('VideoGeneration', id),
        videoUrl: (id) => `${config.publicUrl ?? new URL(url).origin}${signedVideoPath(signer, id)}`,
      });
      dispatcher.start();
      cleanup.push(() => dispatcher.stop());
      await logStartupBanners(
        logger,
        config,
        { auth, db: database.prisma },
        {
          version: pkg.version,
          url,
          backend,
          databaseKind: database.kind,
          archiveDescription: archiveStore.description,
          archiveInBucket: s3 !== null,
          instanceId,
        },
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
      const step = cleanup.pop() as () => void | Promise<void>;
      try {
        await step();
      } catch (error) {
        logger.error(`while stopping: ${errorMessage(error)}`);
      }
    }
  }

  return { start, stop };
}
