import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { isLive, MemoKey } from '../generations/live-event.ts';
import { END_SLOW_SUBSCRIBER, SLOW_SUBSCRIBER_CLOSE, type SlowSubscriberContext } from '../schema/subscriber.ts';

/**
 * Where a graphql-ws subscription's `next` frames can be written directly (set by the transport on the
 * subscription's context). `prefix` is the frame up to its payload (`{"id":"<id>","type":"next","payload":`).
 */
export interface DirectSink {
  prefix: string;
  /** False once the socket is closing or closed. */
  open(): boolean;
  /** Writes one complete text frame; resolves at once unless the client is slow to read (back-pressure). */
  send(frame: Buffer): void | Promise<void>;
  /** Closes the whole socket (every subscription on it) with a graphql-ws close code and reason. */
  close?(code: number, reason: string): void;
}

export const DIRECT_SINK = Symbol('reelgraph.directSink');

/** One execution of one live event for one cohort, with its serialisations, made once and shared. */
interface Executed {
  result: ExecutionResult;
  /**
   * The payload's JSON when the result can be written as a ready-made frame (data only, no errors), null when
   * it cannot; made by the first subscriber that writes frames (SSE members never need it).
   */
  json?: string | null;
  /** Whole frames by their prefix (subscription id): subscribers that chose the same id share the bytes. */
  frames: Map<string, Buffer>;
}

/**
 * Cohort execution for subscriptions (graphql-ws and SSE alike): subscribers that share a document, operation,
 * variables and whatever `cohortOf` says of their context (tenant, scope, origin) get one execution per
 * live event, not one each. The domain hands every local subscriber the same LiveEvent (generations/live-event.ts),
 * so the result is memoised in that event's memo slot and dropped with it; history replayed to one subscriber
 * is a LiveEvent of its own, and anything else (not a LiveEvent) simply executes per subscriber. Ordering is
 * untouched: each subscriber still pulls its own stream; only the work behind a `next` is shared.
 *
 * Serialise once: a graphql-ws subscription whose context carries a DirectSink gets its error-free results
 * written by this plugin as ready-made frames (the cohort's JSON, serialised once, behind the subscription's
 * own id), instead of passing every result through envelop's result hooks and graphql-ws' message path
 * (a validation, a JSON.stringify, a promise per send). Results with errors or extensions still go the
 * ordinary way, so error masking and the protocol's framing apply to them unchanged.
 */
export function useCohortExecution(cohortOf: (context: unknown) => string): Plugin {
  // This plugin's entry in each LiveEvent's memo: its executions by cohort (one key per plugin, so two Yoga
  // instances in one process, with different schemas, never share results).
  const results = new MemoKey<Map<string, Promise<Executed>>>('cohort executions');
  // Yoga caches parsed documents, so equal document strings are one DocumentNode: its identity names it.
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 1;
  const documentId = (document: DocumentNode) => {
    let id = documentIds.get(document);
    if (id === undefined) documentIds.set(document, (id = nextDocumentId++));
    return id;
  };

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(async (args: ExecutionArgs) => {
        const sink = (args.contextValue as { [DIRECT_SINK]?: DirectSink } | null)?.[DIRECT_SINK];
        provideSlowSubscriberEnd(args.contextValue, sink);
        const stream = await createSourceEventStream(args);
        if (!isAsyncIterable(stream)) return stream;
        const cohort = [
          documentId(args.document),
          args.operationName ?? '',
          JSON.stringify(args.variableValues ?? {}),
          cohortOf(args.contextValue),
        ].join('\u0000');
        const run = async (event: unknown): Promise<Executed> => {
          const result = await execute({ ...args, rootValue: event });
          return { result, frames: new Map() };
        };
        const executed = (event: unknown): Promise<Executed> => {
          if (event === null || typeof event !== 'object' || !isLive(event)) return run(event);
          const perEvent = event.memo.get(results, () => new Map<string, Promise<Executed>>());
          let entry = perEvent.get(cohort);
          if (!entry) perEvent.set(cohort, (entry = run(event)));
          return entry;
        };
        if (sink) return writeDirectly(stream, executed, sink);
        return mapAsync(stream, async (event) => (await executed(event)).result);
      });
    },
  };
}

/**
 * How a subscription's connection is ended when its subscriber fell behind its bounded buffer: graphql-ws
 * closes the socket with 4429 and a reason (every context there is one subscription's); SSE ends the response
 * (one request, one subscription), destroying it, since a client that stopped reading would never take the
 * last chunk of an orderly end. Either way the socket's buffers are released and the client can reconnect.
 */
function provideSlowSubscriberEnd(context: unknown, sink: DirectSink | undefined) {
  if (context === null || typeof context !== 'object') return;
  const res = (context as { res?: ServerResponse }).res;
  let ended = false;
  (context as SlowSubscriberContext)[END_SLOW_SUBSCRIBER] = () => {
    if (ended) return;
    ended = true;
    if (sink?.close) sink.close(SLOW_SUBSCRIBER_CLOSE.code, SLOW_SUBSCRIBER_CLOSE.reason);
    else if (res && typeof res.destroy === 'function') res.destroy();
  };
}

/**
 * Pulls the subscriber's own ordered stream and writes each error-free result straight to its socket; the
 * iterator handed back to the transport yields only what needs the ordinary path (a result with errors) and
 * ends with the stream. return() (the client's complete, or the socket closing) ends the source, and nothing
 * is written after it.
 */
function writeDirectly(
  source: AsyncIterable<unknown>,
  executed: (event: unknown) => Promise<Executed>,
  sink: DirectSink,
): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  const done = { value: undefined, done: true } as IteratorReturnResult<undefined>;
  let ended = false;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      while (!ended) {
        const step = await iterator.next();
        if (step.done) return step as IteratorResult<ExecutionResult>;
        const entry = await executed(step.value);
        if (ended) break;
        entry.json ??= Object.keys(entry.result).length === 1 && entry.result.data ? JSON.stringify({ data: entry.result.data }) : null;
        if (entry.json === null || !sink.open()) return { value: entry.result, done: false };
        let frame = entry.frames.get(sink.prefix);
        if (!frame) entry.frames.set(sink.prefix, (frame = Buffer.from(`${sink.prefix}${entry.json}}`)));
        await sink.send(frame);
      }
      return done;
    },
    async return() {
      ended = true;
      return ((await iterator.return?.()) ?? done) as IteratorResult<ExecutionResult>;
    },
    async throw(error?: unknown) {
      ended = true;
      if (iterator.throw) return (await iterator.throw(error)) as IteratorResult<ExecutionResult>;
      throw error;
    },
  };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/** Maps an async iterator, passing return() and throw() through so that unsubscribing ends the source. */
function mapAsync<T, U>(source: AsyncIterable<T>, fn: (value: T) => U | Promise<U>): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  const done = { value: undefined, done: true } as IteratorReturnResult<undefined>;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      const step = await iterator.next();
      return step.done ? step : { value: await fn(step.value), done: false };
    },
    async return() {
      return ((await iterator.return?.()) ?? done) as IteratorResult<U>;
    },
    async throw(error?: unknown) {
      if (iterator.throw) return (await iterator.throw(error)) as IteratorResult<U>;
      throw error;
    },
  };
}
