import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LiveRequest, RequestUpdate } from './lifecycle.ts';
import { readBody, safeHeaders, sendJson } from './http-util.ts';
import { KNOWN_ENDPOINTS, validateKlingInput } from './validation.ts';
import type { FalLogEntry, SimulatorBehaviour, SimulatorStats } from './types.ts';

export interface QueueContext {
  origin(): string;
  stats: SimulatorStats;
  requests: Map<string, LiveRequest>;
  behaviour(): SimulatorBehaviour;
  keepaliveMs: number;
  /** Bytes of the sample clip every result points at. */
  sampleSize(): number;
  begin(request: LiveRequest): void;
  cancel(request: LiveRequest): void;
  create(init: Parameters<typeof import('./lifecycle.ts').createRequest>[0]): LiveRequest;
  /** Registers a stream's closer so stop() can end it; returns the unregister function. */
  trackStream(closeStream: () => void): () => void;
}

/** `{owner}/{alias}` of an endpoint id, with fal's namespace prefixes (protocol §1.2). */
export function appOf(endpointId: string): string {
  const parts = endpointId.split('/');
  const ns = parts[0] === 'workflows' || parts[0] === 'comfy' ? 1 : 0;
  return parts.slice(0, ns + 2).join('/');
}

function urls(ctx: QueueContext, request: LiveRequest) {
  const base = `${ctx.origin()}/${appOf(request.endpointId)}/requests/${request.id}`;
  return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
}

/** A status body (protocol §3): `logs` always present once running (null when not asked for). */
export function statusBody(ctx: QueueContext, request: LiveRequest, logs: FalLogEntry[] | null): Record<string, unknown> {
  const body: Record<string, unknown> = { status: request.status, request_id: request.id, ...urls(ctx, request) };
  if (request.status === 'IN_QUEUE') body.queue_position = request.queuePosition;
  else body.logs = logs;
  if (request.status === 'COMPLETED') {
    body.metrics = { inference_time: ((request.completedAt ?? 0) - (request.startedAt ?? request.completedAt ?? 0)) / 1000 };
  }
  return body;
}

export async function submit(ctx: QueueContext, req: IncomingMessage, res: ServerResponse, endpointId: string, url: URL): Promise<void> {
  ctx.stats.submits += 1;
  if (!KNOWN_ENDPOINTS.has(endpointId)) return sendJson(res, 404, { detail: `Application '${endpointId}' not found` });
  const raw = await readBody(req, 10 * 1024 * 1024);
  if (raw === null) return sendJson(res, 413, { detail: 'Request body too large' });
  let input: unknown;
  try {
    input = raw.length ? JSON.parse(raw.toString('utf8')) : {};
  } catch {
    return sendJson(res, 422, { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
  }
  const timeout = req.headers['x-fal-request-timeout'];
  const request = ctx.create({
    endpointId,
    input,
    headers: safeHeaders(req),
    webhookUrl: url.searchParams.get('fal_webhook') ?? undefined,
    behaviour: ctx.behaviour(),
    validationErrors: validateKlingInput(input),
    startTimeoutSeconds: typeof timeout === 'string' && Number(timeout) > 0 ? Number(timeout) : null,
  });
  ctx.requests.set(request.id, request);
  ctx.begin(request);
  sendJson(res, 200, { status: 'IN_QUEUE', request_id: request.id, ...urls(ctx, request), queue_position: request.queuePosition }, { 'x-fal-request-id': request.id });
}

export function status(ctx: QueueContext, res: ServerResponse, request: LiveRequest, url: URL): void {
  ctx.stats.statusPolls += 1;
  // Polling returns every log line so far (protocol §3).
  const body = statusBody(ctx, request, url.searchParams.get('logs') === '1' ? [...request.logs] : null);
  sendJson(res, request.status === 'COMPLETED' ? 200 : 202, body, { 'x-fal-request-id': request.id });
}

/**
 * The SSE status stream (protocol §4): the current state first, then one event per change carrying only new
 * log lines, keep-alive comments, and the connection closed right after COMPLETED. A reconnecting client gets
 * no log history (what real fal replays is unverified; polling is the way to catch up).
 */
export function stream(ctx: QueueContext, req: IncomingMessage, res: ServerResponse, request: LiveRequest, url: URL): void {
  ctx.stats.streamsOpened += 1;
  ctx.stats.openStreams += 1;
  request.streamConnections += 1;
  const withLogs = url.searchParams.get('logs') === '1';
  const { dropStreamAfterEvents, streamNeverCloses } = request.behaviour;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-fal-request-id': request.id });
  let sent = 0;
  let closed = false;
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), ctx.keepaliveMs);
  const close = (graceful: boolean) => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    request.updates.off('update', onUpdate);
    ctx.stats.openStreams -= 1;
    untrack();
    if (graceful) res.end();
    else res.destroy();
  };
  const send = (logs: FalLogEntry[]) => {
    res.write(`data: ${JSON.stringify(statusBody(ctx, request, withLogs ? logs : null))}\n\n`);
    sent += 1;
    if (request.status === 'COMPLETED' && !streamNeverCloses) return close(true);
    if (dropStreamAfterEvents !== undefined && sent >= dropStreamAfterEvents) close(false);
  };
  const delay = request.behaviour.streamDelayMs ?? 0;
  const onUpdate = ({ newLogs }: RequestUpdate) => {
    if (delay <= 0) return send(newLogs);
    const status = statusBody(ctx, request, withLogs ? newLogs : null);
    setTimeout(() => {
      if (closed) return;
      res.write(`data: ${JSON.stringify(status)}\n\n`);
      sent += 1;
      if (status.status === 'COMPLETED' && !streamNeverCloses) close(true);
    }, delay);
  };
  const untrack = ctx.trackStream(() => close(false));
  request.updates.on('update', onUpdate);
  req.on('close', () => close(false));
  send([]);
}

