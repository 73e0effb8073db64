// A little over 250 lines: the simulator server itself (start, stop, the routes it mounts); its parts live beside it.
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createFileStore, type UploadKeeper } from './files.ts';
import { bind, sendJson } from './http-util.ts';
import { PRESETS } from './presets.ts';
import { openJournal, type Journal } from './journal.ts';
import { createLifecycle } from './lifecycle.ts';
import { createRequest, type LiveRequest } from './request.ts';
import { outcomeOf, statusBody, type QueueContext } from './queue-routes.ts';
import { createRouter } from './router.ts';
import type { FalSimulator, FaultRoute, InjectedResponse, SimulatorBehaviour, SimulatorOptions, SimulatorStats } from './types.ts';
import { createWebhookDispatcher, createWebhookSigner } from './webhooks.ts';
import { errorMessage } from '../../lib/errors.ts';

export type * from './types.ts';
export { pythonJson } from './webhooks.ts';

/**
 * A local stand-in for fal's queue API, faithful to the wire protocol in
 * shared/reference/fal-queue-protocol.md: the real `@fal-ai/client` talks to it over HTTP with its origins
 * rewritten (paths unchanged), so one server answers both the queue paths (https://queue.fal.run) and the
 * REST paths (https://rest.fal.ai). Nothing listens and no timer runs until start().
 */
