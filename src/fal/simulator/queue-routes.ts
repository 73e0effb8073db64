import type { IncomingMessage, ServerResponse } from 'node:http';
import type { createRequest, LiveRequest } from './request.ts';
import { readBody, safeHeaders, sendJson } from './http-util.ts';
import { KNOWN_ENDPOINTS, validateKlingInput } from './validation.ts';
import type { FalLogEntry, SimulatorBehaviour, SimulatorStats } from './types.ts';

/** What the queue routes need from the simulator that owns them. */
export interface QueueContext {
  origin(): string;
  stats: SimulatorStats;
  requests: Map<string, LiveRequest>;
  behaviour(): SimulatorBehaviour;
  keepaliveMs: number;
  /** Bytes of the sample clip every result points at. */
  sampleSize(): number;
  create(init: Parameters<typeof createRequest>[0]): LiveRequest;
  begin(request: LiveRequest): void;
  /** True when the request was actually stopped (queued, or running with honourCancelWhileRunning). */
  cancel(request: LiveRequest): boolean;
  /** Registers a stream's closer so stop() can end it; returns the unregister function. */
  trackStream(closeStream: () => void): () => void;
}

/** What the result endpoint answers for a completed request; webhooks report the same (protocol §7.2). */
export interface Outcome {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

const MAX_SUBMIT_BYTES = 10 * 1024 * 1024;

/** `{owner}/{alias}` of an endpoint id, with fal's namespace prefixes (protocol §1.2). */
export function appOf(endpointId: string): string {
  const parts = endpointId.split('/');
  const ns = parts[0] === 'workflows' || parts[0] === 'comfy' ? 1 : 0;
  return parts.slice(0, ns + 2).join('/');
}

/** The JS client rebuilds these URLs itself, but the Python client follows them (protocol §1.2), so they point here. */
function urls(ctx: QueueContext, request: LiveRequest) {
  const base = `${ctx.origin()}/${appOf(request.endpointId)}/requests/${request.id}`;
  return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
}

/** A status body (protocol §3): `logs` always present once running (null when not asked for), `metrics` on COMPLETED. */
export function statusBody(ctx: QueueContext, request: LiveRequest, logs: FalLogEntry[] | null): Record<string, unknown> {
  const body: Record<string, unknown> = { status: request.status, request_id: request.id, ...urls(ctx, request) };
  if (request.status === 'IN_QUEUE') body.queue_position = request.queuePosition;
  else body.logs = logs;
  if (request.status === 'COMPLETED') {
    const ran = request.startedAt === null ? 0 : (request.completedAt ?? request.startedAt) - request.startedAt;
    body.metrics = { inference_time: ran / 1000 };
  }
  return body;
}

export async function submit(ctx: QueueContext, req: IncomingMessage, res: ServerResponse, endpointId: string, url: URL): Promise<void> {
  if (!KNOWN_ENDPOINTS.has(endpointId)) return sendJson(res, 404, { detail: `Application '${endpointId}' not found` });
  const raw = await readBody(req, MAX_SUBMIT_BYTES);
  if (raw === null) return sendJson(res, 413, { detail: 'Request body too large' });
  let input: unknown;
  try {
    input = raw.length ? JSON.parse(raw.toString('utf8')) : {};
  } catch {
    return sendJson(res, 422, { detail: [{ loc: ['body'], msg: 'JSON decode error', type: 'json_invalid' }] });
  }
  const webhookUrl = url.searchParams.get('fal_webhook') ?? undefined;
  if (webhookUrl !== undefined && !URL.canParse(webhookUrl)) {
    return sendJson(res, 422, {
      detail: [{ loc: ['query', 'fal_webhook'], msg: 'Input should be a valid URL', type: 'url_parsing', input: webhookUrl }],
    });
  }
  // x-fal-request-timeout: seconds as a decimal string (protocol §1.5); anything unparsable is ignored.
  const timeout = Number(req.headers['x-fal-request-timeout']);
  const request = ctx.create({
    endpointId,
    input,
    headers: safeHeaders(req),
    webhookUrl,
    behaviour: ctx.behaviour(),
    // fal accepts the submit and reports input errors from the result endpoint after COMPLETED (protocol §11.1).
    validationErrors: validateKlingInput(input),
    startTimeoutSeconds: Number.isFinite(timeout) && timeout > 0 ? timeout : null,
  });
  ctx.requests.set(request.id, request);
  ctx.begin(request);
  sendJson(
    res,
    200,
    { status: 'IN_QUEUE', request_id: request.id, ...urls(ctx, request), queue_position: request.queuePosition },
    { 'x-fal-request-id': request.id },
  );
}

export function status(ctx: QueueContext, res: ServerResponse, request: LiveRequest, url: URL): void {
  // Polling returns every log line so far (protocol §3); 202 until COMPLETED, then 200.
  const body = statusBody(ctx, request, url.searchParams.get('logs') === '1' ? [...request.logs] : null);
  sendJson(res, request.status === 'COMPLETED' ? 200 : 202, body, { 'x-fal-request-id': request.id });
}

export function result(ctx: QueueContext, res: ServerResponse, request: LiveRequest): void {
  if (request.status !== 'COMPLETED') {
    // What fal answers here is unverified (protocol §5). Not a 2xx: the JS client would take any 2xx JSON
    // as the result. The text matches what integrations are known to look for.
    return sendJson(res, 400, { detail: 'Request is still in progress' }, { 'x-fal-request-id': request.id });
  }
  // Expiry (§5: results are kept 1 h, 6 min when large) only affects later fetches; a webhook sent at
  // completion still carried the real outcome.
  if (request.behaviour.resultExpired)
    return sendJson(res, 404, { detail: 'Request result has expired' }, { 'x-fal-request-id': request.id });
  const outcome = outcomeOf(ctx, request);
  sendJson(res, outcome.status, outcome.body, outcome.headers);
}

/**
 * The outcome of a completed request, in order of precedence: start timeout (504 + timeout type `user`,
 * protocol §9), cancellation, input validation (422, §5.1), then the configured outcome.
 */
export function outcomeOf(ctx: QueueContext, request: LiveRequest): Outcome {
  const headers = { 'x-fal-request-id': request.id };
  if (request.timedOut) {
    return {
      status: 504,
      body: { detail: 'Request timed out', error_type: 'request_timeout' },
      headers: { ...headers, 'x-fal-request-timeout-type': 'user', 'x-fal-error-type': 'request_timeout' },
    };
  }
  if (request.cancelled) return { status: 400, body: { detail: 'Request was cancelled' }, headers };
  if (request.validationErrors.length > 0) return { status: 422, body: { detail: request.validationErrors }, headers };
  const outcome = request.behaviour.outcome;
  if (outcome.kind === 'error') {
    const body = outcome.body as { error_type?: unknown } | null | undefined;
    const errorType: Record<string, string> = typeof body?.error_type === 'string' ? { 'x-fal-error-type': body.error_type } : {};
    return { status: outcome.status, body: outcome.body, headers: { ...headers, ...errorType, ...outcome.headers } };
  }
  return { status: 200, body: outputOf(ctx, request), headers };
}

/** Kling O3's output (protocol §12): `{ video: File }`, here the bundled sample clip under a per-request URL. */
export function outputOf(ctx: QueueContext, request: LiveRequest) {
  return {
    video: {
      url: `${ctx.origin()}/files/output/${request.id}/output.mp4`,
      content_type: 'video/mp4',
      file_name: 'output.mp4',
      file_size: ctx.sampleSize(),
    },
  };
}

export function cancel(ctx: QueueContext, res: ServerResponse, request: LiveRequest): void {
  // Protocol §6: 202 CANCELLATION_REQUESTED whether or not a running app stops, 400 ALREADY_COMPLETED.
  if (request.status === 'COMPLETED') return sendJson(res, 400, { status: 'ALREADY_COMPLETED' });
  ctx.cancel(request);
  sendJson(res, 202, { status: 'CANCELLATION_REQUESTED' });
}
