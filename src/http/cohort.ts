import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
import type { ServerResponse } from 'node:http';
import type { CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { isLive, MemoKey } from '../generations/live-event.ts';
import { isPushable, PUSH } from '../generations/push.ts';
import { compile, isPromise, withLocatedErrors } from './compiled-queries.ts';
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

/** What one execution of one live event for one cohort produced, with its serialisations, made once and shared. */
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
 * One execution, shared by its cohort: a promise for the pull paths, and its outcome readable synchronously once
 * settled, with one callback list, so the subscribers pushed the event (generations/push.ts) are written in one
 * loop when it settles (one promise reaction per cohort per event, not one per subscriber).
 */
class Execution {
  value: Executed | undefined;
  failed = false;
  error: unknown;
  private run: Promise<Executed> | null = null;
  private waiters: Array<() => void> | null = null;

  /** An execution still running (`run`), or one that finished synchronously (`value`): a compiled document's. */
  constructor(run: Promise<Executed> | Executed) {
    if (!isPromise(run)) {
      this.value = run;
      return;
    }
    this.run = run;
    run.then(
      (value) => {
        this.value = value;
        this.wake();
      },
      (error: unknown) => {
        this.failed = true;
        this.error = error;
        this.wake();
      },
    );
  }

  /** For the pull paths (SSE and the ordinary iterator); made on demand for one that finished synchronously. */
  get promise(): Promise<Executed> {
    return (this.run ??= Promise.resolve(this.value!));
  }

  get settled(): boolean {
    return this.value !== undefined || this.failed;
  }

  onSettled(callback: () => void) {
    (this.waiters ??= []).push(callback);
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = null;
    for (const callback of waiters ?? []) callback();
  }
}

/**
 * Cohort execution for subscriptions (graphql-ws and SSE alike): subscribers that share a document, operation,
 * variables and whatever `cohortOf` says of their context (tenant, scope, origin) get one execution per
 * live event, not one each. The domain hands every local subscriber the same LiveEvent (generations/live-event.ts),
 * so the result is memoised in that event's memo slot and dropped with it; history replayed to one subscriber
 * is a LiveEvent of its own, and anything else (not a LiveEvent) simply executes per subscriber. Ordering is
 * each subscriber's own: its stream orders its events, and its frames are written in that order.
 *
 * Serialise once: a graphql-ws subscription whose context carries a DirectSink gets its error-free results
 * written by this plugin as ready-made frames (the cohort's JSON, serialised once, behind the subscription's
 * own id), instead of passing every result through the transport's message path (a JSON.stringify and a send
 * per subscriber). Results with errors or extensions (already masked, see below) still go the ordinary way,
 * through the transport's iterator.
 *
 * Push: a stream that can push (generations/push.ts) hands a caught-up subscriber's live events to its writer as
 * the hub publishes them, so the hub's one dispatch loop queues the event for every member, and the cohort's
 * execution, when it settles, writes the frame to each of them in one loop: no iterator step, promise or
 * microtask per subscriber per event (see DirectWriter).
 *
 * Compile once: a cohort executes its document with graphql-jit's function for it (compiled-queries.ts' `compile`,
 * made when the document's first cohort opens), not graphql-js' generic executor, which walked the selection,
 * built resolve info and completed every value by type again for every event. Its answer is graphql-js' (errors
 * located the same way, then masked); a document it cannot compile, or an event it throws on, runs on graphql-js.
 * When every resolver an event reaches is synchronous (a log line, a status, a row its write carried), the
 * execution is settled as it is made, and a pushed event's frame is written inside the hub's dispatch.
 *
 * Mask once: this plugin answers envelop's subscribe itself and ends its onSubscribe hooks there
 * (setResultAndStopExecution), because the plugins after it, Yoga's masked errors and its AbortError guard,
 * would each wrap every subscriber's stream in an iterator of their own: about 2 KB and two promise hops per
 * subscriber (BENCHMARKS.md, M3). Their work is done here instead: a cohort's result is masked once per event,
 * for all of its members, and a stream's failure as it happens, with the same mask Yoga uses (`maskError`).
 */
export function useCohortExecution(options: CohortOptions): Plugin {
  const { cohortOf } = options;
  // This plugin's entry in each LiveEvent's memo: its executions by cohort (one key per plugin, so two Yoga
  // instances in one process, with different schemas, never share results).
  const results = new MemoKey<Map<string, Execution>>('cohort executions');
  const mask = options.maskError;
  // Yoga caches parsed documents, so equal document strings are one DocumentNode: its identity names it.
  const documentIds = new WeakMap<DocumentNode, number>();
  let nextDocumentId = 1;
  const documentId = (document: DocumentNode) => {
    let id = documentIds.get(document);
    if (id === undefined) documentIds.set(document, (id = nextDocumentId++));
    return id;
  };
  // Compiled forms by document and operation name, made when a document's first cohort opens: a subscription
  // document is executed once per event for as long as it is open, so compiling at once costs a few events'
  // worth of CPU once. Null where graphql-jit cannot compile it (graphql-js executes it, as before).
  const compiledForms = new WeakMap<DocumentNode, Map<string, CompiledQuery | null>>();
  const compiledFor = (args: ExecutionArgs): CompiledQuery | null => {
    let byName = compiledForms.get(args.document);
    if (!byName) compiledForms.set(args.document, (byName = new Map<string, CompiledQuery | null>()));
    const name = args.operationName ?? '';
    let entry = byName.get(name);
    if (entry === undefined) byName.set(name, (entry = compile(args.schema, args.document, args.operationName ?? undefined)));
    return entry;
  };
  // The open cohorts, each with its member count: a subscription keeps only its cohort (one object for all of
  // its members), not an executor of its own over its own arguments.
  const cohorts = new Map<string, Cohort>();

  const subscribe = async (args: ExecutionArgs) => {
    const sink = (args.contextValue as { [DIRECT_SINK]?: DirectSink } | null)?.[DIRECT_SINK];
    provideSlowSubscriberEnd(args.contextValue, sink);
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return masked(stream, mask);
    const key = [
      documentId(args.document),
      args.operationName ?? '',
      JSON.stringify(args.variableValues ?? {}),
      cohortOf(args.contextValue),
    ].join('\u0000');
    let cohort = cohorts.get(key);
    if (!cohort) cohorts.set(key, (cohort = new Cohort(key, args, compiledFor(args), results, cohorts, mask)));
    cohort.members += 1;
    if (sink) return new DirectWriter(stream, cohort, sink, mask);
    return mapAsync(stream, cohort, mask, async (event) => (await cohort.executed(event).promise).result);
  };

  return {
    onSubscribe({ args, setResultAndStopExecution }) {
      setResultAndStopExecution(subscribe(args) as unknown as ExecutionResult);
    },
  };
}

export interface CohortOptions {
  /** What of a subscription's context its results may depend on (tenant, scope, origin): its cohort's key. */
  cohortOf: (context: unknown) => string;
  /** Yoga's error mask: an original GraphQLError as it is, anything else "Unexpected error." (and logged). */
  maskError: (error: unknown) => GraphQLError;
}

/** The result with every error masked (the same object when it has none). */
function masked(result: ExecutionResult, mask: (error: unknown) => GraphQLError): ExecutionResult {
  return result.errors ? { ...result, errors: result.errors.map(mask) } : result;
}

/**
 * What the subscriptions of one cohort share: one set of execution arguments (its first member's: the cohort's
 * key says everything about the context that a result may depend on, which is why those members can share
 * results at all) and the lookup of an event's execution. Dropped when its last member ends.
 */
class Cohort {
  members = 0;
  readonly key: string;
  private readonly args: ExecutionArgs;
  private readonly results: MemoKey<Map<string, Execution>>;
  private readonly registry: Map<string, Cohort>;
  private readonly mask: (error: unknown) => GraphQLError;

  /** graphql-jit's form of the cohort's document, or null where it has none (graphql-js executes it). */
  private readonly compiled: CompiledQuery | null;

  constructor(
    key: string,
    args: ExecutionArgs,
    compiled: CompiledQuery | null,
    results: MemoKey<Map<string, Execution>>,
    registry: Map<string, Cohort>,
    mask: (error: unknown) => GraphQLError,
  ) {
    this.key = key;
    this.args = args;
    this.compiled = compiled;
    this.results = results;
    this.registry = registry;
    this.mask = mask;
  }

  /** The execution of `event` for this cohort: shared through a LiveEvent's memo, run here for anything else. */
  executed(event: unknown): Execution {
    if (event === null || typeof event !== 'object' || !isLive(event)) return this.run(event);
    const perEvent = event.memo.get(this.results, () => new Map<string, Execution>());
    let entry = perEvent.get(this.key);
    if (!entry) perEvent.set(this.key, (entry = this.run(event)));
    return entry;
  }

  /** One member ended (called once per member). */
  leave() {
    this.members -= 1;
    if (this.members === 0 && this.registry.get(this.key) === this) this.registry.delete(this.key);
  }

  private run(event: unknown): Execution {
    const compiled = this.compiled;
    if (compiled) {
      // graphql-jit's function for this document: synchronous when every resolver the event reaches is (a log
      // line, a status, a generation row its write carried), so the execution is settled as it is made and its
      // frame is written in the same turn of the hub's dispatch, with no promise in between.
      let result: ReturnType<CompiledQuery['query']>;
      try {
        result = compiled.query(event, this.args.contextValue, this.args.variableValues);
      } catch {
        // The compiled code failed where graphql-js reports errors in the result: its answer is the reference.
        return this.interpret(event);
      }
      if (isPromise(result)) return new Execution(result.then((settled) => this.finish(settled)));
      // Variables refused (no `data`): the same variables passed graphql-js when the stream started, so this
      // does not happen; graphql-js words a refusal its own way, and is asked again if it ever does.
      if (!('data' in result)) return this.interpret(event);
      return new Execution(this.finish(result));
    }
    return this.interpret(event);
  }

  /** graphql-js' executor: for a document graphql-jit cannot compile, and its reference answer otherwise. */
  private interpret(event: unknown): Execution {
    return new Execution((async () => this.finish(await execute({ ...this.args, rootValue: event })))());
  }

  private finish(result: ExecutionResult): Executed {
    return { result: masked(withLocatedErrors(result, this.args.document), this.mask), frames: new Map<string, Buffer>() };
  }
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

/** Pushed executions past this many unwritten wait in the stream's bounded inbox instead (one that never settles). */
const MAX_QUEUED = 64;

const DONE = { value: undefined, done: true } as IteratorReturnResult<undefined>;

/**
 * A graphql-ws subscription whose error-free results are written straight to its socket as ready-made frames, in
 * order. Events come two ways: pushed by the stream as the hub publishes them while the subscriber is caught up
 * (generations/push.ts: no promise or iterator step per subscriber, and the cohort's frame is written to every
 * pushed member in one loop when its execution settles), or pulled through the stream when it is not (history,
 * gaps, a slow socket), as graphql-ws pulls this iterator. Both go through one queue of executions, written in
 * order as each settles. The iterator handed to graphql-ws yields only what needs the ordinary path (a result
 * with errors or extensions, which graphql-ws must send before anything after it is written) and ends once the
 * stream ended and everything before the end is written. return() (the client's complete, or the socket
 * closing) ends the stream, and nothing is written after it.
 */
class DirectWriter implements AsyncIterableIterator<ExecutionResult> {
  private readonly iterator: AsyncIterator<unknown>;
  /** Null once this subscription ended (and left it). */
  private cohort: Cohort | null;
  private readonly sink: DirectSink;
  private readonly mask: (error: unknown) => GraphQLError;
  /** Executions whose frames are not written yet, oldest first (made on the first that must wait). */
  private queue: Execution[] | null = null;
  /** The queue's head while it is running (its onSettled is registered once). */
  private awaiting: Execution | null = null;
  /** The socket holds SLOW_CLIENT_BYTES or more: nothing more is written until it drains. */
  private slow = false;
  /** A result for graphql-ws' own path; `blocked` from then until graphql-ws asks for the next one (it sent it). */
  private handOver: ExecutionResult | null = null;
  private blocked = false;
  private failure: { error: unknown } | null = null;
  /** The stream's pending pull: its outcome is taken whenever it comes, whatever next() is doing meanwhile. */
  private step: Promise<IteratorResult<unknown>> | null = null;
  private finished = false;
  private returned = false;
  /**
   * The pending next()'s settlement. next() is no async function: an idle subscription waits in one promise of
   * graphql-ws' and one pull of the stream's, not in a suspended function with a race of two more promises each.
   */
  private resolveNext: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
  private rejectNext: ((error: unknown) => void) | null = null;
  /** The stream pull's handlers, made on the first pull and reused. */
  private stepped: ((step: IteratorResult<unknown>) => void) | null = null;
  private stepFailed: ((error: unknown) => void) | null = null;
  private flushBound: (() => void) | null = null;

  constructor(source: AsyncIterable<unknown>, cohort: Cohort, sink: DirectSink, mask: (error: unknown) => GraphQLError) {
    this.iterator = source[Symbol.asyncIterator]();
    this.cohort = cohort;
    this.sink = sink;
    this.mask = mask;
    if (isPushable(this.iterator)) this.iterator[PUSH]((event) => this.push(event));
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  next(): Promise<IteratorResult<ExecutionResult>> {
    // graphql-ws asks for the next result once it has sent the last one handed over: writing resumes behind it.
    if (this.blocked && this.handOver === null) {
      this.blocked = false;
      this.flush();
    }
    return new Promise<IteratorResult<ExecutionResult>>((resolve, reject) => {
      this.resolveNext = resolve;
      this.rejectNext = reject;
      this.advance();
    });
  }

  /**
   * Settles the pending next() when it can be (ended, failed, a hand-over, or the stream's end once everything
   * before it is written), else pulls the stream when nothing is waiting to be written; called again on every
   * change that can settle it (a pull's outcome, a write, a hand-over, the end).
   */
  private advance() {
    const resolve = this.resolveNext;
    if (resolve === null) return;
    if (this.returned) return this.settle(resolve, DONE);
    if (this.failure) {
      const reject = this.rejectNext!;
      this.resolveNext = this.rejectNext = null;
      return reject(this.failure.error);
    }
    if (this.handOver) {
      const value = this.handOver;
      this.handOver = null;
      return this.settle(resolve, { value, done: false });
    }
    if (!this.idle() || this.step !== null) return;
    if (this.finished) return this.settle(resolve, DONE);
    let step: Promise<IteratorResult<unknown>>;
    try {
      step = this.iterator.next();
    } catch (error) {
      return this.stop({ error });
    }
    this.step = step;
    this.stepped ??= (result) => {
      this.step = null;
      if (result.done) {
        this.finished = true;
        this.leave();
      } else if (this.cohort) this.enqueue(this.cohort.executed(result.value));
      this.advance();
    };
    this.stepFailed ??= (error) => {
      this.step = null;
      this.stop({ error });
    };
    step.then(this.stepped, this.stepFailed);
  }

  private settle(resolve: (result: IteratorResult<ExecutionResult>) => void, result: IteratorResult<ExecutionResult>) {
    this.resolveNext = this.rejectNext = null;
    resolve(result);
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    this.end();
    return ((await this.iterator.return?.()) ?? DONE) as IteratorResult<ExecutionResult>;
  }

  async throw(error?: unknown): Promise<IteratorResult<ExecutionResult>> {
    this.end();
    if (this.iterator.throw) return (await this.iterator.throw(error)) as IteratorResult<ExecutionResult>;
    throw error;
  }

  /** The stream's push (push.ts): false when this subscription cannot take an event now (the stream keeps it). */
  private push(event: unknown): boolean {
    if (this.slow || this.blocked || this.returned || this.failure || !this.sink.open()) return false;
    if (this.queue !== null && this.queue.length >= MAX_QUEUED) return false;
    if (!this.cohort) return false;
    this.enqueue(this.cohort.executed(event));
    return true;
  }

  private enqueue(execution: Execution) {
    if ((this.queue === null || this.queue.length === 0) && execution.settled && !this.slow && !this.blocked) this.write(execution);
    else {
      (this.queue ??= []).push(execution);
      this.flush();
    }
  }

  /** Writes the queue's settled head, in order, until one is still running, the socket is slow, or it must hand over. */
  private flush() {
    const queue = this.queue;
    while (queue !== null && queue.length > 0 && !this.slow && !this.blocked && !this.returned) {
      const head = queue[0];
      if (!head.settled) {
        if (this.awaiting !== head) {
          this.awaiting = head;
          head.onSettled((this.flushBound ??= () => this.flush()));
        }
        return;
      }
      queue.shift();
      this.write(head);
    }
    if (this.idle()) this.advance();
  }

  private write(execution: Execution) {
    if (execution.failed) return this.stop({ error: execution.error });
    const entry = execution.value!;
    entry.json ??= Object.keys(entry.result).length === 1 && entry.result.data ? JSON.stringify({ data: entry.result.data }) : null;
    // Errors or extensions: the transport sends it (graphql-ws.ts), before anything after it. So does a closing
    // socket (the transport knows what to do with it).
    if (entry.json === null || !this.sink.open()) {
      this.handOver = entry.result;
      this.blocked = true;
      this.advance();
      return;
    }
    let frame = entry.frames.get(this.sink.prefix);
    if (!frame) entry.frames.set(this.sink.prefix, (frame = Buffer.from(`${this.sink.prefix}${entry.json}}`)));
    const sent = this.sink.send(frame);
    if (sent) {
      this.slow = true;
      void sent.then(() => {
        this.slow = false;
        this.flush();
      });
    }
  }

  private stop(failure: { error: unknown }) {
    this.failure = { error: this.mask(failure.error) };
    this.leave();
    this.queue = null;
    this.advance();
  }

  private end() {
    this.returned = true;
    this.leave();
    this.queue = null;
    this.advance();
  }

  private leave() {
    this.cohort?.leave();
    this.cohort = null;
  }

  private idle() {
    return (this.queue === null || this.queue.length === 0) && !this.slow;
  }
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as AsyncIterable<unknown> | null)?.[Symbol.asyncIterator] === 'function';
}

/**
 * Maps an async iterator, passing return() and throw() through so that unsubscribing ends the source; leaves
 * `cohort` once, when the source ends or is ended, or fails (with its error masked).
 */
function mapAsync<T, U>(
  source: AsyncIterable<T>,
  cohort: Cohort,
  mask: (error: unknown) => GraphQLError,
  fn: (value: T) => U | Promise<U>,
): AsyncIterableIterator<U> {
  const iterator = source[Symbol.asyncIterator]();
  const done = { value: undefined, done: true } as IteratorReturnResult<undefined>;
  let member = true;
  const leave = () => {
    if (member) cohort.leave();
    member = false;
  };
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      try {
        const step = await iterator.next();
        if (step.done) {
          leave();
          return step;
        }
        return { value: await fn(step.value), done: false };
      } catch (error) {
        leave();
        throw mask(error);
      }
    },
    async return() {
      leave();
      return ((await iterator.return?.()) ?? done) as IteratorResult<U>;
    },
    async throw(error?: unknown) {
      leave();
      if (iterator.throw) return (await iterator.throw(error)) as IteratorResult<U>;
      throw error;
    },
  };
}