export function result(ctx: QueueContext, res: ServerResponse, request: LiveRequest): void {
  ctx.stats.resultFetches += 1;
  const headers = { 'x-fal-request-id': request.id };
  if (request.status !== 'COMPLETED') return sendJson(res, 400, { detail: 'Request is still in progress' }, headers);
  if (request.timedOut) {
    return sendJson(res, 504, { detail: 'Request timed out', error_type: 'request_timeout' }, { ...headers, 'x-fal-request-timeout-type': 'user', 'x-fal-error-type': 'request_timeout' });
  }
  if (request.cancelled) return sendJson(res, 400, { detail: 'Request was cancelled' }, headers);
  if (request.behaviour.resultExpired) return sendJson(res, 404, { detail: 'Request result has expired' }, headers);
  if (request.validationErrors.length > 0) return sendJson(res, 422, { detail: request.validationErrors }, headers);
  const outcome = request.behaviour.outcome;
  if (outcome.kind === 'error') {
    const body = outcome.body as { error_type?: unknown } | undefined;
    const errorType: Record<string, string> = typeof body?.error_type === 'string' ? { 'x-fal-error-type': body.error_type } : {};
    return sendJson(res, outcome.status, outcome.body, { ...headers, ...errorType, ...outcome.headers });
  }
  sendJson(res, 200, outputOf(ctx, request), headers);
}

export function outputOf(ctx: QueueContext, request: LiveRequest) {
  return {
    video: { url: `${ctx.origin()}/files/output/${request.id}/output.mp4`, content_type: 'video/mp4', file_name: 'output.mp4', file_size: ctx.sampleSize() },
  };
}

export function cancel(ctx: QueueContext, res: ServerResponse, request: LiveRequest): void {
  ctx.stats.cancels += 1;
  // Protocol §6: 202 CANCELLATION_REQUESTED, 400 ALREADY_COMPLETED.
  if (request.status === 'COMPLETED') return sendJson(res, 400, { status: 'ALREADY_COMPLETED' });
  ctx.cancel(request);
  sendJson(res, 202, { status: 'CANCELLATION_REQUESTED' });
}
