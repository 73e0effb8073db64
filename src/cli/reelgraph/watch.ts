import type { ResultOf } from '@graphql-typed-document-node/core';
import { print, type GraphQLFormattedError } from 'graphql';
import { ServerError, subscriptionClient, type Connection } from './api.ts';
import type { Display } from './display.ts';
import { CliEventsSubscription } from './operations.ts';
import { errorMessage } from '../../lib/errors.ts';

type EventPayload = ResultOf<typeof CliEventsSubscription>['videoGenerationEvents'];

export interface Outcome {
  id: string;
  status: 'COMPLETED' | 'FAILED' | 'CANCELLED';
  videoUrl: string | null;
  error: { code: string; message: string } | null;
  lastSequence: number;
}

export interface FollowOptions {
  connection: Connection;
  id: string;
  /** Resume after this sequence number (0 = from the start). */
  afterSequence?: number;
  display: Display;
  /** Give up after the server has been unreachable this long. */
  reconnectTimeoutMs?: number;
  signal?: AbortSignal;
}

const TERMINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);
const MAX_FRUITLESS_SESSIONS = 20;

/**
 * Follows a generation to its end over graphql-ws. When the connection drops (server restarted, network), it
 * reconnects with backoff and resubscribes with afterSequence = the last sequence seen, so every event is
 * shown once, in order, with nothing missed: the server replays what happened meanwhile from its event log.
 */
export async function follow(options: FollowOptions): Promise<Outcome> {
  const { connection, id, display } = options;
  const timeoutMs = options.reconnectTimeoutMs ?? 5 * 60_000;
  let last = options.afterSequence ?? 0;
  let attempt = 0;
  let lostSince: number | null = null;
  let outcome: Outcome | null = null;
  // Sessions in a row that ended without a single new event: a server that accepts and then drops every
  // subscription would otherwise be retried for ever (each successful connect resets the reconnect clock).
  let fruitless = 0;

  while (true) {
    if (options.signal?.aborted) throw options.signal.reason;
    const client = subscriptionClient(connection);
    const stop = () => void client.dispose();
    options.signal?.addEventListener('abort', stop, { once: true });
    // Back as soon as the server acknowledges the connection: there may be nothing to replay yet.
    client.on('connected', () => {
      if (attempt > 0) display.event({ kind: 'reconnected', afterSequence: last });
      attempt = 0;
      lostSince = null;
    });
    let progressed = false;
    let connected = false;
    client.on('connected', () => {
      connected = true;
    });
    try {
      const events = client.iterate({ query: print(CliEventsSubscription), variables: { id, afterSequence: last > 0 ? last : null } });
      for await (const result of events) {
        if (result.errors?.length) throw new ServerError(result.errors.map((e) => e.message).join('; '), false);
        const event = (result.data as ResultOf<typeof CliEventsSubscription> | null | undefined)?.videoGenerationEvents;
        if (!event) continue;
        // A replay after reconnecting starts after `last`; this guard also covers a server that repeats itself.
        if (event.sequence <= last) continue;
        last = event.sequence;
        progressed = true;
        outcome = show(display, event, last) ?? outcome;
      }
      if (outcome) return outcome;
      // Completed without a terminal event: the server went away cleanly mid-stream (or the id is unknown,
      // which arrives as an error above). Resume like a dropped connection.
      throw new Retryable('the server ended the subscription');
    } catch (error) {
      if (outcome) return outcome;
      if (options.signal?.aborted) throw options.signal.reason;
      const reason = classify(error);
      if (reason.fatal) throw new ServerError(reason.message, false);
      if (progressed) fruitless = 0;
      else if (connected) fruitless += 1;
      if (fruitless >= MAX_FRUITLESS_SESSIONS) {
        throw new ServerError(`the server keeps ending the subscription without sending anything (${reason.message})`, true);
      }
      lostSince ??= Date.now();
      if (Date.now() - lostSince > timeoutMs) {
        throw new ServerError(
          `lost the connection to ${connection.url} and could not reconnect for ${Math.round(timeoutMs / 1000)} s (${reason.message})`,
          true,
        );
      }
      attempt += 1;
      display.event({ kind: 'reconnecting', attempt, afterSequence: last, reason: reason.message });
      await backoff(attempt, options.signal);
    } finally {
      options.signal?.removeEventListener('abort', stop);
      await client.dispose();
    }
  }
}

function show(display: Display, event: EventPayload, sequence: number): Outcome | null {
  if (event.__typename === 'VideoGenerationLogEvent') {
    display.event({ kind: 'log', sequence, message: event.log.message, level: event.log.level, timestamp: event.log.timestamp });
    return null;
  }
  if (event.__typename !== 'VideoGenerationStatusEvent') return null;
  display.event({ kind: 'status', sequence, status: event.status, queuePosition: event.queuePosition ?? null });
  if (!TERMINAL.has(event.status)) return null;
  const generation = event.generation;
  const outcome: Outcome = {
    id: generation.id,
    status: event.status as Outcome['status'],
    videoUrl: generation.video?.url ?? null,
    error: generation.error ?? null,
    lastSequence: sequence,
  };
  display.event({ kind: 'finished', status: outcome.status, videoUrl: outcome.videoUrl, error: outcome.error });
  return outcome;
}

class Retryable extends Error {}

/** Which failures are worth a reconnect: transport ones; not a refused key or a GraphQL error. */
function classify(error: unknown): { fatal: boolean; message: string } {
  if (error instanceof ServerError) return { fatal: !error.retryable, message: error.message };
  if (error instanceof Retryable) return { fatal: false, message: error.message };
  if (Array.isArray(error)) return { fatal: true, message: (error as GraphQLFormattedError[]).map((e) => e.message).join('; ') };
  const close = error as { code?: unknown; reason?: unknown; type?: unknown };
  if (typeof close?.code === 'number') {
    if (close.code === 4401 || close.code === 4403)
      return { fatal: true, message: `the server refused the API key (close code ${close.code}); check --api-key / REELGRAPH_API_KEY` };
    if (close.code >= 4400 && close.code < 4500 && close.code !== 4499)
      return { fatal: true, message: `the server closed the connection: ${String(close.reason || close.code)}` };
    return { fatal: false, message: `closed with code ${close.code}${close.reason ? `: ${String(close.reason)}` : ''}` };
  }
  if (close?.type === 'error') return { fatal: false, message: 'cannot connect' };
  return { fatal: false, message: errorMessage(error) };
}

/** 250 ms doubling to 4 s, with jitter so many clients do not come back in step. */
function backoff(attempt: number, signal?: AbortSignal): Promise<void> {
  const ms = Math.min(4000, 250 * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