export function createFalSimulator(options: SimulatorOptions = {}): FalSimulator {
  let behaviour: SimulatorBehaviour = { ...PRESETS[options.preset ?? 'realistic'], ...options.behaviour };
  const requests = new Map<string, LiveRequest>();
  const events = new EventEmitter().setMaxListeners(0);
  const stats: SimulatorStats = {
    submits: 0,
    statusPolls: 0,
    streamsOpened: 0,
    connectionsAccepted: 0,
    openConnections: 0,
    openStreams: 0,
    resultFetches: 0,
    cancels: 0,
    uploads: 0,
    webhookDeliveries: 0,
  };
  const faults = new Map<FaultRoute, InjectedResponse[]>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const streams = new Set<() => void>();
  const log = options.log ?? (() => {});
  const warn = options.warn ?? log;
  let journal: Journal | null = null;
  let server: Server | null = null;
  let origin = '';
  let sample: Buffer = Buffer.alloc(0);
  let stopped = false;

  /** Every timer goes through here, so stop() can clear them all. */
  const schedule = (fn: () => void, ms: number) => {
    if (stopped) return;
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        fn();
      },
      Math.max(0, ms),
    );
    timers.add(timer);
  };

  const signer = createWebhookSigner();
  const webhooks = createWebhookDispatcher({
    signer,
    retry: options.webhookRetry ?? { attempts: 10, baseDelayMs: 1000 },
    schedule,
    onAttempt: () => void (stats.webhookDeliveries += 1),
    log,
  });

  const lifecycle = createLifecycle({
    schedule,
    maxConcurrent: options.maxConcurrent ?? Number.POSITIVE_INFINITY,
    onUpdate(request, newLogs) {
      // Stamped before anyone is told, so benchmarks measure delivery latency from the moment of production.
      const at = performance.timeOrigin + performance.now();
      events.emit('event', { requestId: request.id, at, data: statusBody(ctx, request, newLogs) });
      if (newLogs.length > 0) for (const line of newLogs) events.emit('log', request, line);
      else events.emit('status-change', request);
    },
    onHold(request, why) {
      log(`request ${request.id} ${why}`);
    },
    onComplete(request) {
      log(`request ${request.id} completed${request.cancelled ? ' (cancelled)' : request.timedOut ? ' (start timeout)' : ''}`);
      if (request.webhookUrl) {
        request.webhookPending = true;
        journal?.save(request);
        deliverWebhook(request);
      }
    },
    persist: (request) => journal?.save(request),
  });

  /** A kept request's webhook stays pending until delivered or given up on, so a restart sends it again. */
  function deliverWebhook(request: LiveRequest): void {
    webhooks.deliver(request.webhookUrl as string, request.id, outcomeOf(ctx, request), () => {
      request.webhookPending = false;
      journal?.save(request);
    });
  }

  /** Listens on the port the previous run had (the output URLs it handed out name it), else on any. */
  async function listen(srv: Server): Promise<void> {
    const saved = options.port === undefined ? await journal?.port() : undefined;
    const host = options.host ?? '127.0.0.1';
    try {
      await bind(srv, saved ?? options.port ?? 0, host);
    } catch (error) {
      if (!saved || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      warn(`port ${saved} of the previous run is taken: output URLs handed out before the restart will not resolve`);
      await bind(srv, 0, host);
    }
  }

  /** Carries on with the requests a previous run kept (running ones first, so they keep their slots). */
  async function restore(kept: Journal): Promise<void> {
    const loaded = await kept.load();
    lifecycle.clear();
    const order = { IN_PROGRESS: 0, IN_QUEUE: 1, COMPLETED: 2 } as const;
    loaded.sort((a, b) => order[a.status] - order[b.status] || a.lastStepAt - b.lastStepAt);
    for (const request of loaded) {
      requests.set(request.id, request);
      lifecycle.restore(request);
      if (request.status === 'COMPLETED' && request.webhookPending && request.webhookUrl) deliverWebhook(request);
    }
    if (loaded.length > 0) log(`restored ${loaded.length} request(s) from ${options.stateDir}`);
  }

  const ctx: QueueContext = {
    origin: () => origin,
    stats,
    requests,
    behaviour: () => ({ ...behaviour }),
    keepaliveMs: options.keepaliveMs ?? 15_000,
    sampleSize: () => sample.length,
    create: createRequest,
    begin(request) {
      log(`request ${request.id} submitted to ${request.endpointId}`);
      lifecycle.begin(request);
      events.emit('submit', request);
    },
    cancel: (request) => lifecycle.cancel(request),
    trackStream(closeStream) {
      streams.add(closeStream);
      return () => streams.delete(closeStream);
    },
  };

  const keeper: UploadKeeper | null = options.stateDir
    ? {
        saveUpload: (token, meta, bytes) =>
          journal ? journal.saveUpload(token, meta, bytes) : Promise.reject(new Error('simulator stopped')),
        loadUpload: async (token) => (journal ? journal.loadUpload(token) : null),
      }
    : null;
  const files = createFileStore(() => origin, keeper);
  const handle = createRouter({
    ctx,
    files,
    jwks: signer.jwks,
    sample: () => sample,
    expectedKey: options.expectedKey,
    takeFault(route) {
      const next = faults.get(route)?.shift();
      if (next) events.emit('fault', route);
      return next;
    },
  });

  return {
    get url() {
      return origin;
    },
    get jwksUrl() {
      return `${origin}/.well-known/jwks.json`;
    },
    stats,
    requests,
    events,
    async start() {
      if (server) return;
      stopped = false;
      webhooks.start();
      sample = await readFile(new URL('./assets/sample.mp4', import.meta.url));
      const srv = createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
          log(`simulator error on ${req.method} ${req.url}: ${errorMessage(error)}`);
          if (!res.headersSent) sendJson(res, 500, { detail: 'Internal simulator error' });
          else res.destroy();
        });
      });
      srv.on('connection', (socket) => {
        sockets.add(socket);
        stats.connectionsAccepted += 1;
        stats.openConnections = sockets.size;
        events.emit('connections');
        socket.on('close', () => {
          sockets.delete(socket);
          stats.openConnections = sockets.size;
          events.emit('connections');
        });
      });
      if (options.stateDir) journal = await openJournal(options.stateDir, warn);
      try {
        await listen(srv);
      } catch (error) {
        await journal?.close();
        journal = null;
        throw error;
      }
      server = srv;
      const address = srv.address() as AddressInfo;
      origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      if (journal) {
        await journal.savePort(address.port);
        await restore(journal);
      }
    },
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      webhooks.stop();
      for (const closeStream of [...streams]) closeStream();
      files.clear();
      const srv = server;
      server = null;
      if (!srv) return;
      const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      await journal?.close();
      journal = null;
    },
    configure(partial) {
      behaviour = { ...behaviour, ...partial };
    },
    failNext(route, response, times = 1) {
      const queue = faults.get(route) ?? [];
      for (let i = 0; i < times; i += 1) queue.push(response);
      faults.set(route, queue);
    },
    resume(requestId) {
      const request = requests.get(requestId);
      if (request) lifecycle.resume(request);
    },
    completeNow(requestId) {
      const request = requests.get(requestId);
      if (request) lifecycle.completeNow(request);
    },
    signWebhook(body, requestId, opts = {}) {
      return signer.headers(body, requestId, opts.timestamp);
    },
  };
}
