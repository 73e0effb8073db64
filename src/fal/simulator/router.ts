import type { IncomingMessage, ServerResponse } from 'node:http';
import type { createFileStore } from './files.ts';
import { serveBytes } from './files.ts';
import { sendJson } from './http-util.ts';
import { appOf, cancel, result, status, submit, type QueueContext } from './queue-routes.ts';
import { stream } from './sse.ts';
import type { FaultRoute, InjectedResponse, SimulatorStats } from './types.ts';

export interface RouterDeps {
  ctx: QueueContext;
  files: ReturnType<typeof createFileStore>;
  jwks: unknown;
  /** The sample clip every result points at (loaded by start()). */
  sample(): Buffer;
  /** The next injected response for a route, if any (failNext). */
  takeFault(route: FaultRoute): InjectedResponse | undefined;
  /** When set, queue requests must carry `Authorization: Key <expectedKey>`. */
  expectedKey?: string;
}

/** Every hit of a route counts, injected, unknown id or not: the client's retries are what tests look at. */
const STAT_OF: Record<FaultRoute, keyof SimulatorStats | null> = {
  submit: 'submits',
  status: 'statusPolls',
  stream: 'streamsOpened',
  result: 'resultFetches',
  cancel: 'cancels',
  upload: 'uploads',
  file: null,
};

/**
 * One origin serves what the client sends to https://queue.fal.run (queue paths, protocol §1.2) and to
 * https://rest.fal.ai (storage, §8), plus the files and JWKS that fal serves from elsewhere.
 */
export function createRouter(deps: RouterDeps) {
  const { ctx, files } = deps;

  /** Serves an injected response instead of the route's own, when one is queued for it. */
  function injected(route: FaultRoute, res: ServerResponse): boolean {
    const stat = STAT_OF[route];
    if (stat) ctx.stats[stat] += 1;
    const next = deps.takeFault(route);
    if (!next) return false;
    if (next.rawBody !== undefined) res.writeHead(next.status, { 'content-type': 'text/html', ...next.headers }).end(next.rawBody);
    else sendJson(res, next.status, next.body ?? { detail: 'Injected failure' }, next.headers);
    return true;
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://simulator');
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      return sendJson(res, 400, { detail: 'Malformed path' });
    }
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';

    if (read && url.pathname === '/.well-known/jwks.json') return sendJson(res, 200, deps.jwks);
    if (read && parts[0] === 'files' && parts.length === 4) {
      if (parts[1] === 'output') {
        if (injected('file', res)) return;
        return ctx.requests.has(parts[2])
          ? serveBytes(req, res, deps.sample(), 'video/mp4')
          : sendJson(res, 404, { detail: 'File not found' });
      }
      if (parts[1] === 'uploads') return files.serveUpload(req, res, parts[2]);
    }
    if (parts[0] === 'storage' && parts[1] === 'upload') {
      const [, , step, token, sub] = parts;
      if (method === 'POST' && (step === 'initiate' || step === 'initiate-multipart') && parts.length === 3) {
        if (injected('upload', res)) return;
        return files.initiate(req, res, step === 'initiate' ? 'single' : 'multipart');
      }
      if (method === 'PUT' && step === 'put' && token && parts.length === 4) return files.put(req, res, token);
      if (method === 'PUT' && step === 'multipart' && token && sub && parts.length === 5)
        return files.putPart(req, res, token, Number(sub));
      if (method === 'POST' && step === 'multipart' && token && sub === 'complete') return files.complete(req, res, token);
    }

    if (deps.expectedKey !== undefined && req.headers.authorization !== `Key ${deps.expectedKey}`) {
      return sendJson(res, 401, { detail: 'No user found for Key ID and Secret' });
    }

    // Endpoint ids: owner/alias/path, with an optional workflows|comfy namespace in front (protocol §1.2).
    const ns = parts[0] === 'workflows' || parts[0] === 'comfy' ? 1 : 0;
    const app = parts.slice(0, ns + 2).join('/');
    const rest = parts.slice(ns + 2);
    if (method === 'POST' && parts.length >= ns + 2 && rest[0] !== 'requests') {
      if (injected('submit', res)) return;
      return submit(ctx, req, res, parts.join('/'), url);
    }
    if (rest[0] === 'requests' && rest[1]) {
      const route: FaultRoute | null =
        method === 'GET' && rest.length === 2
          ? 'result'
          : method === 'GET' && rest[2] === 'status' && rest.length === 3
            ? 'status'
            : method === 'GET' && rest[2] === 'status' && rest[3] === 'stream' && rest.length === 4
              ? 'stream'
              : method === 'PUT' && rest[2] === 'cancel' && rest.length === 3
                ? 'cancel'
                : null;
      if (route === null) return sendJson(res, 404, { detail: 'Not found' });
      if (injected(route, res)) return;
      const request = ctx.requests.get(rest[1]);
      // Status, result and cancel URLs carry only owner/alias (protocol §1.2): the app must match the submit's.
      if (!request || appOf(request.endpointId) !== app) {
        // Cancel answers in its own vocabulary (protocol §6); the others in FastAPI's `detail` form.
        return route === 'cancel' ? sendJson(res, 404, { status: 'NOT_FOUND' }) : sendJson(res, 404, { detail: 'Request not found' });
      }
      if (route === 'result') return result(ctx, res, request);
      if (route === 'status') return status(ctx, res, request, url);
      if (route === 'stream') return stream(ctx, res, request, url);
      return cancel(ctx, res, request);
    }
    sendJson(res, 404, { detail: 'Not found' });
  };
}
