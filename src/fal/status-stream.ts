/**
 * Reads fal's status stream (protocol §4) ourselves, for speed: FalStream parses every event through
 * eventsource-parser, decodes chunks one read-promise chain at a time, emits per event and buffers every event for
 * an async iterator we never use. The client still makes the request (URL, auth, middleware, retries, its
 * errors for non-OK answers); only the body of an OK event stream is taken from it, through its `fetch` option.
 */
import { ApiError } from '@fal-ai/client';
import { SseDataParser } from './sse-parser.ts';
import type { FalStatus } from './types.ts';

const EVENT_STREAM = 'text/event-stream';
/** Statuses read but not yet handed over at which reading pauses (a few seconds of one busy stream). */
export const MAX_PENDING = 100;

export interface StatusStreamTap {
  /** The `fetch` to give createFalClient. */
  fetch: typeof fetch;
  /** The body of the OK event stream fetched with this abort signal (FalStream's), once; undefined if none. */
  take(signal: AbortSignal): ReadableStream<Uint8Array> | undefined;
}

/**
 * Wraps fetch so that the body of an OK `text/event-stream` answer to a status-stream request is kept aside,
 * keyed by the request's abort signal (the FalStream's own, `stream.signal`), and the client gets the same answer
 * with an empty body: FalStream then reads nothing and emits `done` at once, which is the cue to take the body.
 * Every other answer (non-OK, other content types, other requests) passes through untouched.
 */
export function createStatusStreamTap(base: typeof fetch = globalThis.fetch): StatusStreamTap {
  const bodies = new WeakMap<AbortSignal, ReadableStream<Uint8Array>>();
  const tapped: typeof fetch = async (input, init) => {
    const response = await base(input, init);
    const signal = init?.signal;
    if (!signal || !response.ok || !response.body) return response;
    if (!(response.headers.get('content-type') ?? '').startsWith(EVENT_STREAM)) return response;
    bodies.set(signal, response.body);
    return new Response('', { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return {
    fetch: tapped,
    take(signal) {
      const body = bodies.get(signal);
      bodies.delete(signal);
      return body;
    },
  };
}

/**
 * Follows an event-stream body, handing the statuses to onStatuses in order: everything one network chunk
 * carries goes over in one call, and chunks that arrive while a call is still running go together in the next.
 * While MAX_PENDING statuses wait for the handler, reading pauses (TCP backpressure instead of an unbounded queue).
 * Resolves with the last status when the server closes the stream, null when `signal` aborts; rejects when the
 * handler, the connection or an event fails (after handing over what came before it, so nothing read is lost).
 */
export function followStatusStream(
  body: ReadableStream<Uint8Array>,
  toStatus: (raw: unknown) => FalStatus,
  onStatuses: (statuses: FalStatus[]) => Promise<void>,
  signal: AbortSignal,
  requestId: string | null,
): Promise<FalStatus | null> {
  const reader = body.getReader();
  let pending: FalStatus[] = [];
  let handing: Promise<void> | null = null;
  let handlerFailed = false;
  let handlerError: unknown;
  const stop = () => void reader.cancel().catch(() => {});
  const handOver = async () => {
    try {
      while (pending.length > 0 && !signal.aborted) {
        const batch = pending;
        pending = [];
        await onStatuses(batch);
      }
    } catch (error) {
      handlerFailed = true;
      handlerError = error;
      stop();
    } finally {
      handing = null;
    }
  };
  const kick = () => {
    // handOver always awaits the handler at least once here, so its `finally` runs after this assignment.
    if (!handing && pending.length > 0 && !signal.aborted) handing = handOver();
  };
  signal.addEventListener('abort', stop, { once: true });

  const read = async (): Promise<FalStatus | null> => {
    const decoder = new TextDecoder();
    const parser = new SseDataParser();
    const events: string[] = [];
    let last: FalStatus | null = null;
    let failure: { error: unknown } | null = null;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) parser.push(decoder.decode(), events);
        else parser.push(decoder.decode(value, { stream: true }), events);
        if (events.length > 0 && !signal.aborted && !handlerFailed) {
          try {
            for (const data of events) {
              const status = toStatus(JSON.parse(data));
              pending.push(status);
              last = status;
            }
          } catch (error) {
            // Non-JSON data or an unknown status: FalStream rejects with the parse error itself (§4.3).
            failure = { error };
            stop();
          }
          events.length = 0;
          kick();
        }
        if (done || failure || handlerFailed || signal.aborted) break;
        // The handler is this far behind: stop reading until it takes them, so TCP holds the rest, not memory.
        while (handing && pending.length >= MAX_PENDING) await handing;
      }
    } catch (error) {
      // The connection failed mid-stream; FalStream reports that as an ApiError with status 500.
      if (!signal.aborted)
        failure = {
          error:
            error instanceof ApiError ? error : new ApiError({ message: messageOf(error), status: 500, requestId: requestId ?? undefined }),
        };
    }
    // Never cut a write in half: let the handler finish what it has (all of it, unless aborted) before settling.
    while (handing) await handing;
    signal.removeEventListener('abort', stop);
    if (handlerFailed) throw asError(handlerError);
    if (signal.aborted) return null;
    if (failure) throw asError(failure.error);
    return last;
  };
  return read();
}

const messageOf = (error: unknown): string => (error instanceof Error && error.message ? error.message : 'An unknown error occurred');
const asError = (error: unknown): Error => (error instanceof Error ? error : new Error(String(error)));
