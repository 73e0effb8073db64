// A little over 250 lines: every call this server makes to fal goes through @fal-ai/client here, in one place.
import { ApiError, createFalClient, ValidationError } from '@fal-ai/client';
import type { FalOperation, MetricsSink } from '../metrics/types.ts';
import { FalRequestError, type FalGateway, type FalLogLine, type FalResult, type FalStatus } from './types.ts';
import { createStatusStreamTap, followStatusStream } from './status-stream.ts';
import { numberOrNull, stringOrNull, videoFileOf } from './webhook-payload.ts';

export interface FalGatewayOptions {
  /** fal API key; null sends no Authorization header (the simulator needs none). */
  key: string | null;
  /** Where https://queue.fal.run and https://rest.fal.ai requests really go (paths unchanged). */
  queueUrl: string;
  restUrl: string;
  /** How requests reach fal (connections.ts); the process-wide fetch when absent. */
  fetch?: typeof fetch;
  /** Counts every request by operation and outcome (reelgraph_fal_requests_total). */
  metrics?: Pick<MetricsSink, 'falRequest'>;
}

const QUEUE_ORIGIN = 'https://queue.fal.run';
const REST_ORIGIN = 'https://rest.fal.ai';

/**
 * The fal gateway over the official client. The client has no base-URL setting (protocol §1.1), so origins
 * are rewritten in a request middleware; storage PUTs go to the upload_url the server hands out (§8, §10).
 */
