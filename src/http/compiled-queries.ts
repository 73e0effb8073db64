import {
  getOperationAST,
  GraphQLError,
  OperationTypeNode,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type Source,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';

/** Executions of one document (by graphql-js) before it is compiled: a document sent once is never compiled. */
export const COMPILE_AFTER_EXECUTIONS = 2;

/** Per operation name of a document: how often graphql-js ran it, its compiled form, or null if it cannot have one. */
type Entry = number | CompiledQuery | null;

/**
 * Query operations a client repeats run as functions compiled for their document by graphql-jit, instead of
 * graphql-js' generic executor. A history page (M6, 50 edges of 4 fields) spent about 0.16 ms of the server's
 * CPU per request in graphql-js' per-field machinery (field collection, resolve info, completeValue by type for
 * every value, null-prototype result objects), more than the page's SQL and its result parsing; compiled, the
 * plan of fields and types is made once per document, and the same page costs about 0.04 ms in the executor.
 * Its result objects are plain literals, which V8's JSON.stringify serialises faster. Resolvers, context and
 * Yoga's masking are the same, since only the executor changes; errors are given graphql-js' form
 * (withLocatedErrors) and refused variables graphql-js' answer (executeWith), so a client cannot tell which
 * executor answered (test/e2e/compiled-queries.test.ts, test/unit/compiled-queries.test.ts).
 *
 * Queries only here. A mutation stays on graphql-js: executing generateVideo is about 1 % of its server time
 * (BENCHMARKS.md, M4), so compiling it would buy next to nothing. Subscriptions' events are executed by the
 * cohort plugin (cohort.ts), which compiles its document with the same `compile` as soon as a cohort opens. A
 * query is compiled on its COMPILE_AFTER_EXECUTIONS-th execution, not its first: compiling costs a few
 * executions' worth of CPU (0.5-2 ms for the history page), so a document sent once (or a stream of distinct
 * documents) costs only what graphql-js costs. Compiled forms are kept per DocumentNode, which Yoga's parser cache keeps the same
 * object for one query text while the text stays cached; a WeakMap lets both go together.
 *
 * A document graphql-jit cannot compile (it reports errors or throws) stays on graphql-js, whose answer for it
 * is the reference: the fallback costs nothing but the first failed attempt.
 */
export function useCompiledQueries(): Plugin {
  const entries = new WeakMap<DocumentNode, Map<string, Entry>>();
  const remember = (document: DocumentNode, key: string, entry: Entry) => {
    let byName = entries.get(document);
    if (!byName) entries.set(document, (byName = new Map<string, Entry>()));
    byName.set(key, entry);
  };
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      // Yoga types the payload loosely (any); these are graphql-js' ExecutionArgs.
      const { document, operationName: name, schema } = args as ExecutionArgs;
      const operationName = name ?? undefined;
      const key = operationName ?? '';
      const known = entries.get(document)?.get(key);
      // Not `??`: null (never to compile) must stay null.
      let entry: Entry = known === undefined ? 0 : known;
      if (typeof entry === 'number') {
        if (getOperationAST(document, operationName)?.operation !== OperationTypeNode.QUERY) entry = null;
        else if (entry + 1 < COMPILE_AFTER_EXECUTIONS) entry += 1;
        else entry = compile(schema, document, operationName);
        remember(document, key, entry);
      }
      if (entry !== null && typeof entry !== 'number') setExecuteFn(executeWith(entry, executeFn as (args: ExecutionArgs) => unknown));
    },
  };
}

export function compile(schema: ExecutionArgs['schema'], document: DocumentNode, operationName: string | undefined): CompiledQuery | null {
  try {
    const compiled = compileQuery(schema, document, operationName);
    return isCompiledQuery(compiled) ? compiled : null;
  } catch {
    return null;
  }
}

/**
 * The compiled form's answer, or graphql-js' for variables it refuses: graphql-jit words coercion errors its own
 * way ("Expected type Int; ..."), and a refused request is rare enough to run twice. A refusal is the one answer
 * without `data` (an execution always has it, null or not).
 */
function executeWith(compiled: CompiledQuery, fallback: (args: ExecutionArgs) => unknown): (args: ExecutionArgs) => unknown {
  return (args) => {
    const result = compiled.query(args.rootValue, args.contextValue, args.variableValues);
    if (isPromise(result)) return result.then((settled) => withLocatedErrors(settled, args.document));
    return 'data' in result ? withLocatedErrors(result, args.document) : fallback(args);
  };
}

export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | null)?.then === 'function';
}

/**
 * graphql-jit's errors as graphql-js makes them. Its errors carry their locations as data, not the source and
 * positions Yoga rebuilds every error from (result-processor/stringify.ts), which would lose them; a null in a
 * non-null field is its own GraphQLError, where graphql-js wraps a plain Error, which Yoga's masking then
 * answers as "Unexpected error." (a resolver's bug, not the client's). And graphql-js puts errors before data.
 */
export function withLocatedErrors<T extends ExecutionResult>(result: T, document: DocumentNode): T {
  if (!result.errors?.length) return result;
  const source = document.loc?.source;
  const errors = result.errors.map((error) => {
    if (error.nodes || error.positions || !error.locations?.length || !source) return error;
    const nullViolation = error.originalError === undefined && error.message.startsWith(NON_NULL_VIOLATION);
    return new GraphQLError(error.message, {
      source,
      positions: error.locations.map(({ line, column }) => positionOf(source, line, column)),
      path: error.path,
      originalError: nullViolation ? new Error(error.message) : error.originalError,
      extensions: error.extensions,
    });
  });
  const { errors: _jitErrors, data, ...rest } = result;
  return { errors, data, ...rest } as unknown as T;
}

/** How graphql-js and graphql-jit both begin the error for a null in a non-null field. */
const NON_NULL_VIOLATION = 'Cannot return null for non-nullable field ';

/** The offset in the source of a 1-based line and column, as graphql-js' getLocation counts them. */
function positionOf(source: Source, line: number, column: number): number {
  const lineBreak = /\r\n|[\n\r]/g;
  let start = 0;
  for (let current = 1; current < line; current += 1) {
    const found = lineBreak.exec(source.body);
    if (!found) break;
    start = found.index + found[0].length;
  }
  return start + column - 1;
}
