import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { createFileStore, serveBytes } from './files.ts';
import { sendJson } from './http-util.ts';
import { createLifecycle, createRequest, type LiveRequest } from './lifecycle.ts';
import { appOf, cancel, outputOf, result, status, statusBody, stream, submit, type QueueContext } from './queue-routes.ts';
import type { FalSimulator, FaultRoute, InjectedResponse, SimulatorBehaviour, SimulatorOptions, SimulatorStats } from './types.ts';
import { createWebhookSigner, pythonJson } from './webhooks.ts';

export type * from './types.ts';
export { pythonJson } from './webhooks.ts';

const PRESETS: Record<'realistic' | 'fast', SimulatorBehaviour> = {
  // About 15 s end to end, so a person watching GraphiQL sees every stage.
  realistic: { queuePosition: 3, queueStepMs: 1000, logCount: 8, logIntervalMs: 1000, completeDelayMs: 1000, outcome: { kind: 'success' } },
  fast: { queuePosition: 2, queueStepMs: 5, logCount: 5, logIntervalMs: 5, completeDelayMs: 5, outcome: { kind: 'success' } },
};

/**
 * A local stand-in for fal's queue API, faithful to ../shared/reference/fal-queue-protocol.md: the real
 * `@fal-ai/client` talks to it over HTTP with its origins rewritten (paths unchanged), so one server answers
 * both the queue paths (https://queue.fal.run) and the REST paths (https://rest.fal.ai).
 */