export function createFalGateway(options: FalGatewayOptions): FalGateway {
  const rewrite = (url: string): string => {
    if (url.startsWith(QUEUE_ORIGIN)) return options.queueUrl + url.slice(QUEUE_ORIGIN.length);
    if (url.startsWith(REST_ORIGIN)) return options.restUrl + url.slice(REST_ORIGIN.length);
    return url;
  };
  const tap = createStatusStreamTap(options.fetch);
  const client = createFalClient({
    fetch: tap.fetch,
    // A resolver, not a string: the client's default resolver would read FAL_KEY from process.env itself.
    credentials: () => options.key ?? undefined,
    suppressLocalCredentialsWarning: true,
    requestMiddleware: (request) => Promise.resolve({ ...request, url: rewrite(request.url) }),
  });

  return counted(options.metrics, {
    async submit(endpointId, input, submitOptions = {}) {
      let submitted;
      try {
        submitted = await client.queue.submit(endpointId, {
          input: input as never,
          webhookUrl: submitOptions.webhookUrl,
          startTimeout: submitOptions.startTimeoutSeconds,
        });
      } catch (error) {
        if (error instanceof ApiError) {
          const { code, message, httpStatus } = describeApiError(error);
          throw new FalRequestError(code, message, httpStatus);
        }
        // Never pass the transport error's text on: it can carry the origin we were redirected to.
        throw new FalRequestError('FAL_UNREACHABLE', 'could not reach fal (network error)', null);
      }
      return { requestId: submitted.request_id, queuePosition: numberOrNull(submitted.queue_position) };
    },

    async status(endpointId, requestId, statusOptions = {}) {
      return toStatus(await client.queue.status(endpointId, { requestId, logs: statusOptions.logs ?? true }));
    },

    async streamStatus(endpointId, requestId, onStatuses, signal) {
      const stream = await client.queue.streamStatus(endpointId, { requestId, logs: true });
      // FalStream rejects its internal done() promise on every error; we listen to 'error' instead, so mark
      // that promise handled or each failed stream would surface as an unhandled rejection.
      stream.done().catch(() => {});
      return new Promise<FalStatus | null>((resolve, reject) => {
        let settled = false;
        const settle = () => {
          settled = true;
          signal.removeEventListener('abort', onAbort);
        };
        const onAbort = () => {
          if (settled) return;
          settle();
          stream.abort();
          resolve(null);
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        // An OK event stream reached FalStream with an empty body (status-stream.ts), so it is done at once:
        // the real body is read here. Without one (another content type, protocol §4.2) FalStream's own
        // reading applies: its chunks are not statuses, and an empty answer ends with no status.
        stream.on('done', () => {
          const body = tap.take(stream.signal);
          if (settled) return void body?.cancel().catch(() => {});
          settle();
          if (!body) return resolve(null);
          followStatusStream(body, toStatus, onStatuses, signal, stream.requestId).then(resolve, reject);
        });
        stream.on('data', (raw: unknown) => {
          if (settled) return;
          settle();
          stream.abort();
          try {
            toStatus(raw);
            reject(new Error('fal sent a status stream that is not an event stream'));
          } catch (error) {
            reject(asError(error));
          }
        });
        stream.on('error', (error: unknown) => {
          if (settled) return;
          settle();
          reject(asError(error));
        });
      });
    },

    async result(endpointId, requestId): Promise<FalResult> {
      try {
        const result = await client.queue.result(endpointId, { requestId });
        const video = videoFileOf(result.data);
        if (!video)
          return { ok: false, code: 'FAL_INVALID_OUTPUT', message: 'fal returned a result without a video file', httpStatus: 200 };
        return { ok: true, video };
      } catch (error) {
        if (error instanceof ApiError) return { ok: false, ...describeApiError(error) };
        throw error;
      }
    },

    async cancel(endpointId, requestId) {
      try {
        await client.queue.cancel(endpointId, { requestId });
        return 'requested';
      } catch (error) {
        // Protocol §6: 400 {"status":"ALREADY_COMPLETED"}, 404 NOT_FOUND.
        if (error instanceof ApiError && error.status === 400) return 'already-completed';
        if (error instanceof ApiError && error.status === 404) return 'not-found';
        throw error;
      }
    },

    async upload(file, fileName) {
      // The client takes the file name from File.name (protocol §8); a Blob would get "<Date.now()>.<subtype>".
      const named = file instanceof File && file.name === fileName ? file : new File([file], fileName, { type: file.type });
      try {
        return await client.storage.upload(named);
      } catch (error) {
        if (error instanceof ApiError) {
          const { code, message, httpStatus } = describeApiError(error);
          throw new FalRequestError(code, message, httpStatus);
        }
        throw new FalRequestError('FAL_UNREACHABLE', 'could not reach fal storage (network error)', null);
      }
    },
  });
}

/**
 * Counts each call once it settles: `ok` when fal answered as the protocol allows (a cancel's 400/404
 * included, a stream we aborted ourselves included), `error` for an error answer, no answer or a result
 * without a video.
 */
function counted(metrics: Pick<MetricsSink, 'falRequest'> | undefined, gateway: FalGateway): FalGateway {
  if (!metrics) return gateway;
  const count = <T>(operation: FalOperation, call: Promise<T>, ok: (value: T) => boolean = () => true): Promise<T> =>
    call.then(
      (value) => {
        metrics.falRequest(operation, ok(value) ? 'ok' : 'error');
        return value;
      },
      (error: unknown) => {
        metrics.falRequest(operation, 'error');
        throw error;
      },
    );
  return {
    submit: (...args) => count('submit', gateway.submit(...args)),
    status: (...args) => count('status', gateway.status(...args)),
    streamStatus: (...args) => count('stream', gateway.streamStatus(...args)),
    result: (...args) => count('result', gateway.result(...args), (result) => result.ok),
    cancel: (...args) => count('cancel', gateway.cancel(...args)),
    upload: (...args) => count('upload', gateway.upload(...args)),
  };
}

/** Turns fal's error bodies (protocol §5.1) into a code and a message a person can act on. */
export function describeApiError(error: ApiError<unknown>): { code: string; message: string; httpStatus: number } {
  const body = error.body as { detail?: unknown; error_type?: unknown } | undefined;
  if (error instanceof ValidationError || error.status === 422) {
    const details = Array.isArray(body?.detail) ? (body.detail as Array<Record<string, unknown>>) : [];
    const parts = details.map((d) => {
      const loc = Array.isArray(d.loc) ? d.loc.filter((p) => p !== 'body').join('.') : '';
      return loc ? `${loc}: ${textOf(d.msg)}` : textOf(d.msg);
    });
    const message = parts.length > 0 ? parts.join('; ') : typeof body?.detail === 'string' ? body.detail : error.message;
    const type = details.find((d) => typeof d.type === 'string')?.type;
    return { code: type === 'content_policy_violation' ? 'FAL_CONTENT_POLICY' : 'FAL_VALIDATION_ERROR', message, httpStatus: error.status };
  }
  const detail = typeof body?.detail === 'string' ? body.detail : error.message;
  const errorType = typeof body?.error_type === 'string' ? body.error_type : null;
  if (error.isUserTimeout) return { code: 'FAL_START_TIMEOUT', message: detail, httpStatus: error.status };
  return { code: errorType ? `FAL_${errorType.toUpperCase()}` : `FAL_HTTP_${error.status}`, message: detail, httpStatus: error.status };
}

function toStatus(raw: unknown): FalStatus {
  if (!raw || typeof raw !== 'object') throw new Error('fal sent a status that is not an object');
  const body = raw as Record<string, unknown>;
  const logs = Array.isArray(body.logs) ? body.logs.map(toLogLine) : [];
  switch (body.status) {
    case 'IN_QUEUE':
      return { status: 'IN_QUEUE', queuePosition: numberOrNull(body.queue_position), logs };
    case 'IN_PROGRESS':
      return { status: 'IN_PROGRESS', logs };
    case 'COMPLETED':
      return { status: 'COMPLETED', logs, error: stringOrNull(body.error) };
    default:
      throw new Error(`fal sent an unknown status ${JSON.stringify(body.status)}`);
  }
}

function toLogLine(raw: unknown): FalLogLine {
  const line = (raw ?? {}) as Record<string, unknown>;
  // The usual case, a well-formed line, is kept as parsed (one object fewer per line on the status stream).
  if (typeof line.message === 'string' && typeof line.level === 'string' && typeof line.timestamp === 'string')
    return line as unknown as FalLogLine;
  return {
    message: textOf(line.message),
    level: typeof line.level === 'string' ? line.level : 'INFO',
    timestamp: typeof line.timestamp === 'string' ? line.timestamp : new Date().toISOString(),
  };
}

/** A value fal sent where text belongs, as text (an object as its JSON, not "[object Object]"). */
function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

/** The client rejects with its ApiError; anything else thrown is wrapped, so callers always get an Error. */
const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
