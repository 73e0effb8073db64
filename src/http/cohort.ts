import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Cohort execution for subscriptions (graphql-ws and SSE alike): subscribers that share a document, operation,
 * variables and whatever `cohortOf` says of their context (tenant, scope, origin) get one execution per
 * live event, not one each. The domain hands every local subscriber of a generation the same event object
 * (generations/subscriptions.ts), so the result is memoised on that object and dropped with it; history
 * replayed to one subscriber is a fresh object per subscriber and simply executes as before. Ordering is
 * untouched: each subscriber still pulls its own stream; only the work behind a `next` is shared.
 */
export function useCohortExecution(cohortOf: (context: unknown) => string): Plugin {
  const results = new WeakMap<object, Map<string, Promise<ExecutionResult> | ExecutionResult>>();
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
        const stream = await createSourceEventStream(args);
        if (!isAsyncIterable(stream)) return stream;
        const cohort = [documentId(args.document), args.operationName ?? '', JSON.stringify(args.variableValues ?? {}), cohortOf(args.contextValue)].join('\u0000');
        const run = (event: unknown) => execute({ ...args, rootValue: event });
        return mapAsync(stream, (event) => {
          if (event === null || typeof event !== 'object') return run(event);
          let perEvent = results.get(event);
          if (!perEvent) results.set(event, (perEvent = new Map()));
          let result = perEvent.get(cohort);
          if (!result) perEvent.set(cohort, (result = run(event)));
          return result;
        });
      });
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