export function createFalSimulator(options: SimulatorOptions = {}): FalSimulator {
  let behaviour: SimulatorBehaviour = { ...PRESETS[options.preset ?? 'realistic'], ...options.behaviour };
  const requests = new Map<string, LiveRequest>();
  const events = new EventEmitter().setMaxListeners(0);
  const stats: SimulatorStats = { submits: 0, statusPolls: 0, streamsOpened: 0, openStreams: 0, resultFetches: 0, cancels: 0, uploads: 0, webhookDeliveries: 0 };
  const faults = new Map<FaultRoute, InjectedResponse[]>();
  const timers = new Set<NodeJS.Timeout>();
  const sockets = new Set<Socket>();
  const streams = new Set<() => void>();
  const signer = createWebhookSigner();
  const webhookRetry = options.webhookRetry ?? { attempts: 10, baseDelayMs: 1000 };
  const maxConcurrent = options.maxConcurrent ?? Number.POSITIVE_INFINITY;
  let server: Server | null = null;
  let origin = '';
  let sample: Buffer = Buffer.alloc(0);
  let stopped = false;
  const log = options.log ?? (() => {});

  const schedule = (fn: () => void, ms: number) => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      fn();
    }, Math.max(0, ms));
    timers.add(timer);
  };

  const lifecycle = createLifecycle({
    schedule,
    canStart: () => [...requests.values()].filter((r) => r.status === 'IN_PROGRESS').length < maxConcurrent,
    onUpdate(request, newLogs) {
      const at = performance.timeOrigin + performance.now();
      events.emit('event', { requestId: request.id, at, data: statusBody(ctx, request, newLogs) });
      if (newLogs.length > 0) for (const line of newLogs) events.emit('log', request, line);
      else events.emit('status-change', request);
    },
    onComplete(request) {
      if (request.webhookUrl) void deliverWebhook(request, 1);
    },
  });

  const files = createFileStore(() => origin);
  const ctx: QueueContext = {
    origin: () => origin,
    stats,
    requests,
    behaviour: () => ({ ...behaviour }),
    keepaliveMs: options.keepaliveMs ?? 15_000,
    sampleSize: () => sample.length,
    begin: (request) => {
      lifecycle.begin(request);
      events.emit('submit', request);
    },
    cancel: (request) => lifecycle.cancel(request),
    create: createRequest,
    trackStream: (closeStream) => {
      streams.add(closeStream);
      return () => streams.delete(closeStream);
    },
  };

  /** fal retries failed deliveries (10 attempts over ~2 h, protocol §7.1); tests shorten the schedule. */
  async function deliverWebhook(request: LiveRequest, attempt: number): Promise<void> {
    if (stopped || !request.webhookUrl) return;
    const body = pythonJson(webhookPayload(request));
    try {
      const response = await fetch(request.webhookUrl, { method: 'POST', headers: signer.headers(body, request.id), body });
      stats.webhookDeliveries += 1;
      if (response.ok) return;
      log(`webhook for ${request.id} answered ${response.status}`);
    } catch (error) {
      log(`webhook for ${request.id} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (attempt < webhookRetry.attempts) schedule(() => void deliverWebhook(request, attempt + 1), webhookRetry.baseDelayMs * 2 ** (attempt - 1));
  }

  function webhookPayload(request: LiveRequest) {
    const base = { request_id: request.id, gateway_request_id: request.id };
    if (request.timedOut) return { ...base, status: 'ERROR', error: 'Invalid status code: 504', payload: { detail: 'Request timed out' } };
    if (request.cancelled) return { ...base, status: 'ERROR', error: 'Invalid status code: 400', payload: { detail: 'Request was cancelled' } };
    if (request.validationErrors.length > 0) return { ...base, status: 'ERROR', error: 'Invalid status code: 422', payload: { detail: request.validationErrors } };
    const outcome = request.behaviour.outcome;
    if (outcome.kind === 'error') return { ...base, status: 'ERROR', error: `Invalid status code: ${outcome.status}`, payload: outcome.body };
    return { ...base, status: 'OK', error: null, payload: outputOf(ctx, request) };
  }

  function injected(route: FaultRoute, res: ServerResponse): boolean {
    const queue = faults.get(route);
    const next = queue?.shift();
    if (!next) return false;
    events.emit('fault', route);
    if (next.rawBody !== undefined) res.writeHead(next.status, { 'content-type': 'text/html', ...next.headers }).end(next.rawBody);
    else sendJson(res, next.status, next.body ?? { detail: 'Injected failure' }, next.headers);
    return true;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';

    if (method === 'GET' && url.pathname === '/.well-known/jwks.json') return sendJson(res, 200, signer.jwks);
    if ((method === 'GET' || method === 'HEAD') && parts[0] === 'files' && parts[1] === 'output' && parts.length === 4) {
      if (injected('file', res)) return;
      return requests.has(parts[2]) ? serveBytes(req, res, sample, 'video/mp4') : sendJson(res, 404, { detail: 'File not found' });
    }
    if ((method === 'GET' || method === 'HEAD') && parts[0] === 'files' && parts[1] === 'uploads' && parts.length === 4) return files.serveUpload(req, res, parts[2]);
    if (parts[0] === 'storage' && parts[1] === 'upload') {
      if (method === 'POST' && parts[2] === 'initiate') {
        stats.uploads += 1;
        if (injected('upload', res)) return;
        return files.initiate(req, res);
      }
      if (method === 'PUT' && parts[2] === 'put' && parts[3]) return files.put(req, res, parts[3]);
    }

    if (options.expectedKey !== undefined && req.headers.authorization !== `Key ${options.expectedKey}`) {
      return sendJson(res, 401, { detail: 'No user found for Key ID and Secret' });
    }

    const ns = parts[0] === 'workflows' || parts[0] === 'comfy' ? 1 : 0;
    const rest = parts.slice(ns + 2);
    if (method === 'POST' && parts.length >= ns + 2 && rest[0] !== 'requests') {
      if (injected('submit', res)) {
        stats.submits += 1;
        return;
      }
      return submit(ctx, req, res, parts.join('/'), url);
    }
    if (rest[0] === 'requests' && rest[1]) {
      const request = requests.get(rest[1]);
      const route: FaultRoute | null =
        method === 'GET' && rest.length === 2 ? 'result'
        : method === 'GET' && rest[2] === 'status' && rest.length === 3 ? 'status'
        : method === 'GET' && rest[2] === 'status' && rest[3] === 'stream' ? 'stream'
        : method === 'PUT' && rest[2] === 'cancel' ? 'cancel'
        : null;
      if (route && injected(route, res)) {
        if (route === 'stream') stats.streamsOpened += 1;
        else if (route === 'status') stats.statusPolls += 1;
        else if (route === 'result') stats.resultFetches += 1;
        else stats.cancels += 1;
        return;
      }
      // Status, result and cancel URLs carry only owner/alias (protocol §1.2): the app must match.
      if (!request || appOf(request.endpointId) !== parts.slice(0, ns + 2).join('/')) {
        return route === 'cancel' ? sendJson(res, 404, { status: 'NOT_FOUND' }) : sendJson(res, 404, { detail: 'Request not found' });
      }
      if (route === 'result') return result(ctx, res, request);
      if (route === 'status') return status(ctx, res, request, url);
      if (route === 'stream') return stream(ctx, req, res, request, url);
      if (route === 'cancel') return cancel(ctx, res, request);
    }
    sendJson(res, 404, { detail: 'Not found' });
  }

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
      sample = await readFile(new URL('./assets/sample.mp4', import.meta.url));
      server = createServer((req, res) => {
        handle(req, res).catch((error: unknown) => {
          log(`simulator error: ${error instanceof Error ? error.message : String(error)}`);
          if (!res.headersSent) sendJson(res, 500, { detail: 'Internal simulator error' });
          else res.destroy();
        });
      });
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      const srv = server;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
      });
      const address = srv.address() as AddressInfo;
      origin = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    },
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const closeStream of [...streams]) closeStream();
      files.clear();
      const srv = server;
      server = null;
      if (!srv) return;
      const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
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
